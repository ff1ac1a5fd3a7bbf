/**
 * The dispatcher's view of its own writes, on the in-process store: a burst
 * of tasks is assigned once each, never written twice by a pass that ran
 * before the watch echoed the dispatcher's last write.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Tasks } from '../src/services/tasks/Tasks.js';
import { LocalKvServer, LocalKvStore } from '../src/transport/kv/LocalKvStore.js';

let open: Tasks[] = [];

afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});

describe('tasks - dispatching', () => {
  it('tasks - a burst of submitted tasks is assigned once each, without CAS conflicts against the dispatcher itself', async () => {
    const server = new LocalKvServer();
    const make = (node: string) => {
      const t = new Tasks({ kv: new LocalKvStore({ server }), node });
      open.push(t);
      return t;
    };
    const dispatcher = make('d');
    await dispatcher.start();
    const workers = [make('w1'), make('w2')];
    for (const w of workers) await w.define('noop', (task) => task.input);
    const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => dispatcher.submit('noop', i)));
    const results = await Promise.all(ids.map((id) => dispatcher.result(id, { timeout: 20_000 })));
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(dispatcher.isDispatcher).toBe(true);
    expect(dispatcher.counters.conflicts).toBe(0);
    const attempts = await Promise.all(ids.map(async (id) => (await dispatcher.record(id)).attempt));
    expect(attempts.filter((a) => a !== 1)).toEqual([]);
  });
});
