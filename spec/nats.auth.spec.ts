/**
 * Authentication against real nats-servers configured by file: token,
 * user/password (as options and as URL user info) and nkey, with right and
 * wrong credentials. Right ones give a working node (tell + ask across two
 * nodes); wrong ones reject with a typed error that says authorization
 * failed. In every case no secret shows in a trace-level log line or in the
 * error's message, stack or inspect output. Last, TLS with a CA made by
 * openssl for the run.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createUser } from '@nats-io/nkeys';
import { nkeyAuthenticator } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, PermissionDeniedError, TransportError } from '../src/errors.js';
import { DeadLetterReason } from '../src/actors/DeadLetters.js';
import { waitFor } from './support/wait.js';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { splitServerCredentials } from '../src/transport/serverCredentials.js';
import { counterMachine } from './support/machines.js';
import { type NatsServerHandle, startNatsServer } from './support/natsServer.js';

type NatsConfig = Extract<NonNullable<NodeOptions['transport']>, { kind: 'nats' }>;

const hex = (prefix: string) => `${prefix}${randomBytes(12).toString('hex')}`;
/** Long enough for a loaded machine; a wrong credential must settle well before it. */
const CONNECT_TIMEOUT_MS = 10_000;

describe('nats auth', () => {
  const nodes: Node[] = [];
  let lines: string[] = [];
  const logger = () => pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
  afterEach(async () => {
    await Promise.allSettled(nodes.splice(0).map((n) => n.shutdown()));
    lines = [];
  });

  function expectNoLeak(secrets: readonly string[], err?: unknown): void {
    // A check over no log lines would pass for nothing.
    expect(lines.length).toBeGreaterThan(0);
    const texts = [lines.join('\n')];
    if (err !== undefined) {
      const e = err as Error;
      texts.push(String(e.message), String(e.stack), inspect(err, { depth: 10, showHidden: true }));
    }
    for (const text of texts) {
      for (const secret of secrets) expect(text.includes(secret), `a secret appears in: ${text.slice(0, 300)}`).toBe(false);
    }
  }

  async function node(name: string, transport: NatsConfig): Promise<Node> {
    const n = await createNode({ name, transport: { timeout: CONNECT_TIMEOUT_MS, ...transport }, logger: logger() });
    nodes.push(n);
    return n;
  }

  /** Two nodes with the same credentials: b asks a's counter over the wire. */
  async function expectRoundTrip(transport: NatsConfig, secrets: readonly string[]): Promise<void> {
    const a = await node('auth-a', transport);
    const b = await node('auth-b', transport);
    a.spawn(counterMachine, { name: 'counter', input: { start: 1 } });
    // The server knows a's subscription once a's flush returns.
    await a.flush();
    const ref = b.ref('counter');
    ref.tell({ type: 'INC' });
    await expect(ref.ask({ type: 'GET' }, { timeout: 10_000 })).resolves.toBe(2);
    expectNoLeak(secrets);
  }

  /** The connect rejects with a typed error naming the auth failure, before the connect timeout. */
  async function expectRefused(transport: NatsConfig, secrets: readonly string[]): Promise<number> {
    const started = performance.now();
    const err = await node('auth-bad', transport).then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = performance.now() - started;
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/authori[sz]ation/i);
    expect(took).toBeLessThan(CONNECT_TIMEOUT_MS);
    expectNoLeak(secrets, err);
    return took;
  }

  describe('user and password', () => {
    const user = 'halyard';
    const pass = hex('pw-');
    let server: NatsServerHandle;
    beforeAll(async () => {
      server = await startNatsServer({ config: `authorization { user: ${user}, password: "${pass}" }\n` });
    });
    afterAll(() => server.stop());

    it('nats auth - a node connects with user info in the server URL and tell/ask works', async () => {
      const url = server.url.replace('nats://', `nats://${user}:${pass}@`);
      await expectRoundTrip({ kind: 'nats', servers: url }, [pass]);
    });

    it('nats auth - a node connects with user and pass options and tell/ask works', async () => {
      await expectRoundTrip({ kind: 'nats', servers: server.url, user, pass }, [pass]);
    });

    it('nats auth - a wrong password is refused with an authorization error that does not repeat it', async () => {
      const wrong = hex('wrong-');
      await expectRefused({ kind: 'nats', servers: server.url, user, pass: wrong }, [wrong, pass]);
      const url = server.url.replace('nats://', `nats://${user}:${wrong}@`);
      await expectRefused({ kind: 'nats', servers: url }, [wrong, pass]);
    });
  });

  describe('token', () => {
    const token = hex('tok-');
    let server: NatsServerHandle;
    beforeAll(async () => {
      server = await startNatsServer({ config: `authorization { token: "${token}" }\n` });
    });
    afterAll(() => server.stop());

    it('nats auth - a node connects with the right token and tell/ask works', async () => {
      await expectRoundTrip({ kind: 'nats', servers: server.url, token }, [token]);
    });

    it('nats auth - a node connects with the token as URL user info and tell/ask works', async () => {
      await expectRoundTrip({ kind: 'nats', servers: server.url.replace('nats://', `nats://${token}@`) }, [token]);
    });

    it('nats auth - a wrong token is refused with an authorization error that does not repeat it', async () => {
      const wrong = hex('wrong-');
      await expectRefused({ kind: 'nats', servers: server.url, token: wrong }, [wrong, token]);
      await expectRefused({ kind: 'nats', servers: server.url }, [token]);
    });
  });

  describe('nkey', () => {
    const user = createUser();
    const seed = user.getSeed();
    const seedText = new TextDecoder().decode(seed);
    let server: NatsServerHandle;
    beforeAll(async () => {
      server = await startNatsServer({ config: `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }\n` });
    });
    afterAll(() => server.stop());

    it('nats auth - a node connects with the right nkey seed and tell/ask works', async () => {
      await expectRoundTrip({ kind: 'nats', servers: server.url, authenticator: nkeyAuthenticator(seed) }, [seedText]);
    });

    it('nats auth - an unknown nkey is refused with an authorization error that does not show either seed', async () => {
      const other = createUser();
      const otherSeed = new TextDecoder().decode(other.getSeed());
      await expectRefused({ kind: 'nats', servers: server.url, authenticator: nkeyAuthenticator(other.getSeed()) }, [
        otherSeed,
        seedText,
      ]);
    });
  });

  describe('tls', () => {
    let dir: string;
    let server: NatsServerHandle;
    beforeAll(async () => {
      // A throwaway CA and a server certificate for 127.0.0.1, made fresh so no key lives in the repository.
      dir = mkdtempSync(join(tmpdir(), 'halyard-tls-'));
      const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=halyard-test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
      // DNS:localhost too: nats.js upgrades its socket with no SNI name for an IP address, and Node then
      // checks the certificate against "localhost" (seen: ERR_TLS_CERT_ALTNAME_INVALID with IP alone).
      writeFileSync(join(dir, 'san.ext'), 'subjectAltName = IP:127.0.0.1, DNS:localhost\n');
      ssl(
        'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1',
        '-extfile', 'san.ext', '-out', 'server.pem',
      );
      server = await startNatsServer({
        config: `tls { cert_file: "${join(dir, 'server.pem')}", key_file: "${join(dir, 'server.key')}" }\n`,
      });
    });
    afterAll(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('nats auth - a client trusting the test CA connects over TLS and tell/ask works', async () => {
      await expectRoundTrip({ kind: 'nats', servers: server.url, tls: { caFile: join(dir, 'ca.pem') } }, []);
    });

    it('nats auth - a client that does not trust the CA is refused with TransportError', async () => {
      const err = await node('tls-untrusted', { kind: 'nats', servers: server.url, tls: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TransportError);
    });
  });

  describe('url credentials', () => {
    it('nats auth - URL user info is lifted out of the server list', () => {
      const split = splitServerCredentials(['nats://u:p%40ss@h:1', 'tls://u:p%40ss@h:2', 'h:3'], {});
      expect(split.servers).toEqual(['nats://h:1', 'tls://h:2', 'h:3']);
      expect(split.credentials).toEqual({ user: 'u', pass: 'p@ss' });
      expect(split.secrets).toContain('p@ss');
      const token = splitServerCredentials(['nats://tok123@h:1'], { token: 'tok123' });
      expect(token.credentials).toEqual({ token: 'tok123' });
      expect(token.servers).toEqual(['nats://h:1']);
    });

    it('nats auth - conflicting credentials between URLs or with options are an InvalidArgumentError naming servers', () => {
      const cases: [string[], Record<string, string>][] = [
        [['nats://u:secret-one@h:1', 'nats://u:secret-two@h:2'], {}],
        [['nats://u:secret-one@h:1'], { pass: 'secret-two' }],
        [['nats://u:secret-one@h:1'], { token: 'secret-two' }],
        [['nats://secret-one@h:1'], { user: 'x', pass: 'secret-two' }],
        [['nats://secret-one@h:1', 'nats://u:secret-two@h:2'], {}],
      ];
      for (const [urls, explicit] of cases) {
        let caught: unknown;
        try {
          splitServerCredentials(urls, explicit);
        } catch (e) {
          caught = e;
        }
        expect(caught, JSON.stringify(urls)).toBeInstanceOf(InvalidArgumentError);
        expect((caught as InvalidArgumentError).field).toBe('servers');
        expect(inspect(caught)).not.toMatch(/secret-one|secret-two/);
      }
    });

    it('nats auth - createNode rejects conflicting URL credentials with InvalidArgumentError', async () => {
      await expect(
        createNode({ name: 'conflict', transport: { kind: 'nats', servers: ['nats://a:b@127.0.0.1:1', 'nats://a:c@127.0.0.1:2'] } }),
      ).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'servers' });
    });
  });
  describe('subject permissions', () => {
    const pass = hex('pw-');
    let server: NatsServerHandle;
    beforeAll(async () => {
      server = await startNatsServer({
        config: [
          'authorization {',
          '  users: [',
          `    { user: "full", password: "${pass}" }`,
          `    { user: "limited", password: "${pass}", permissions: { publish: { allow: ["halyard.svc.counter", "_INBOX.>"] }, subscribe: { allow: [">"] } } }`,
          '  ]',
          '}',
          '',
        ].join('\n'),
      });
    });
    afterAll(() => server.stop());

    it('nats auth - a user allowed only halyard.svc.counter reaches counter; a tell elsewhere is a permission-denied dead letter and an ask fails at once with PermissionDeniedError', async () => {
      const host = await node('perm-host', { kind: 'nats', servers: server.url, user: 'full', pass });
      host.spawn(counterMachine, { name: 'counter', input: { start: 1 } });
      host.spawn(counterMachine, { name: 'other' });
      await host.flush();
      const lim = await node('perm-lim', { kind: 'nats', servers: server.url, user: 'limited', pass });
      await expect(lim.ref('counter').ask({ type: 'GET' }, { timeout: 10_000 })).resolves.toBe(1);

      lim.ref('other').tell({ type: 'INC' });
      await waitFor(() => lim.deadLetters.count(DeadLetterReason.PermissionDenied) >= 1, { timeout: 10_000, message: 'denied tell counted' });

      // The deadline is far off: the refusal, not the timer, settles the ask.
      const err = await lim.ref('other').ask({ type: 'GET' }, { timeout: 60_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect(err).toMatchObject({ subject: 'halyard.svc.other', operation: 'publish', code: 'ERR_PERMISSION_DENIED' });
      expect(lim.deadLetters.count(DeadLetterReason.PermissionDenied)).toBe(2);
      // Nothing reached the other actor.
      await expect(host.ref('other').ask({ type: 'GET' })).resolves.toBe(0);
      expectNoLeak([pass], err);
    });
  });
});
