#!/usr/bin/env node
/**
 * `npm test`: make sure nats-server is available, then run vitest.
 *
 * - nats-server lookup (same order as spec/support/natsServer.ts):
 *   $NATS_SERVER_BIN, PATH, /usr/sbin/nats-server, /usr/bin/nats-server.
 * - Missing, running as root with apt-get: `apt-get update && apt-get install
 *   -y nats-server`, output streamed. Otherwise print how to install and exit
 *   1. The NATS tests are never skipped.
 * - chromium for the observer's browser tests (spec/observer.spec.ts):
 *   $CHROMIUM_BIN or /usr/bin/chromium; missing, as root with apt-get:
 *   `apt-get install -y chromium`, else print how to install and exit 1.
 * - Then `npx vitest run <extra argv>`, with NATS_SERVER_BIN and
 *   CHROMIUM_BIN set to the binaries found; exits with vitest's exit code.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const INSTALL_HINT = [
  'nats-server is required to run the tests (the NATS integration tests are never skipped).',
  'Install it with:   sudo apt-get install nats-server      (Debian/Ubuntu)',
  'or download it from https://github.com/nats-io/nats-server/releases,',
  'or set NATS_SERVER_BIN to the path of an existing binary.',
].join('\n');

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findNatsServer() {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  for (const path of ['/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (isExecutable(path)) return path;
  }
  return undefined;
}

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.error) {
    console.error(`cannot run ${command}: ${result.error.message}`);
    return 1;
  }
  return result.status ?? (result.signal ? 128 : 1);
}

function haveAptGet() {
  return spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
}

let bin = findNatsServer();
if (bin === undefined) {
  if (process.env.NATS_SERVER_BIN) {
    console.error(`NATS_SERVER_BIN=${process.env.NATS_SERVER_BIN} is not an executable file.\n${INSTALL_HINT}`);
    process.exit(1);
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && haveAptGet()) {
    console.error('nats-server not found; installing it with apt-get...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (run('apt-get', ['update'], env) !== 0 || run('apt-get', ['install', '-y', 'nats-server'], env) !== 0) {
      console.error(`apt-get could not install nats-server.\n${INSTALL_HINT}`);
      process.exit(1);
    }
    bin = findNatsServer();
  }
  if (bin === undefined) {
    console.error(INSTALL_HINT);
    process.exit(1);
  }
}

const CHROMIUM_HINT = 'chromium is required for the observer tests: sudo apt-get install chromium, or set CHROMIUM_BIN.';
const findChromium = () => [process.env.CHROMIUM_BIN, '/usr/bin/chromium'].find((p) => p && isExecutable(p));
let chromiumBin = findChromium();
if (chromiumBin === undefined) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && haveAptGet()) {
    console.error('chromium not found; installing it with apt-get...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (run('apt-get', ['update'], env) === 0 && run('apt-get', ['install', '-y', 'chromium'], env) === 0) chromiumBin = findChromium();
  }
  if (chromiumBin === undefined) {
    console.error(CHROMIUM_HINT);
    process.exit(1);
  }
}

// A JSON report beside the console one, so that the run ends with a plain
// "N passed, N failed" line any CI can read.
const report = join(mkdtempSync(join(tmpdir(), 'halyard-test-')), 'vitest.json');
const code = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)], {
  ...process.env,
  NATS_SERVER_BIN: bin,
  CHROMIUM_BIN: chromiumBin,
});
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
  if (r.numTotalTests === 0) {
    console.error('no test ran');
    process.exit(1);
  }
} catch {
  // No report (vitest could not start): its exit code says why.
}
process.exit(code);
