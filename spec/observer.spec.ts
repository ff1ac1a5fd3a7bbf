/**
 * The observer (tools/observer) end to end: two nodes on a real nats-server,
 * the observer as an ordinary NATS client, and Debian's chromium driven
 * headless by playwright-core. Every wait is for a DOM state with a deadline.
 * Screenshots of the main screens are written to docs/observer-*.png.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type HalyardClient } from '../src/client/index.js';
import { InvalidArgumentError } from '../src/errors.js';
import { defineService } from '../src/services/catalog/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { createObserver, type Observer } from '../tools/observer/index.js';
import { chargeCounter } from './support/machines.js';

// Callbacks passed to page.waitForFunction/evaluate run in the page; the spec is compiled without the DOM lib.
declare const document: {
  querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null; querySelector(s: string): { textContent: string | null } | null } | null;
  querySelectorAll(selector: string): Iterable<{ textContent: string | null; getAttribute(name: string): string | null; querySelector(s: string): { textContent: string | null } | null }>;
  readonly body: { readonly dataset: Record<string, string | undefined> };
};
type DetailsElement = { open: boolean };

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const DOCS = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs');
// The README's screenshots are rewritten only when asked (UPDATE_SCREENSHOTS=1 npx vitest run spec/observer.spec.ts),
// so a test run leaves the tree clean; the page is still rendered to an image every run.
const shoot = async (page: Page, file: string) => {
  await page.screenshot(process.env.UPDATE_SCREENSHOTS === '1' ? { path: join(DOCS, file), fullPage: true } : { fullPage: true });
};
const DEADLINE = 15_000;

const ledger = defineService({ name: 'ledger', version: '0.1.0', logic: chargeCounter(), ready: 'ready' });
const billing = defineService({ name: 'billing', version: '1.2.0', logic: chargeCounter(), ready: 'ready', dependsOn: ['ledger'] });

/** The text of `selector` once `predicate` holds for it, or a timeout naming what was awaited. */
async function waitText(page: Page, selector: string, expected: string): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent?.trim() === want,
    [selector, expected] as const,
    { timeout: DEADLINE },
  );
}

describe('observer in headless chromium', () => {
  const servers = inject('natsUrl');
  const prefix = `obs${process.pid}`;
  let a: Node;
  let b: Node;
  let bStopped = false;
  let client: HalyardClient;
  let observer: Observer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(DOCS, { recursive: true });
    const common = { transport: { kind: 'nats', servers } as const, prefix, services: [ledger, billing], events: { publish: true } };
    a = await createNode({ name: 'node-a', ...common });
    b = await createNode({ name: 'node-b', ...common });
    await a.services.start('ledger');
    await a.services.start('billing');
    await b.services.start('ledger');
    await a.flush();
    await b.flush();
    client = await connect({ server: servers, prefix, gatherMs: 100 });
    observer = await createObserver({ server: servers, prefix, refreshMs: 300 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(observer.url);
    await waitText(page, '#link', 'live');
  });

  afterAll(async () => {
    await browser?.close();
    await observer?.close();
    await client?.close();
    await a?.shutdown();
    if (!bStopped) await b?.shutdown();
  });

  it('observer - the first screen shows both nodes up, the tree, the service graph with its dependency, and no restart button', async () => {
    await waitText(page, 'tr[data-node="node-a"] .status', 'up');
    await waitText(page, 'tr[data-node="node-b"] .status', 'up');
    await page.waitForSelector('#graph line.edge[data-from="billing"][data-to="ledger"]', { state: 'attached', timeout: DEADLINE });
    await page.waitForSelector('tr[data-service="billing"] .restarts', { timeout: DEADLINE });
    await page.waitForSelector('#tree .child', { timeout: DEADLINE });
    expect(await page.locator('#mode').textContent()).toBe('read-only');
    expect(await page.locator('button.restart').count()).toBe(0);
    expect(await page.locator('tr[data-service="ledger"]').count()).toBe(2);
    await shoot(page, 'observer-main.png');
  });

  it('observer - crashing a child changes its restart count on the page and adds a decision; a collapsed tree panel stays collapsed', async () => {
    await waitText(page, 'tr[data-service="billing"] .restarts', '0');
    const panel = () => page.locator('#tree details[data-key="node:node-b"]');
    await panel().locator('> summary').click();
    expect(await panel().evaluate((d) => (d as unknown as DetailsElement).open)).toBe(false);
    const treeSeen = Number(await page.evaluate(() => document.body.dataset.treeSeen ?? 0));
    await client.send('billing', { type: 'CRASH' });
    await waitText(page, 'tr[data-service="billing"] .restarts', '1');
    await page.waitForFunction(
      () => [...document.querySelectorAll('#tree .child .restarts')].some((e) => e.textContent === 'restarts 1'),
      undefined,
      { timeout: DEADLINE },
    );
    expect(Number(await page.evaluate(() => document.body.dataset.treeSeen ?? 0))).toBeGreaterThan(treeSeen);
    expect(await panel().evaluate((d) => (d as unknown as DetailsElement).open)).toBe(false);
    await panel().locator('> summary').click();
    await page.waitForFunction(() => [...document.querySelectorAll('#decisions td')].some((td) => td.textContent === 'boom'), undefined, { timeout: DEADLINE });
    expect(await page.locator('#decisions .directive').first().textContent()).toBe('restart');
    await shoot(page, 'observer-restart.png');
  });

  it('observer - Check on click shows the OCF answer of that actor', async () => {
    await page.locator('tr[data-service="billing"] button.check').click();
    await page.waitForSelector('#detail[data-verb="check"][data-ok="true"]', { timeout: DEADLINE });
    const text = (await page.locator('#detail-body').textContent()) ?? '';
    const answer = await client.check((await client.info('billing')).instances[0].actor);
    expect(text).toContain(`OCF code ${answer.code} ${answer.label}`);
    expect(text).toContain('"node": "node-a"');
    await page.locator('tr[data-service="billing"] button.status').click();
    await page.waitForSelector('#detail[data-verb="status"][data-ok="true"]', { timeout: DEADLINE });
    expect(await page.locator('#detail-body').textContent()).toContain('"lifecycle"');
    await shoot(page, 'observer-check.png');
  });

  it('observer - a read-only observer refuses restart over HTTP and nothing restarts', async () => {
    const before = (await client.info('billing')).instances[0].instance;
    const res = await page.evaluate(async () => {
      const r = await fetch('/api/restart', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'billing' }) });
      return { status: r.status, body: (await r.json()) as { error: { code: string } } };
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('ERR_OBSERVER_READ_ONLY');
    expect((await client.info('billing')).instances[0].instance).toBe(before);
  });

  it('observer - a POST without a JSON content type is refused (no cross-site form can write)', async () => {
    const res = await page.evaluate(async () => {
      const r = await fetch('/api/check', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"name":"billing"}' });
      return r.status;
    });
    expect(res).toBe(415);
  });

  it('observer - stopping a node shows it down', async () => {
    await b.shutdown();
    bStopped = true;
    await waitText(page, 'tr[data-node="node-b"] .status', 'down');
    await waitText(page, 'tr[data-node="node-a"] .status', 'up');
    await shoot(page, 'observer-node-down.png');
  });
});

describe('observer with allowWrite', () => {
  const servers = inject('natsUrl');
  const prefix = `obsw${process.pid}`;
  let node: Node;
  let observer: Observer;
  let browser: Browser;

  beforeAll(async () => {
    node = await createNode({ name: 'writer', transport: { kind: 'nats', servers }, prefix, services: [ledger], admin: { write: true } });
    await node.services.start('ledger');
    await node.flush();
    observer = await createObserver({ server: servers, prefix, allowWrite: true, refreshMs: 300 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await observer?.close();
    await node?.shutdown();
  });

  it('observer - with allowWrite the restart button restarts the instance', async () => {
    const page = await browser.newPage();
    await page.goto(observer.url);
    await waitText(page, '#mode', 'writes allowed');
    const row = page.locator('tr[data-service="ledger"]');
    await row.locator('button.restart').waitFor({ timeout: DEADLINE });
    const id = await row.getAttribute('data-instance');
    const before = node.services.get(id ?? '');
    expect(before?.state).toBe('running');
    await row.locator('button.restart').click();
    await page.waitForSelector('#detail[data-verb="restart"][data-ok="true"]', { timeout: DEADLINE });
    // A restart keeps the instance id: the node holds a new incarnation under it, and the page shows it running.
    const after = node.services.get(id ?? '');
    expect(after).not.toBe(before);
    expect(before?.state).toBe('stopped');
    expect(after?.state).toBe('running');
    await page.waitForFunction(
      (same) =>
        [...document.querySelectorAll('tr[data-service="ledger"]')].some(
          (r) => r.getAttribute('data-instance') === same && r.querySelector('.state')?.textContent === 'running',
        ),
      id,
      { timeout: DEADLINE },
    );
  });
});

describe('observer options', () => {
  it('observer - a non-loopback host is refused unless exposed, naming the field', async () => {
    const err = await createObserver({ server: 'nats://127.0.0.1:1', host: '0.0.0.0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).field).toBe('host');
  });

  it('observer - exactly one of server, transport or client is required', async () => {
    await expect(createObserver({})).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'server' });
    await expect(createObserver({ server: 'nats://127.0.0.1:1', port: 70000 })).rejects.toMatchObject({ field: 'port' });
  });

  it('observer - binds loopback by default and refuses a foreign Host header', async () => {
    const servers = inject('natsUrl');
    const observer = await createObserver({ server: servers, prefix: `obso${process.pid}` });
    try {
      expect(observer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const ok = await fetch(observer.url);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('<script type="module" src="/observer.js">');
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const r = request(observer.url, { headers: { host: 'evil.example:80' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        r.on('error', reject);
        r.end();
      });
      expect(status).toBe(421);
    } finally {
      await observer.close();
    }
  });
});
