/**
 * Reads what Node's TLS stack reports about a failed connect as a reason and
 * a sentence that says which side refused what (`NatsTransport` throws them
 * as a `TlsHandshakeError`).
 *
 * What the client can see, and what it can only infer:
 * - The server's TLS alert arrives as an error whose `code` is
 *   `ERR_SSL_<VERSION>_ALERT_<NAME>` (e.g. `ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE`).
 *   nats-server 2.9 (Go's crypto/tls) sends `bad certificate` both when the
 *   client sent no certificate and when it sent one the server does not
 *   trust, so the alert alone cannot tell the two apart; whether *this*
 *   client configured a certificate can, and decides the reason.
 * - In TLS 1.3 the client finishes its side of the handshake before the
 *   server checks the client certificate, so nats.js has already sent
 *   `CONNECT` when the server closes; the reset can overtake the alert and
 *   the only error is `ECONNRESET`. On a TLS connection that never got its
 *   first PONG, a reset is read as the server refusing the client
 *   certificate, and the message says it is inferred.
 * - This client refusing the server's certificate comes as one of OpenSSL's
 *   verification codes (`SELF_SIGNED_CERT_IN_CHAIN`...) or Node's
 *   `ERR_TLS_CERT_ALTNAME_INVALID`.
 */
import { TlsFailureReason } from '../errors.js';

export interface TlsFailure {
  readonly reason: TlsFailureReason;
  /** Names the refusing side and what to change; holds no key material. */
  readonly detail: string;
}

/** What the connect knew about its own TLS set-up. */
export interface TlsAttempt {
  /** TLS was asked for: `tls` options were given or a server URL is `tls://`. */
  readonly tls: boolean;
  /** A client certificate was configured (`cert` or `certFile`). */
  readonly clientCertificate: boolean;
}

const ALERT = /^ERR_SSL_[A-Z0-9]+_ALERT_([A-Z0-9_]+)$/;

/** Alerts a server sends about the client's certificate (RFC 8446 §6.2). */
const CERTIFICATE_ALERTS = new Set([
  'BAD_CERTIFICATE',
  'CERTIFICATE_REQUIRED',
  'UNKNOWN_CA',
  'CERTIFICATE_UNKNOWN',
  'CERTIFICATE_EXPIRED',
  'CERTIFICATE_REVOKED',
  'UNSUPPORTED_CERTIFICATE',
  'ACCESS_DENIED',
]);

/** OpenSSL's and Node's codes for a server certificate this client refused. */
const SERVER_CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const NO_CERTIFICATE_HINT = 'set tls.certFile and tls.keyFile (or tls.cert and tls.key) to a certificate signed by a CA the server trusts';
const REJECTED_HINT = "check that it is signed by a CA the server trusts (its tls ca_file), is not expired, and allows client authentication";

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Lower-case words of an alert or verification code: `BAD_CERTIFICATE` → `bad certificate`. */
function words(code: string): string {
  return code.toLowerCase().replace(/_/g, ' ');
}

/**
 * The TLS failure `err` stands for, or `undefined` when it is not one. `err`
 * is the client's connect error (nats.js passes Node's socket error through).
 */
export function tlsHandshakeFailure(err: unknown, attempt: TlsAttempt): TlsFailure | undefined {
  const code = codeOf(err);
  if (code === undefined) return undefined;

  const alert = ALERT.exec(code)?.[1];
  if (alert !== undefined) {
    const said = `server alert: ${words(alert)}`;
    if (!CERTIFICATE_ALERTS.has(alert)) {
      return { reason: TlsFailureReason.HandshakeFailed, detail: `the TLS handshake failed (${said})` };
    }
    return attempt.clientCertificate
      ? {
          reason: TlsFailureReason.ClientCertificateRejected,
          detail: `the TLS handshake failed: the server rejected the client certificate (${said}); ${REJECTED_HINT}`,
        }
      : {
          reason: TlsFailureReason.ClientCertificateRequired,
          detail: `the TLS handshake failed: the server requires a client certificate and none was sent (${said}); ${NO_CERTIFICATE_HINT}`,
        };
  }

  if (SERVER_CERTIFICATE_CODES.has(code)) {
    return {
      reason: TlsFailureReason.ServerCertificateUntrusted,
      detail: `the TLS handshake failed: this client does not trust the server's certificate (${words(code)}); set tls.caFile to the CA that signed it`,
    };
  }

  if (code === 'ECONNRESET' && attempt.tls) {
    const inferred =
      'inferred: it reset the connection right after the handshake, before its first reply, as a server requiring client certificates does with';
    return attempt.clientCertificate
      ? {
          reason: TlsFailureReason.ClientCertificateRejected,
          detail: `the TLS handshake failed: the server rejected the client certificate (${inferred} one it refuses); ${REJECTED_HINT}`,
        }
      : {
          reason: TlsFailureReason.ClientCertificateRequired,
          detail: `the TLS handshake failed: the server requires a client certificate and none was sent (${inferred} a client without one); ${NO_CERTIFICATE_HINT}`,
        };
  }

  if (code.startsWith('ERR_SSL_')) {
    const what = words(code.slice('ERR_SSL_'.length));
    return { reason: TlsFailureReason.HandshakeFailed, detail: `the TLS handshake failed (${what})` };
  }
  return undefined;
}
