/**
 * The mailbox ring buffer against a plain array model: FIFO order and depth
 * through growth and wrap-around (fast-check prints the seed on failure).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mailbox } from '../src/actors/Mailbox.js';
import type { ReplyHandle } from '../src/actors/reply.js';

describe('actors - mailbox', () => {
  it('actors - the mailbox hands messages out in arrival order through growth and wrap-around (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant('shift' as const), fc.integer({ min: 0, max: 1_000_000 })), { maxLength: 400 }), (ops) => {
        const mb = new Mailbox(1_000, 'reject');
        const model: { event: unknown; reply: ReplyHandle | undefined }[] = [];
        for (const op of ops) {
          if (op === 'shift') {
            const had = mb.shift();
            expect(had).toBe(model.length > 0);
            if (had) {
              const want = model.shift()!;
              expect(mb.outEvent).toBe(want.event);
              expect(mb.outReply).toBe(want.reply);
            }
          } else {
            const event = { type: 'E', n: op };
            const reply = op % 3 === 0 ? ({ resolve() {}, reject() {} } as unknown as ReplyHandle) : undefined;
            mb.push(event, reply);
            model.push({ event, reply });
          }
          expect(mb.depth).toBe(model.length);
        }
        const rest: unknown[] = [];
        mb.clear((event) => rest.push(event));
        expect(rest).toEqual(model.map((m) => m.event));
        expect(mb.depth).toBe(0);
      }),
    );
  });
});
