/**
 * The oracle itself, checked against scenarios worked out by hand from OTP's
 * supervisor.erl. Exact expectations only: if the model is wrong, every
 * model-based run against the runtime is wrong with it.
 */
import { describe, expect, it } from 'vitest';
import { type ChildDef, type Flags, type Restart, type SupDef, SupervisionModel, addRestart } from './model.js';

const w = (id: string, restart: Restart = 'permanent'): ChildDef => ({ kind: 'worker', id, restart });
const s = (id: string, restart: Restart, sup: SupDef): ChildDef => ({ kind: 'supervisor', id, restart, sup });
const flags = (strategy: Flags['strategy'], intensity = 3, period = 100): Flags => ({ strategy, intensity, period });
const sup = (f: Flags, ...children: ChildDef[]): SupDef => ({ flags: f, children });

/** Children of the live supervisor at `path`, as `id:status`. */
function kids(m: SupervisionModel, path = 'root'): string[] {
  const x = m.supervisor(path);
  if (!x) return ['<dead>'];
  return x.children.map((c) => `${c.def.id}:${c.running ? 'running' : 'terminated'}`);
}

/** Trace entries after the initial start-up. */
function traceAfter(m: SupervisionModel, mark: number): string[] {
  return m.trace.slice(mark);
}

describe('supervision model - add_restart', () => {
  it.each([
    { history: [], now: 0, period: 100, expected: [0] },
    { history: [0], now: 100, period: 100, expected: [0, 100] },
    { history: [0], now: 101, period: 100, expected: [101] },
    { history: [0, 50, 90], now: 150, period: 100, expected: [50, 90, 150] },
  ])('supervision model - add_restart($history, $now, $period) = $expected', ({ history, now, period, expected }) => {
    expect(addRestart(history, now, period)).toEqual(expected);
  });
});

describe('supervision model - start and restart types', () => {
  it('supervision model - children start in order, depth first', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0'), s('s1', 'permanent', sup(flags('one_for_one'), w('w0'), w('w1'))), w('w2')));
    expect(m.trace).toEqual(['start root/w0', 'start root/s1/w0', 'start root/s1/w1', 'start root/w2']);
  });

  it('supervision model - one_for_one restarts only the permanent child that crashed', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0'), w('w1'), w('w2')));
    const mark = m.trace.length;
    m.crash('root/w1');
    expect(traceAfter(m, mark)).toEqual(['start root/w1']);
    expect(m.starts.get('root/w1')).toBe(2);
    expect(m.root.history).toEqual([0]);
  });

  it('supervision model - a permanent child that exits normally is restarted too', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0')));
    m.normalExit('root/w0');
    expect(kids(m)).toEqual(['w0:running']);
    expect(m.starts.get('root/w0')).toBe(2);
  });

  it('supervision model - transient: restarted after error, terminated after normal exit', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0', 'transient')));
    m.crash('root/w0');
    expect(kids(m)).toEqual(['w0:running']);
    m.normalExit('root/w0');
    expect(kids(m)).toEqual(['w0:terminated']);
    expect(m.root.history).toEqual([0]);
  });

  it('supervision model - temporary: never restarted, spec removed on any exit', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0', 'temporary'), w('w1', 'temporary')));
    m.crash('root/w0');
    m.normalExit('root/w1');
    expect(kids(m)).toEqual([]);
    expect(m.root.history).toEqual([]);
  });
});

describe('supervision model - strategies', () => {
  it('supervision model - one_for_all stops the others in reverse and starts all in order', () => {
    const m = new SupervisionModel(sup(flags('one_for_all'), w('w0'), w('w1'), w('w2'), w('w3')));
    const mark = m.trace.length;
    m.crash('root/w1');
    expect(traceAfter(m, mark)).toEqual([
      'stop root/w3',
      'stop root/w2',
      'stop root/w0',
      'start root/w0',
      'start root/w1',
      'start root/w2',
      'start root/w3',
    ]);
  });

  it('supervision model - rest_for_one restarts the failed child and those after it', () => {
    const m = new SupervisionModel(sup(flags('rest_for_one'), w('w0'), w('w1'), w('w2'), w('w3')));
    const mark = m.trace.length;
    m.crash('root/w1');
    expect(traceAfter(m, mark)).toEqual(['stop root/w3', 'stop root/w2', 'start root/w1', 'start root/w2', 'start root/w3']);
  });

  it('supervision model - one_for_all drops temporary siblings and starts terminated ones (restart_multiple_children)', () => {
    const m = new SupervisionModel(sup(flags('one_for_all'), w('w0'), w('w1', 'temporary'), w('w2', 'transient'), w('w3')));
    expect(m.terminateChild('root', 'w2')).toEqual({ ok: true });
    expect(kids(m)).toEqual(['w0:running', 'w1:running', 'w2:terminated', 'w3:running']);
    const mark = m.trace.length;
    m.crash('root/w3');
    expect(traceAfter(m, mark)).toEqual(['stop root/w1', 'stop root/w0', 'start root/w0', 'start root/w2', 'start root/w3']);
    expect(kids(m)).toEqual(['w0:running', 'w2:running', 'w3:running']);
  });

  it('supervision model - rest_for_one leaves children before the failed one alone', () => {
    const m = new SupervisionModel(sup(flags('rest_for_one'), w('w0', 'transient'), w('w1'), w('w2', 'temporary')));
    m.normalExit('root/w0');
    const mark = m.trace.length;
    m.crash('root/w1');
    expect(traceAfter(m, mark)).toEqual(['stop root/w2', 'start root/w1']);
    expect(kids(m)).toEqual(['w0:terminated', 'w1:running']);
  });

  it('supervision model - a nested supervisor stops its children before the next older sibling stops', () => {
    const inner = sup(flags('one_for_one'), w('a'), w('b'));
    const m = new SupervisionModel(sup(flags('one_for_all'), w('w0'), s('s1', 'permanent', inner), w('w2')));
    const mark = m.trace.length;
    m.crash('root/w2');
    expect(traceAfter(m, mark)).toEqual([
      'stop root/s1/b',
      'stop root/s1/a',
      'stop root/w0',
      'start root/w0',
      'start root/s1/a',
      'start root/s1/b',
      'start root/w2',
    ]);
  });
});

describe('supervision model - intensity and escalation', () => {
  it('supervision model - more than intensity restarts within period: stop all in reverse, exit shutdown', () => {
    const m = new SupervisionModel(sup(flags('one_for_one', 1, 100), w('w0'), w('w1'), w('w2')));
    m.crash('root/w1');
    m.advance(100);
    const mark = m.trace.length;
    // The restart at t=0 is still inside the period at t=100 (R >= now - period).
    m.crash('root/w1');
    expect(traceAfter(m, mark)).toEqual(['stop root/w2', 'stop root/w0']);
    expect(m.root.alive).toBe(false);
    expect(m.rootExit).toBe('shutdown');
  });

  it('supervision model - a restart older than period no longer counts', () => {
    const m = new SupervisionModel(sup(flags('one_for_one', 1, 100), w('w0')));
    m.crash('root/w0');
    m.advance(101);
    m.crash('root/w0');
    expect(m.root.alive).toBe(true);
    expect(m.root.history).toEqual([101]);
  });

  it('supervision model - intensity 0: the first restart gives up', () => {
    const m = new SupervisionModel(sup(flags('one_for_one', 0), w('w0', 'transient')));
    m.normalExit('root/w0');
    expect(m.root.alive).toBe(true);
    m.restartChild('root', 'w0');
    m.crash('root/w0');
    expect(m.root.alive).toBe(false);
  });

  it('supervision model - a permanent child supervisor that gives up is restarted by its parent', () => {
    const inner = sup(flags('one_for_one', 0), w('a'), w('b'), w('c'));
    const m = new SupervisionModel(sup(flags('one_for_one', 1), w('w0'), s('s1', 'permanent', inner)));
    const mark = m.trace.length;
    m.crash('root/s1/b');
    expect(traceAfter(m, mark)).toEqual([
      'stop root/s1/c',
      'stop root/s1/a',
      'start root/s1/a',
      'start root/s1/b',
      'start root/s1/c',
    ]);
    expect(m.root.history).toEqual([0]);
    expect(m.supervisor('root/s1')!.history).toEqual([]);
    expect(m.starts.get('root/s1')).toBe(2);
  });

  it('supervision model - a transient child supervisor that gives up exits shutdown and stays down', () => {
    const inner = sup(flags('one_for_one', 0), w('a'));
    const m = new SupervisionModel(sup(flags('one_for_one', 1), s('s1', 'transient', inner)));
    m.crash('root/s1/a');
    expect(kids(m)).toEqual(['s1:terminated']);
    expect(m.supervisor('root/s1')).toBeUndefined();
    expect(m.root.history).toEqual([]);
  });

  it('supervision model - escalation goes up until a supervisor can absorb it', () => {
    const leaf = sup(flags('one_for_one', 0), w('x'));
    const mid = sup(flags('one_for_one', 0), s('s2', 'permanent', leaf), w('y'));
    const m = new SupervisionModel(sup(flags('one_for_all', 0), w('w0'), s('s1', 'permanent', mid)));
    const mark = m.trace.length;
    m.crash('root/s1/s2/x');
    // leaf gives up, mid must restart s2 but has intensity 0: it gives up, and so does root.
    expect(traceAfter(m, mark)).toEqual(['stop root/s1/y', 'stop root/w0']);
    expect(m.rootExit).toBe('shutdown');
    expect(m.liveSupervisors()).toEqual([]);
    expect(m.reports).toEqual([
      { supervisor: 'root/s1/s2', childId: 'x', reason: 'error', history: [], verdict: 'escalate' },
      { supervisor: 'root/s1', childId: 's2', reason: 'shutdown', history: [], verdict: 'escalate' },
      { supervisor: 'root', childId: 's1', reason: 'shutdown', history: [], verdict: 'escalate' },
    ]);
  });

  it('supervision model - reports carry the in-window history and the verdict', () => {
    const m = new SupervisionModel(sup(flags('one_for_one', 2, 100), w('w0'), w('w1', 'transient')));
    m.crash('root/w0');
    m.advance(60);
    m.normalExit('root/w1');
    m.crash('root/w0');
    m.advance(60);
    m.crash('root/w0');
    m.advance(60);
    m.crash('root/w0');
    expect(m.reports).toEqual([
      { supervisor: 'root', childId: 'w0', reason: 'error', history: [], verdict: 'restart' },
      { supervisor: 'root', childId: 'w1', reason: 'normal', history: [0], verdict: 'ignore' },
      { supervisor: 'root', childId: 'w0', reason: 'error', history: [0], verdict: 'restart' },
      { supervisor: 'root', childId: 'w0', reason: 'error', history: [60], verdict: 'restart' },
      { supervisor: 'root', childId: 'w0', reason: 'error', history: [120], verdict: 'restart' },
    ]);
    expect(m.root.alive).toBe(true);
  });
});

describe('supervision model - supervisor API', () => {
  it('supervision model - terminate, restart and delete', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0'), w('w1', 'temporary')));
    expect(m.restartChild('root', 'w0')).toEqual({ ok: false, error: 'running' });
    expect(m.deleteChild('root', 'w0')).toEqual({ ok: false, error: 'running' });
    expect(m.terminateChild('root', 'w0')).toEqual({ ok: true });
    expect(m.terminateChild('root', 'w0')).toEqual({ ok: true });
    expect(m.terminateChild('root', 'w1')).toEqual({ ok: true });
    expect(kids(m)).toEqual(['w0:terminated']);
    expect(m.restartChild('root', 'w0')).toEqual({ ok: true });
    expect(m.terminateChild('root', 'w0')).toEqual({ ok: true });
    expect(m.deleteChild('root', 'w0')).toEqual({ ok: true });
    expect(m.deleteChild('root', 'w0')).toEqual({ ok: false, error: 'not_found' });
    expect(m.restartChild('root', 'nope')).toEqual({ ok: false, error: 'not_found' });
    expect(m.terminateChild('root', 'nope')).toEqual({ ok: false, error: 'not_found' });
    expect(m.root.history).toEqual([]);
    expect(m.trace).toEqual(['start root/w0', 'start root/w1', 'stop root/w0', 'stop root/w1', 'start root/w0', 'stop root/w0']);
  });

  it('supervision model - startChild appends, and refuses a taken id', () => {
    const m = new SupervisionModel(sup(flags('rest_for_one'), w('w0')));
    expect(m.startChild('root', w('d0', 'transient'))).toEqual({ ok: true });
    expect(m.startChild('root', w('d0'))).toEqual({ ok: false, error: 'already_started' });
    m.normalExit('root/d0');
    expect(m.startChild('root', w('d0'))).toEqual({ ok: false, error: 'already_present' });
    expect(kids(m)).toEqual(['w0:running', 'd0:terminated']);
    // rest_for_one from w0 includes the dynamic child appended after it.
    const mark = m.trace.length;
    m.crash('root/w0');
    expect(traceAfter(m, mark)).toEqual(['start root/w0', 'start root/d0']);
  });

  it('supervision model - a restarted child supervisor comes back with its static children only', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), s('s1', 'permanent', sup(flags('one_for_one'), w('a')))));
    m.startChild('root/s1', w('d0'));
    expect(kids(m, 'root/s1')).toEqual(['a:running', 'd0:running']);
    m.terminateChild('root', 's1');
    expect(m.trace.slice(-2)).toEqual(['stop root/s1/d0', 'stop root/s1/a']);
    m.restartChild('root', 's1');
    expect(kids(m, 'root/s1')).toEqual(['a:running']);
  });
});

describe('supervision model - auto shutdown', () => {
  const sig = (id: string, restart: Restart): ChildDef => ({ kind: 'worker', id, restart, significant: true });
  const auto = (a: 'any_significant' | 'all_significant', ...children: ChildDef[]): SupDef => ({
    flags: { strategy: 'one_for_one', intensity: 3, period: 100, autoShutdown: a },
    children,
  });

  it('supervision model - any_significant: a significant child ending normally ends the supervisor', () => {
    const m = new SupervisionModel(auto('any_significant', w('w0'), sig('w1', 'transient'), w('w2')));
    const mark = m.trace.length;
    m.normalExit('root/w1');
    expect(traceAfter(m, mark)).toEqual(['stop root/w2', 'stop root/w0']);
    expect(m.rootExit).toBe('shutdown');
    expect(m.reports).toEqual([{ supervisor: 'root', childId: 'w1', reason: 'normal', history: [], verdict: 'ignore' }]);
  });

  it('supervision model - any_significant: a restarted significant child does not end it', () => {
    const m = new SupervisionModel(auto('any_significant', w('w0'), sig('w1', 'transient')));
    m.crash('root/w1');
    expect(kids(m)).toEqual(['w0:running', 'w1:running']);
  });

  it('supervision model - all_significant: only when the last significant child is gone; terminateChild never triggers it', () => {
    const m = new SupervisionModel(auto('all_significant', sig('w0', 'transient'), sig('w1', 'temporary'), sig('w2', 'transient'), w('w3')));
    m.normalExit('root/w0');
    expect(m.root.alive).toBe(true);
    m.terminateChild('root', 'w2');
    expect(m.root.alive).toBe(true);
    const mark = m.trace.length;
    m.crash('root/w1');
    expect(traceAfter(m, mark)).toEqual(['stop root/w3']);
    expect(m.rootExit).toBe('shutdown');
  });

  it('supervision model - a child supervisor that shuts down automatically is restarted if permanent', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), s('s0', 'permanent', auto('any_significant', sig('a', 'temporary'), w('b')))));
    const mark = m.trace.length;
    m.normalExit('root/s0/a');
    expect(traceAfter(m, mark)).toEqual(['stop root/s0/b', 'start root/s0/a', 'start root/s0/b']);
    expect(m.reports.map((r) => `${r.supervisor} ${r.childId} ${r.reason} ${r.verdict}`)).toEqual([
      'root/s0 a normal ignore',
      'root s0 shutdown restart',
    ]);
  });
});

describe('supervision model - ends from outside', () => {
  it('supervision model - stopped from outside: shutdown is normal, so only permanent restarts', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0'), w('w1', 'transient')));
    const mark = m.trace.length;
    m.stopFromOutside('root/w0');
    m.stopFromOutside('root/w1');
    expect(traceAfter(m, mark)).toEqual(['stop root/w0', 'start root/w0', 'stop root/w1']);
    expect(kids(m)).toEqual(['w0:running', 'w1:terminated']);
  });

  it('supervision model - killed from outside: abnormal, so a transient child restarts', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0', 'transient')));
    m.kill('root/w0');
    expect(kids(m)).toEqual(['w0:running']);
    expect(m.reports).toEqual([{ supervisor: 'root', childId: 'w0', reason: 'killed', history: [], verdict: 'restart' }]);
  });

  it('supervision model - root.stop() stops everything in reverse', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0'), s('s1', 'permanent', sup(flags('one_for_one'), w('a'), w('b')))));
    const mark = m.trace.length;
    m.stopRoot();
    expect(traceAfter(m, mark)).toEqual(['stop root/s1/b', 'stop root/s1/a', 'stop root/w0']);
    expect(m.rootExit).toBe('shutdown');
    expect(m.reports).toEqual([]);
  });
});

describe('supervision model - a supervisor killed from outside', () => {
  it('supervision model - its children stop in reverse order, a nested supervisor its own first, and its parent restarts it (killed is abnormal)', () => {
    const inner = sup(flags('one_for_one'), w('a'), w('b'));
    const mid = sup(flags('one_for_one'), w('x'), s('n', 'permanent', inner), w('y'));
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0'), s('s1', 'transient', mid)));
    const mark = m.trace.length;
    m.killSupervisor('root/s1');
    expect(traceAfter(m, mark)).toEqual([
      'stop root/s1/y',
      'stop root/s1/n/b',
      'stop root/s1/n/a',
      'stop root/s1/x',
      'start root/s1/x',
      'start root/s1/n/a',
      'start root/s1/n/b',
      'start root/s1/y',
    ]);
    expect(m.reports).toEqual([{ supervisor: 'root', childId: 's1', reason: 'killed', history: [], verdict: 'restart' }]);
    expect(kids(m)).toEqual(['w0:running', 's1:running']);
  });

  it('supervision model - a killed temporary child supervisor is not restarted and its spec goes', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0'), s('s1', 'temporary', sup(flags('one_for_one'), w('a')))));
    m.killSupervisor('root/s1');
    expect(kids(m)).toEqual(['w0:running']);
    expect(m.reports).toEqual([{ supervisor: 'root', childId: 's1', reason: 'killed', history: [], verdict: 'ignore' }]);
  });

  it('supervision model - a killed root stops everything in reverse and ends error', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0'), s('s1', 'permanent', sup(flags('one_for_one'), w('a'), w('b')))));
    const mark = m.trace.length;
    m.killSupervisor('root');
    expect(traceAfter(m, mark)).toEqual(['stop root/s1/b', 'stop root/s1/a', 'stop root/w0']);
    expect(m.rootExit).toBe('error');
    expect(m.liveSupervisors()).toEqual([]);
    expect(m.reports).toEqual([]);
  });

  it('supervision model - a pending retry of the killed supervisor\'s child is dropped', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), s('s1', 'permanent', sup(flags('one_for_one', 3), w('a')))));
    m.armStartFailure('root/s1/a', 1);
    m.batching = true;
    m.crash('root/s1/a');
    m.killSupervisor('root/s1');
    m.batching = false;
    m.drainRetries();
    expect(m.reports.map((r) => `${r.supervisor} ${r.childId} ${r.reason} ${r.verdict}`)).toEqual([
      'root/s1 a error restart',
      'root s1 killed restart',
    ]);
    expect(kids(m, 'root/s1')).toEqual(['a:running']);
  });
});

describe('supervision model - failed starts', () => {
  it('supervision model - one_for_one: a failed restart is retried, and the retry counts', () => {
    const m = new SupervisionModel(sup(flags('one_for_one', 2), w('w0'), w('w1')));
    m.armStartFailure('root/w1', 1);
    const mark = m.trace.length;
    m.crash('root/w1');
    expect(traceAfter(m, mark)).toEqual(['failstart root/w1', 'start root/w1']);
    expect(m.reports).toEqual([
      { supervisor: 'root', childId: 'w1', reason: 'error', history: [], verdict: 'restart' },
      { supervisor: 'root', childId: 'w1', reason: 'error', history: [0], verdict: 'restart' },
    ]);
    expect(m.root.history).toEqual([0, 0]);
    expect(m.starts.get('root/w1')).toBe(2);
  });

  it('supervision model - retries that exceed intensity give up', () => {
    const m = new SupervisionModel(sup(flags('one_for_one', 1), w('w0'), w('w1')));
    m.armStartFailure('root/w1', 1);
    const mark = m.trace.length;
    m.crash('root/w1');
    expect(traceAfter(m, mark)).toEqual(['failstart root/w1', 'stop root/w0']);
    expect(m.rootExit).toBe('shutdown');
  });

  it('supervision model - one_for_all: the group stops at the failed start; the retry restarts the whole group', () => {
    const m = new SupervisionModel(sup(flags('one_for_all'), w('w0'), w('w1'), w('w2')));
    m.armStartFailure('root/w1', 1);
    const mark = m.trace.length;
    m.crash('root/w2');
    expect(traceAfter(m, mark)).toEqual([
      'stop root/w1',
      'stop root/w0',
      'start root/w0',
      'failstart root/w1',
      'stop root/w0',
      'start root/w0',
      'start root/w1',
      'start root/w2',
    ]);
  });

  it('supervision model - batching: the retry waits, and the child shows as restarting meanwhile', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0')));
    m.armStartFailure('root/w0', 1);
    m.batching = true;
    m.crash('root/w0');
    expect(kids(m)).toEqual(['w0:terminated']);
    expect(m.view(m.root).children[0]!.status).toBe('restarting');
    expect(m.restartChild('root', 'w0')).toEqual({ ok: false, error: 'restarting' });
    expect(m.deleteChild('root', 'w0')).toEqual({ ok: false, error: 'restarting' });
    expect(m.startChild('root', w('w0'))).toEqual({ ok: false, error: 'already_present' });
    m.batching = false;
    m.drainRetries();
    expect(kids(m)).toEqual(['w0:running']);
  });

  it('supervision model - a supervisor whose child fails at init stops what it started and fails to start', () => {
    const inner = sup(flags('one_for_one'), w('x'), w('y'), w('z'));
    const m = new SupervisionModel(sup(flags('one_for_one'), w('a'), s('s', 'permanent', inner)));
    m.terminateChild('root', 's');
    m.armStartFailure('root/s/z', 1);
    const mark = m.trace.length;
    expect(m.restartChild('root', 's')).toEqual({ ok: false, error: 'start_failed' });
    expect(traceAfter(m, mark)).toEqual(['start root/s/x', 'start root/s/y', 'failstart root/s/z', 'stop root/s/y', 'stop root/s/x']);
    expect(kids(m)).toEqual(['a:running', 's:terminated']);
    expect(m.root.history).toEqual([]);
  });

  it('supervision model - startChild of a child that fails to start keeps no spec', () => {
    const m = new SupervisionModel(sup(flags('one_for_one'), w('w0')));
    m.armStartFailure('root/d0', 1);
    expect(m.startChild('root', w('d0'))).toEqual({ ok: false, error: 'start_failed' });
    expect(kids(m)).toEqual(['w0:running']);
  });
});

describe('supervision model - concurrency helpers', () => {
  it('supervision model - a doomed worker stopped by its supervisor ends by itself and is never reported', () => {
    const m = new SupervisionModel(sup(flags('one_for_all'), w('w0'), w('w1'), w('w2')));
    m.batching = true;
    expect(m.doom('root/w2')).toBe(true);
    expect(m.doom('root/w0')).toBe(true);
    const mark = m.trace.length;
    m.arrive('root/w0', 'error');
    m.arrive('root/w2', 'error');
    m.batching = false;
    m.drainRetries();
    expect(traceAfter(m, mark)).toEqual(['stop root/w1', 'start root/w0', 'start root/w1', 'start root/w2']);
    expect(m.reports.map((r) => r.childId)).toEqual(['w0']);
  });

  it('supervision model - clones are independent, and calls on an ended instance get noproc', () => {
    const m = new SupervisionModel(sup(flags('one_for_one', 0), w('w0'), w('w1')));
    const c = m.clone();
    const root = c.root;
    c.crash('root/w0');
    expect(c.rootExit).toBe('shutdown');
    expect(m.rootExit).toBeUndefined();
    expect(c.terminateChild(root, 'w1')).toEqual({ ok: false, error: 'noproc' });
    expect(m.terminateChild(m.root, 'w1')).toEqual({ ok: true });
    m.copyFrom(c);
    expect(m.rootExit).toBe('shutdown');
  });
});
