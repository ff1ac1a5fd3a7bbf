/**
 * What the observer knows of the system, per section, refreshed only while
 * some page watches that section. A watcher hears a section when its
 * content changed, never a copy of what it already has.
 *
 * A node is `up` while it answers `info`, `down` once it stops answering (or
 * a cluster member reports it down); the observer remembers every node it
 * has seen, so a stopped node stays on screen as `down` instead of vanishing.
 */
import type { HalyardClient, NodeInfo } from '../../src/client/index.js';
import type { HalyardEvent } from '../../src/events.js';
import type { Section } from './sections.js';

export interface NodeRow {
  readonly node: string;
  readonly status: 'up' | 'down';
  /** The node's own check code (OCF) while up. */
  readonly check: number | null;
  readonly transport: string | null;
  readonly actors: number | null;
  readonly instances: number | null;
  readonly write: boolean;
}

type Listener = (section: Section, data: unknown) => void;

interface Watcher {
  readonly view: ReadonlySet<Section>;
  readonly listener: Listener;
}

export class Snapshot {
  private readonly watchers = new Set<Watcher>();
  private readonly last = new Map<Section, string>();
  private readonly seen = new Map<string, NodeInfo>();
  private readonly reportedDown = new Set<string>();
  private readonly offEvents: () => void;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private again = false;
  private closed = false;

  constructor(
    private readonly client: HalyardClient,
    private readonly refreshMs: number,
    readonly allowWrite: boolean,
  ) {
    this.offEvents = client.events((e) => this.onEvent(e));
  }

  /** Hear `view`'s sections: the current content at once, then each change. */
  watch(view: ReadonlySet<Section>, listener: Listener): () => void {
    const w: Watcher = { view, listener };
    this.watchers.add(w);
    for (const s of view) {
      const data = this.last.get(s);
      if (data !== undefined) listener(s, JSON.parse(data));
    }
    this.poke();
    return () => {
      this.watchers.delete(w);
    };
  }

  /** Refresh now (after an event or a write), then on the usual round. */
  poke(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.refresh();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.offEvents();
    this.watchers.clear();
  }

  private onEvent(e: HalyardEvent): void {
    if (e.type === 'cluster.member') {
      if (e.change === 'down' || e.change === 'leave') this.reportedDown.add(e.member);
      else this.reportedDown.delete(e.member);
    }
    this.poke();
  }

  private watched(): Set<Section> {
    const out = new Set<Section>();
    for (const w of this.watchers) for (const s of w.view) out.add(s);
    return out;
  }

  private async refresh(): Promise<void> {
    this.running = true;
    try {
      const want = this.watched();
      // Every section in parallel: one slow verb must not hold the others back.
      await Promise.all([...want].map((s) => this.fetch(s).then((data) => this.publish(s, data), () => undefined)));
    } finally {
      this.running = false;
      if (!this.closed) {
        if (this.again) {
          this.again = false;
          void this.refresh();
        } else this.timer = setTimeout(() => this.poke(), this.refreshMs);
      }
    }
  }

  private async fetch(section: Section): Promise<unknown> {
    switch (section) {
      case 'nodes':
        return this.nodes();
      case 'tree':
        return this.client.tree();
      case 'services':
        return this.client.services();
      case 'decisions':
        // The newest last; a page shows a screenful, not the whole log.
        return (await this.client.decisions()).sort((a, b) => a.at - b.at).slice(-50);
    }
  }

  private async nodes(): Promise<NodeRow[]> {
    const answered = await this.client.nodes();
    const up = new Set<string>();
    for (const n of answered) {
      this.seen.set(n.node, n);
      up.add(n.node);
    }
    return [...this.seen.values()]
      .sort((a, b) => a.node.localeCompare(b.node))
      .map((n) => {
        const isUp = up.has(n.node) && !this.reportedDown.has(n.node);
        return {
          node: n.node,
          status: isUp ? 'up' : 'down',
          check: isUp ? n.check.code : null,
          transport: n.transport,
          actors: isUp ? n.actors : null,
          instances: isUp ? n.instances : null,
          write: n.write,
        };
      });
  }

  private publish(section: Section, data: unknown): void {
    const text = JSON.stringify(data);
    if (this.last.get(section) === text) return;
    this.last.set(section, text);
    for (const w of this.watchers) if (w.view.has(section)) w.listener(section, data);
  }
}
