import { isDeepStrictEqual } from 'node:util';
import type { Supervisor } from '../../../../src/supervision/types.js';
import { withDeadline } from '../../../support/wait.js';
import { type ChildDef, type ModelSup, type OpResult, type SupervisionModel, childPath } from '../model.js';
import {
  type ModelCommand,
  type Outcome,
  type Real,
  STEP_DEADLINE,
  actualState,
  checkIncarnations,
  expectOutcome,
  expectState,
  expectedState,
  mustRealSupervisor,
  outcomeMatches,
  outcomeOf,
  realSupervisor,
  settleReal,
  toChildSpec,
} from '../real.js';

export type Call =
  | { readonly kind: 'terminate' | 'restart' | 'delete'; readonly id: string }
  | { readonly kind: 'start'; readonly id: string; readonly def: ChildDef };

/** A direct worker child of the same supervisor that crashes or exits normally during the calls. */
export interface ChildExit {
  readonly id: string;
  readonly kind: 'crash' | 'exit';
}

type Stimulus =
  | { readonly kind: 'call'; readonly index: number; readonly call: Call }
  | { readonly kind: 'exit'; readonly index: number; readonly exit: ChildExit };

type CallEvent = { readonly kind: 'call'; readonly index: number; readonly call: Call };
/** The worker is told to crash or exit. */
type TriggerEvent = { readonly kind: 'trigger'; readonly index: number; readonly exit: ChildExit };
/** The supervisor handles the worker's end. */
type ArriveEvent = { readonly kind: 'arrive'; readonly index: number; readonly exit: ChildExit };
/** One event as the supervisor may have seen it. */
type Event = CallEvent | TriggerEvent | ArriveEvent;

function describeCall(call: Call): string {
  switch (call.kind) {
    case 'terminate':
      return `terminateChild(${call.id})`;
    case 'restart':
      return `restartChild(${call.id})`;
    case 'delete':
      return `deleteChild(${call.id})`;
    case 'start':
      return `startChild(${call.id} ${call.def.restart} ${call.def.kind}${call.def.significant ? ' significant' : ''})`;
  }
}

function describeExit(exit: ChildExit): string {
  return exit.kind === 'crash' ? `crash(${exit.id})` : `exitNormally(${exit.id})`;
}

function describeStimulus(st: Stimulus): string {
  return st.kind === 'call' ? describeCall(st.call) : describeExit(st.exit);
}

function describeEvent(ev: Event): string {
  if (ev.kind === 'call') return describeCall(ev.call);
  return `${ev.kind === 'trigger' ? 'tell' : 'handle'} ${describeExit(ev.exit)}`;
}

/**
 * Every order in which the exits' messages may have been handled: each after
 * its own trigger, in trigger order (the dispatcher runs mailboxes in the
 * order they became ready), anywhere among the calls that follow.
 */
function interleavings(base: readonly Event[]): Event[][] {
  const triggers = base.filter((e): e is TriggerEvent => e.kind === 'trigger');
  const out: Event[][] = [];
  const place = (seq: Event[], k: number, from: number) => {
    if (k === triggers.length) {
      out.push(seq);
      return;
    }
    const t = triggers[k]!;
    const after = Math.max(from, seq.indexOf(t) + 1);
    for (let at = after; at <= seq.length; at++) {
      place([...seq.slice(0, at), { kind: 'arrive', index: t.index, exit: t.exit }, ...seq.slice(at)], k + 1, at + 1);
    }
  };
  place([...base], 0, 0);
  return out;
}

/**
 * Several API calls on one supervisor, and up to two of its workers crashing
 * or exiting, all issued without waiting for each other: a fast-check
 * scheduler picks the order, and `gaps` says how many microtask turns the
 * runtime gets after each one before the next is issued (0: at once, in the
 * same synchronous run), so calls land before, during and after the handling
 * of an exit, and an exit may hit a worker the supervisor is stopping.
 *
 * A supervisor handles its calls and its children's exits one at a time in
 * arrival order (OTP: one process, one mailbox), so the outcome must be that
 * of the model applying them in some arrival order: the calls in the order
 * they were made, each exit at or after the moment its message was told. A
 * worker the supervisor stops before handling that message ends by itself,
 * unreported (the model's `doomed`). The command accepts the first order
 * that gives every call's result and the whole tree state.
 *
 * Two races are left out because the model cannot decide them: no exiting
 * worker is one the calls terminate (its message and the shutdown event race
 * in its mailbox), and with two exits both are told first, back to back (a
 * worker told while the supervisor is already stopping it for the other
 * exit may or may not be reached before it handles the message).
 *
 * Needs `real.scheduler`.
 */
export class ConcurrentCalls implements ModelCommand {
  constructor(
    readonly supPath: string,
    readonly calls: readonly Call[],
    readonly exits: readonly ChildExit[],
    /** Microtask turns after the i-th issued stimulus. */
    readonly gaps: readonly number[],
  ) {}

  check(model: Readonly<SupervisionModel>): boolean {
    return model.supervisor(this.supPath) !== undefined;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    const s = real.scheduler;
    if (!s) throw new Error('ConcurrentCalls needs a scheduler');
    const sup = mustRealSupervisor(real, this.supPath);
    const stimuli: Stimulus[] = [
      ...this.calls.map((call, index) => ({ kind: 'call' as const, index, call })),
      ...this.exits.map((exit, index) => ({ kind: 'exit' as const, index, exit })),
    ];

    // The scheduler picks the order...
    const picked: Stimulus[] = [];
    const released = stimuli.map((st) =>
      s.schedule(Promise.resolve(describeStimulus(st)), describeStimulus(st)).then(() => {
        picked.push(st);
      }),
    );
    await withDeadline(s.waitFor(Promise.all(released)), STEP_DEADLINE, 'ordering concurrent calls');
    const issued = this.exits.length > 1 ? [...picked.filter((st) => st.kind === 'exit'), ...picked.filter((st) => st.kind === 'call')] : picked;

    // ...and the stimuli go out in that order, none waiting for another.
    const base: Event[] = [];
    const outcomes = new Map<number, Promise<Outcome>>();
    for (const [i, st] of issued.entries()) {
      if (st.kind === 'call') {
        base.push(st);
        outcomes.set(st.index, outcomeOf(this.invoke(sup, st.call, real), describeCall(st.call)));
      } else {
        // A worker that is being stopped or restarted right now cannot be told anything.
        const info = realSupervisor(real, this.supPath)?.whichChildren().find((c) => c.id === st.exit.id);
        if (info?.ref && info.status === 'running') {
          info.ref.tell({ type: st.exit.kind === 'crash' ? 'CRASH' : 'EXIT' });
          base.push({ kind: 'trigger', index: st.index, exit: st.exit });
        }
      }
      const gap = this.exits.length > 1 && i === 0 ? 0 : (this.gaps[i] ?? 0);
      for (let k = 0; k < gap; k++) await Promise.resolve();
    }
    const issueOrder = base.map(describeEvent).join(', ');
    const calls = base.filter((e): e is CallEvent => e.kind === 'call');
    const results = await Promise.all(calls.map((e) => outcomes.get(e.index)!));
    await settleReal(real);

    const actual = actualState(real);
    const tried: { order: string; candidate: SupervisionModel; expected: OpResult[] }[] = [];
    for (const order of interleavings(base)) {
      const candidate = model.clone();
      const expected = this.replay(candidate, order);
      if (!expected) continue;
      if (results.every((r, i) => outcomeMatches(r, expected[i]!)) && isDeepStrictEqual(actual, expectedState(candidate))) {
        model.copyFrom(candidate);
        checkIncarnations(model, real, `${this.toString()} issued as [${issueOrder}]`);
        return;
      }
      tried.push({ order: order.map(describeEvent).join(', '), candidate, expected });
    }
    // No arrival order explains the runtime. Report against the closest one:
    // the longest common trace, then the most call results right.
    const step = `${this.toString()} issued as [${issueOrder}]; no arrival order fits (tried: ${tried.map((t) => `[${t.order}]`).join(' ')})`;
    const score = (t: (typeof tried)[number]) => {
      const trace = t.candidate.trace;
      let same = 0;
      while (same < trace.length && trace[same] === actual.trace[same]) same++;
      return same * 100 + results.filter((r, i) => outcomeMatches(r, t.expected[i]!)).length;
    };
    const best = tried.reduce<(typeof tried)[number] | undefined>((a, t) => (a === undefined || score(t) > score(a) ? t : a), undefined);
    if (!best) throw new Error(`${step}: the model cannot replay any order`);
    for (const [i, e] of calls.entries()) expectOutcome(results[i]!, best.expected[i]!, `${step}; compared with [${best.order}]: ${describeCall(e.call)}`);
    expectState(expectedState(best.candidate), actual, `${step}; compared with [${best.order}]`);
    throw new Error(`${step}: results and state differ`);
  }

  /** Apply `order` to `model`; the calls' results, or undefined if the order is impossible. */
  private replay(model: SupervisionModel, order: readonly Event[]): OpResult[] | undefined {
    const target = model.supervisor(this.supPath)!;
    const expected: OpResult[] = [];
    // Retries of failed restarts go through a setImmediate: every stimulus
    // here is issued before that, within microtasks, so they come after all.
    model.batching = true;
    for (const ev of order) {
      const path = ev.kind === 'call' ? '' : childPath(this.supPath, ev.exit.id);
      if (ev.kind === 'call') expected.push(this.apply(model, target, ev.call));
      else if (ev.kind === 'trigger') {
        if (!model.doom(path)) return undefined;
      } else model.arrive(path, ev.exit.kind === 'crash' ? 'error' : 'normal');
    }
    model.batching = false;
    model.drainRetries();
    return expected;
  }

  private invoke(sup: Supervisor, call: Call, real: Real): Promise<unknown> {
    switch (call.kind) {
      case 'terminate':
        return sup.terminateChild(call.id);
      case 'restart':
        return sup.restartChild(call.id);
      case 'delete':
        return sup.deleteChild(call.id);
      case 'start':
        return sup.startChild(toChildSpec(call.def, this.supPath, real.recorder));
    }
  }

  private apply(model: SupervisionModel, target: ModelSup, call: Call): OpResult {
    switch (call.kind) {
      case 'terminate':
        return model.terminateChild(target, call.id);
      case 'restart':
        return model.restartChild(target, call.id);
      case 'delete':
        return model.deleteChild(target, call.id);
      case 'start':
        return model.startChild(target, call.def);
    }
  }

  toString(): string {
    const all = [...this.calls.map(describeCall), ...this.exits.map(describeExit)];
    return `concurrently(${this.supPath}: ${all.join(', ')}; gaps ${this.gaps.join('/')})`;
  }
}
