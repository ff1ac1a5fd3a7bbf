/**
 * Shared by the `$SRV` specs: the ADR-32 response schemas written out as
 * checks (from the field lists of the nats CLI's `io.nats.micro.v1.*`
 * schemas, with the Go library's always-present `metadata` and `last_error`),
 * and a plain-request helper that gathers every reply to one request.
 *
 * The checks return a list of problems (empty when valid), so a failing test
 * names every wrong field at once.
 */
import { randomBytes } from 'node:crypto';
import type { Msg, Transport } from '../src/transport/Transport.js';
import { waitFor } from './support/wait.js';

// Written from semver.org's grammar, independently of src/ (which must agree with it).
const SEMVER_SCHEMA =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const BASIC_NAME = /^[a-zA-Z0-9_-]+$/;
// RFC 3339 date-time (JSON Schema "date-time"), with a zone.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
// The schema's int64 bounds, as the nearest doubles JSON.parse can give.
const INT64 = 2 ** 63;

type Problems = string[];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(p: Problems, obj: Record<string, unknown>, key: string, rule?: { pattern?: RegExp; minLength?: number }, at = ''): void {
  const v = obj[key];
  if (typeof v !== 'string') {
    p.push(`${at}${key}: expected a string, got ${JSON.stringify(v)}`);
    return;
  }
  if (rule?.minLength !== undefined && v.length < rule.minLength) p.push(`${at}${key}: shorter than ${rule.minLength}`);
  if (rule?.pattern !== undefined && !rule.pattern.test(v)) p.push(`${at}${key}: ${JSON.stringify(v)} does not match ${rule.pattern}`);
}

function int(p: Problems, obj: Record<string, unknown>, key: string, at: string): void {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v >= INT64 || v < -INT64) p.push(`${at}${key}: expected an int64, got ${JSON.stringify(v)}`);
}

function metadata(p: Problems, obj: Record<string, unknown>, at: string): void {
  // The schema allows null or absence; the Go library (and we) always send an object.
  const v = obj.metadata;
  if (!isObject(v)) {
    p.push(`${at}metadata: expected an object, got ${JSON.stringify(v)}`);
    return;
  }
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') p.push(`${at}metadata.${k}: expected a string`);
}

function identity(p: Problems, r: unknown, type: string): r is Record<string, unknown> {
  if (!isObject(r)) {
    p.push(`response: expected an object, got ${JSON.stringify(r)}`);
    return false;
  }
  if (r.type !== type) p.push(`type: expected ${type}, got ${JSON.stringify(r.type)}`);
  str(p, r, 'name', { pattern: BASIC_NAME, minLength: 1 });
  str(p, r, 'id', { minLength: 1 });
  str(p, r, 'version', { pattern: SEMVER_SCHEMA, minLength: 5 });
  metadata(p, r, '');
  return true;
}

export function pingProblems(r: unknown): Problems {
  const p: Problems = [];
  identity(p, r, 'io.nats.micro.v1.ping_response');
  return p;
}

export function infoProblems(r: unknown): Problems {
  const p: Problems = [];
  if (!identity(p, r, 'io.nats.micro.v1.info_response')) return p;
  str(p, r, 'description');
  if (!Array.isArray(r.endpoints)) {
    p.push('endpoints: expected an array');
    return p;
  }
  r.endpoints.forEach((e: unknown, i: number) => {
    const at = `endpoints[${i}].`;
    if (!isObject(e)) {
      p.push(`${at}: expected an object`);
      return;
    }
    str(p, e, 'name', { pattern: BASIC_NAME, minLength: 1 }, at);
    str(p, e, 'subject', { minLength: 1 }, at);
    if ('queue_group' in e) str(p, e, 'queue_group', { minLength: 1 }, at);
    metadata(p, e, at);
  });
  return p;
}

export function statsProblems(r: unknown): Problems {
  const p: Problems = [];
  if (!identity(p, r, 'io.nats.micro.v1.stats_response')) return p;
  str(p, r, 'started', { pattern: RFC3339 });
  if (typeof r.started === 'string' && Number.isNaN(Date.parse(r.started))) p.push('started: not a date');
  if (!Array.isArray(r.endpoints)) {
    p.push('endpoints: expected an array');
    return p;
  }
  r.endpoints.forEach((e: unknown, i: number) => {
    const at = `endpoints[${i}].`;
    if (!isObject(e)) {
      p.push(`${at}: expected an object`);
      return;
    }
    str(p, e, 'name', { pattern: BASIC_NAME, minLength: 1 }, at);
    str(p, e, 'subject', { minLength: 1 }, at);
    for (const k of ['num_requests', 'num_errors', 'processing_time', 'average_processing_time']) int(p, e, k, at);
    str(p, e, 'last_error', {}, at);
    if ('data' in e && !isObject(e.data)) p.push(`${at}data: expected an object`);
  });
  return p;
}

export interface Gathered {
  readonly msgs: Msg[];
  json(): any[];
}

/**
 * Publish one request to `subject` and collect replies until `expected` have
 * arrived (or fail after `timeout`). With `exact`, a sentinel PING to
 * `exact` (a `$SRV.PING.<name>.<id>` subject, answered by the same responder
 * after the request's replies) must come back too, and no reply may arrive
 * beyond `expected` before it: a count, not a timing. With `names`, only
 * replies from services of those names are kept and counted.
 */
export async function gather(
  transport: Transport,
  subject: string,
  expected: number,
  options: { body?: Uint8Array; timeout?: number; exact?: string; names?: ReadonlySet<string> } = {},
): Promise<Gathered> {
  const decoder = new TextDecoder();
  // On the shared server other spec files' services answer root requests too: keep only ours.
  const ours = (m: Msg) => options.names === undefined || options.names.has(JSON.parse(decoder.decode(m.data)).name);
  const prefix = `_INBOX.micro${randomBytes(6).toString('hex')}`;
  const msgs: Msg[] = [];
  let sentinel = false;
  const sub = transport.subscribe(`${prefix}.*`, (m) => {
    if (m.subject === `${prefix}.sentinel`) sentinel = true;
    else if (ours(m)) msgs.push(m);
  });
  try {
    transport.publish(subject, options.body ?? new Uint8Array(0), { reply: `${prefix}.r` });
    const timeout = options.timeout ?? 10_000;
    await waitFor(() => msgs.length >= expected, { timeout, message: `${expected} replies on ${subject} (got ${msgs.length})` });
    if (options.exact !== undefined) {
      transport.publish(options.exact, new Uint8Array(0), { reply: `${prefix}.sentinel` });
      await waitFor(() => sentinel, { timeout, message: `the sentinel reply on ${options.exact}` });
    }
  } finally {
    sub.unsubscribe();
  }
  return { msgs, json: () => msgs.map((m) => JSON.parse(decoder.decode(m.data))) };
}

/** A name unique to this run, so tests on the shared server see only their own services. */
export function uniqueName(base: string): string {
  return `${base}-${randomBytes(4).toString('hex')}`;
}
