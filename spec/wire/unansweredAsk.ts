// Run as a child process by wire.process.spec.ts: an ask nobody answers must
// keep the process alive until its TimeoutError, which this prints.
import { fromCallback } from 'xstate';
import { createNode } from '../../src/services/node/Node.js';

const silent = fromCallback(() => {});
const node = await createNode({ name: 'lonely' });
node.spawn(silent, { name: 'silent' });
try {
  await node.ref('silent').ask({ type: 'HELLO' }, { timeout: 200 });
  console.log('answered?');
} catch (err) {
  console.log(`caught ${(err as Error).name}: ${(err as Error).message}`);
}
await node.shutdown();
