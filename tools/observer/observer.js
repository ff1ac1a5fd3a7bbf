// The observer page: one EventSource for the sections that are open, plain
// DOM built with textContent (node data never becomes markup).

const $ = (sel) => document.querySelector(sel);
let source;
let allowWrite = false;
/** Tree panels the user collapsed, kept across re-renders. */
const collapsed = new Set();

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function openSections() {
  return [...document.querySelectorAll('details[data-section]')].filter((d) => d.open).map((d) => d.dataset.section);
}

/** (Re)subscribe to exactly the open sections: a closed panel costs the nodes nothing. */
function subscribe() {
  source?.close();
  const view = openSections();
  const link = $('#link');
  if (view.length === 0) {
    link.dataset.state = 'idle';
    link.textContent = 'nothing open';
    return;
  }
  source = new EventSource(`/events?view=${view.join(',')}`);
  source.addEventListener('hello', (m) => {
    allowWrite = JSON.parse(m.data).allowWrite === true;
    $('#mode').textContent = allowWrite ? 'writes allowed' : 'read-only';
    link.dataset.state = 'live';
    link.textContent = 'live';
  });
  source.addEventListener('section', (m) => {
    const { section, data } = JSON.parse(m.data);
    render[section]?.(data);
    document.body.dataset[`${section}Seen`] = String(Number(document.body.dataset[`${section}Seen`] ?? 0) + 1);
  });
  source.onerror = () => {
    link.dataset.state = 'lost';
    link.textContent = 'reconnecting';
  };
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

const render = {
  nodes(nodes) {
    fill(
      $('#nodes tbody'),
      nodes.map((n) =>
        el(
          'tr',
          { 'data-node': n.node },
          el('td', { text: n.node }),
          el('td', { class: `status ${n.status}`, text: n.status }),
          el('td', { text: n.check ?? '' }),
          el('td', { text: n.transport ?? '' }),
          el('td', { text: n.actors ?? '' }),
          el('td', { text: n.instances ?? '' }),
          el('td', { text: n.write ? 'yes' : 'no' }),
        ),
      ),
    );
  },

  tree(trees) {
    const box = $('#tree');
    box.replaceChildren(...trees.map((t) => panel(`node:${t.node}`, `node ${t.node}`, el('ul', { class: 'tree' }, ...t.supervisors.map((s) => supervisor(t.node, s))))));
  },

  services({ services, instances }) {
    $('#graph').replaceChildren(graph(services));
    fill(
      $('#instances tbody'),
      instances.map((i) =>
        el(
          'tr',
          { 'data-instance': i.instance, 'data-service': i.service },
          el('td', { text: i.instance }),
          el('td', { text: i.service }),
          el('td', { text: i.node }),
          el('td', { class: `state ${i.state}`, text: i.state }),
          el('td', { class: 'mailbox', text: `${i.mailbox.depth}/${i.mailbox.capacity}` }),
          el('td', { class: 'restarts', text: String(i.restarts) }),
          el('td', { text: String(i.processed) }),
          el(
            'td',
            {},
            el('button', { class: 'check', text: 'Check', onclick: () => ask('check', i.actor, `Check ${i.actor}`) }),
            el('button', { class: 'status', text: 'Status', onclick: () => ask('status', i.actor, `Status ${i.actor}`) }),
            allowWrite ? el('button', { class: 'restart', text: 'Restart', onclick: () => ask('restart', i.instance, `Restart ${i.instance}`) }) : null,
          ),
        ),
      ),
    );
  },

  decisions(rows) {
    fill(
      $('#decisions tbody'),
      rows
        .slice()
        .reverse()
        .map((d) =>
          el(
            'tr',
            {},
            el('td', { text: d.node }),
            el('td', { text: String(d.seq) }),
            el('td', { text: d.supervisor }),
            el('td', { text: d.childId }),
            el('td', { text: d.reason }),
            el('td', { text: d.error ?? '' }),
            el('td', { class: 'directive', text: d.directive }),
            el('td', { text: d.rule }),
          ),
        ),
    );
  },
};

/** A collapsible panel whose open state survives the next update. */
function panel(key, title, body) {
  const d = el('details', { 'data-key': key }, el('summary', { text: title }), body);
  d.open = !collapsed.has(key);
  d.addEventListener('toggle', () => (d.open ? collapsed.delete(key) : collapsed.add(key)));
  return d;
}

function supervisor(node, s) {
  const key = `sup:${node}:${s.label}`;
  const title = `${s.label} (${s.strategy}, ${s.phase}${s.gaveUp ? `, gave up: ${s.gaveUp}` : ''})`;
  return el('li', {}, panel(key, title, el('ul', { class: 'tree' }, ...s.children.map((c) => child(node, s, c)))));
}

function child(node, s, c) {
  const line = el(
    'span',
    { class: 'child', 'data-child': `${node}/${s.label}/${c.id}` },
    el('span', { text: c.id }),
    el('span', { class: `badge ${c.status}`, text: c.status }),
    el('span', { class: 'badge', text: c.type }),
    c.mailbox ? el('span', { class: 'badge mailbox', text: `mailbox ${c.mailbox.depth}/${c.mailbox.capacity}` }) : null,
    el('span', { class: 'badge restarts', text: `restarts ${c.restarts}` }),
    c.actor ? el('button', { class: 'check', text: 'Check', onclick: () => ask('check', c.actor, `Check ${c.actor}`) }) : null,
    c.actor ? el('button', { class: 'status', text: 'Status', onclick: () => ask('status', c.actor, `Status ${c.actor}`) }) : null,
  );
  return el('li', {}, c.supervisor ? supervisor(node, c.supervisor) : line);
}

/** Services in columns by dependency depth; an edge per dependency. */
function graph(services) {
  const NS = 'http://www.w3.org/2000/svg';
  const depth = new Map();
  const byName = new Map(services.map((s) => [s.name, s]));
  const depthOf = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;
    seen.add(name);
    const deps = byName.get(name)?.dependsOn ?? [];
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((x) => depthOf(x, seen)));
    depth.set(name, d);
    return d;
  };
  for (const s of services) depthOf(s.name);
  const columns = [];
  for (const s of services) {
    const d = depth.get(s.name);
    columns[d] ??= [];
    columns[d].push(s.name);
  }
  const pos = new Map();
  const W = 170;
  const H = 46;
  columns.forEach((col, x) => {
    for (const [y, name] of (col ?? []).entries()) pos.set(name, { x: 10 + x * (W + 50), y: 10 + y * (H + 14) });
  });
  const svg = document.createElementNS(NS, 'svg');
  const rows = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  svg.setAttribute('width', String(20 + columns.length * (W + 50)));
  svg.setAttribute('height', String(20 + rows * (H + 14)));
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  for (const s of services) {
    for (const dep of s.dependsOn) {
      const a = pos.get(s.name);
      const b = pos.get(dep);
      if (a && b) add('line', { x1: a.x, y1: a.y + H / 2, x2: b.x + W, y2: b.y + H / 2, stroke: '#7a8699', 'stroke-width': 1.5, class: 'edge', 'data-from': s.name, 'data-to': dep });
    }
  }
  for (const s of services) {
    const p = pos.get(s.name);
    add('rect', { x: p.x, y: p.y, width: W, height: H, rx: 6, fill: '#eef3fb', stroke: '#4a6fa5', 'data-service': s.name });
    add('text', { x: p.x + 8, y: p.y + 19, 'font-weight': 600 }, s.name);
    add('text', { x: p.x + 8, y: p.y + 36, 'font-size': 12, fill: '#555' }, `v${s.version} · ${s.cardinality}`);
  }
  return svg;
}

async function ask(verb, name, title) {
  const res = await fetch(`/api/${verb}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  const body = await res.json();
  const detail = $('#detail');
  detail.hidden = false;
  detail.dataset.verb = verb;
  detail.dataset.ok = String(res.ok);
  $('#detail-title').textContent = title;
  const summary = res.ok && verb === 'check' ? `OCF code ${body.code} ${body.label}: ${body.reason}\n\n` : '';
  $('#detail-body').textContent = summary + JSON.stringify(body, null, 2);
}

for (const d of document.querySelectorAll('details[data-section]')) d.addEventListener('toggle', subscribe);
subscribe();
