/**
 * Authentication against real nats-servers configured by file: token,
 * user/password (as options and as URL user info) and nkey, with right and
 * wrong credentials. Right ones give a working node (tell + ask across two
 * nodes); wrong ones reject with a typed error that says authorization
 * failed. In every case no secret shows in a trace-level log line or in the
 * error's message, stack or inspect output. Last, TLS and mutual TLS with CAs
 * made by openssl for the run.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createUser } from '@nats-io/nkeys';
import { nkeyAuthenticator } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, PermissionDeniedError, TlsFailureReason, TlsHandshakeError, TransportError } from '../src/errors.js';
import { DeadLetterReason } from '../src/actors/DeadLetters.js';
import { waitFor } from './support/wait.js';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { splitServerCredentials } from '../src/transport/serverCredentials.js';
import { tlsHandshakeFailure } from '../src/transport/tlsFailure.js';
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
      expect(err).toBeInstanceOf(TlsHandshakeError);
      expect(err).toMatchObject({ reason: TlsFailureReason.ServerCertificateUntrusted });
      expect((err as Error).message).toMatch(/does not trust the server's certificate/);
    });
  });

  describe('mutual tls', () => {
    let dir: string;
    let server: NatsServerHandle;
    const file = (name: string) => join(dir, name);
    /** The base64 lines of a PEM file: any one of them in an error or a log line would be key or certificate material. */
    const material = (...names: string[]) =>
      names.flatMap((n) => readFileSync(file(n), 'utf8').split('\n').filter((l) => l.length >= 32 && !l.startsWith('-----')));
    /** Longer than the client's default (20 s) and than the test's own timeout: only the handshake's refusal can settle the connect in time. */
    const PATIENT_MS = 120_000;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'halyard-mtls-'));
      const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
      const ca = (name: string) =>
        ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`);
      const issue = (name: string, cn: string, signer: string, ext: string) => {
        ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
        writeFileSync(file(`${name}.ext`), ext);
        ssl(
          'x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-days', '1',
          '-extfile', `${name}.ext`, '-out', `${name}.pem`,
        );
      };
      ca('ca');
      ca('other-ca');
      // DNS:localhost as in the TLS case above: nats.js gives Node no SNI name for an IP address.
      issue('server', '127.0.0.1', 'ca', 'subjectAltName = IP:127.0.0.1, DNS:localhost\n');
      issue('client', 'halyard-client', 'ca', 'extendedKeyUsage = clientAuth\n');
      issue('stranger', 'halyard-client', 'other-ca', 'extendedKeyUsage = clientAuth\n');
      server = await startNatsServer({
        config: `tls { cert_file: "${file('server.pem')}", key_file: "${file('server.key')}", ca_file: "${file('ca.pem')}", verify: true }\n`,
      });
    });
    afterAll(async () => {
      await server?.stop();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    /** The connect fails with a TlsHandshakeError for `reason`, whose message says so; no PEM material anywhere. */
    async function expectHandshakeRefused(tls: NatsConfig['tls'], reason: TlsFailureReason, says: RegExp): Promise<void> {
      const err = await node('mtls-refused', { kind: 'nats', servers: server.url, tls, timeout: PATIENT_MS }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TlsHandshakeError);
      expect(err).toBeInstanceOf(TransportError);
      expect(err).toMatchObject({ name: 'TlsHandshakeError', code: 'ERR_TLS_HANDSHAKE', reason });
      expect((err as Error).message).toMatch(/TLS handshake failed/);
      expect((err as Error).message).toMatch(says);
      expectNoLeak(material('client.key', 'client.pem', 'stranger.key', 'stranger.pem', 'ca.key', 'server.key'), err);
    }

    it('nats auth - mutual TLS: a client with a certificate from the trusted CA connects and tell/ask works', async () => {
      const tls = { caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') };
      await expectRoundTrip({ kind: 'nats', servers: server.url, tls }, material('client.key', 'client.pem'));
    });

    it('nats auth - mutual TLS: a client that sends no certificate fails at once, saying the server requires a client certificate', async () => {
      await expectHandshakeRefused(
        { caFile: file('ca.pem') },
        TlsFailureReason.ClientCertificateRequired,
        /server requires a client certificate and none was sent/,
      );
    });

    it('nats auth - mutual TLS: a client certificate from another CA fails at once, saying the server rejected it', async () => {
      // Inline PEM rather than files: key material handed over as a string must not come back in the error either.
      const tls = { caFile: file('ca.pem'), cert: readFileSync(file('stranger.pem'), 'utf8'), key: readFileSync(file('stranger.key'), 'utf8') };
      await expectHandshakeRefused(tls, TlsFailureReason.ClientCertificateRejected, /server rejected the client certificate/);
    });
  });

  describe('tls failure reading', () => {
    const socketError = (code: string) => Object.assign(new Error(`socket says ${code}`), { code });
    it('nats auth - a TLS failure is named from the socket error and what the client configured', () => {
      const withCert = { tls: true, clientCertificate: true };
      const noCert = { tls: true, clientCertificate: false };
      const cases: [string, { tls: boolean; clientCertificate: boolean }, TlsFailureReason | undefined, RegExp?][] = [
        ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', noCert, TlsFailureReason.ClientCertificateRequired, /server alert: bad certificate/],
        ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', noCert, TlsFailureReason.ClientCertificateRequired, /certificate required/],
        ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', withCert, TlsFailureReason.ClientCertificateRejected, /bad certificate/],
        ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', withCert, TlsFailureReason.ClientCertificateRejected, /unknown ca/],
        ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', withCert, TlsFailureReason.HandshakeFailed, /protocol version/],
        ['ERR_SSL_WRONG_VERSION_NUMBER', noCert, TlsFailureReason.HandshakeFailed, /wrong version number/],
        ['SELF_SIGNED_CERT_IN_CHAIN', noCert, TlsFailureReason.ServerCertificateUntrusted, /tls\.caFile/],
        ['ERR_TLS_CERT_ALTNAME_INVALID', withCert, TlsFailureReason.ServerCertificateUntrusted, /altname invalid/],
        // A reset can overtake the alert (TLS 1.3): read as a refusal, and said to be inferred.
        ['ECONNRESET', noCert, TlsFailureReason.ClientCertificateRequired, /inferred/],
        ['ECONNRESET', withCert, TlsFailureReason.ClientCertificateRejected, /inferred/],
        // Without TLS a reset is only a reset.
        ['ECONNRESET', { tls: false, clientCertificate: false }, undefined],
        ['ECONNREFUSED', noCert, undefined],
      ];
      for (const [code, attempt, reason, says] of cases) {
        const got = tlsHandshakeFailure(socketError(code), attempt);
        expect(got?.reason, `${code} ${JSON.stringify(attempt)}`).toBe(reason);
        if (says !== undefined) expect(got?.detail).toMatch(says);
      }
      expect(tlsHandshakeFailure(new Error('no code'), withCert)).toBeUndefined();
      expect(tlsHandshakeFailure(undefined, withCert)).toBeUndefined();
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
