/**
 * Credentials written into server URLs (`nats://user:pass@host:port`,
 * `nats://token@host:port`). The v3 client ignores URL user info, so they are
 * lifted out here: the client gets plain URLs plus `user`/`pass` or `token`,
 * and the caller gets the values to scrub from everything it shows.
 */
import { InvalidArgumentError } from '../errors.js';

export interface Credentials {
  readonly token?: string;
  readonly user?: string;
  readonly pass?: string;
}

export interface SplitServers {
  /** The URLs without user info, in the caller's order. */
  readonly servers: readonly string[];
  /** The explicit credentials merged with those from the URLs. */
  readonly credentials: Credentials;
  /** Every secret value found in the URLs, raw and percent-decoded. */
  readonly secrets: readonly string[];
}

/** `scheme://` (optional) then user info up to the last `@` before the host. */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)?([^/@]*)@/i;

function same(a: Credentials, b: Credentials): boolean {
  return a.token === b.token && a.user === b.user && a.pass === b.pass;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * Splits user info off each URL. URLs may carry credentials or not; those
 * that do must agree with each other and with any explicit `token`, `user`
 * and `pass`, or an `InvalidArgumentError` naming `servers` is thrown (its
 * message never repeats a credential).
 */
export function splitServerCredentials(urls: readonly string[], explicit: Credentials): SplitServers {
  const servers: string[] = [];
  const secrets: string[] = [];
  let fromUrls: Credentials | undefined;
  for (const [index, url] of urls.entries()) {
    const match = USERINFO.exec(url);
    if (match === null) {
      servers.push(url);
      continue;
    }
    const scheme = match[1] ?? '';
    const info = match[2] ?? '';
    const stripped = scheme + url.slice(match[0].length);
    let parsed: URL;
    try {
      parsed = new URL(scheme === '' ? `nats://${url}` : url);
    } catch {
      throw new InvalidArgumentError('servers', `server ${index} is not a valid URL (credentials not shown)`);
    }
    const user = decode(parsed.username);
    const pass = decode(parsed.password);
    const colon = info.indexOf(':');
    const found: Credentials = colon < 0 ? { token: user } : { user, pass };
    if ((found.token ?? found.user ?? '') === '') {
      throw new InvalidArgumentError('servers', `server ${index} has an empty user name or token before '@'`);
    }
    for (const secret of [found.token, found.pass, info, info.slice(colon + 1)]) {
      if (secret !== undefined && secret.length > 0 && !secrets.includes(secret)) secrets.push(secret);
    }
    if (fromUrls !== undefined && !same(fromUrls, found)) {
      throw new InvalidArgumentError('servers', `server ${index} carries different credentials than an earlier server`);
    }
    fromUrls = found;
    servers.push(stripped);
  }
  if (fromUrls === undefined) return { servers, credentials: explicit, secrets };

  const conflicts =
    (explicit.token !== undefined && (fromUrls.token === undefined || explicit.token !== fromUrls.token)) ||
    (explicit.user !== undefined && explicit.user !== fromUrls.user) ||
    (explicit.pass !== undefined && explicit.pass !== fromUrls.pass);
  if (conflicts) {
    throw new InvalidArgumentError('servers', 'credentials in the URLs conflict with the token/user/pass options');
  }
  return { servers, credentials: fromUrls, secrets };
}
