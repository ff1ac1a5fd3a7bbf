/**
 * Errors to plain NATS clients, as NATS micro sends them: the headers
 * `Nats-Service-Error: <description>` and `Nats-Service-Error-Code: <code>`
 * (HTTP-like codes: 400 bad request, 500 handler failed, 504 timed out).
 *
 * The description goes into a header, so CR and LF become spaces and it is
 * cut to 512 characters; it is the error's message only, never its cause or
 * stack.
 */

export const ServiceErrorHeader = 'Nats-Service-Error';
export const ServiceErrorCodeHeader = 'Nats-Service-Error-Code';

export const MicroErrorCode = {
  BadRequest: 400,
  Failed: 500,
  Timeout: 504,
} as const;

const MAX_DESCRIPTION = 512;

/** The header text of an error description: one line, bounded. */
export function serviceErrorDescription(error: unknown): string {
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : String(error);
  const line = text.replace(/[\r\n]+/g, ' ').trim();
  return (line.length > MAX_DESCRIPTION ? line.slice(0, MAX_DESCRIPTION) : line) || 'error';
}

/** Headers for an error answer. */
export function serviceErrorHeaders(code: number, description: string): Record<string, string> {
  return { [ServiceErrorHeader]: serviceErrorDescription(description), [ServiceErrorCodeHeader]: String(code) };
}

/** The error a reply carries, or `undefined` when it carries none. */
export function readServiceError(headers: { get(key: string): string | undefined } | undefined): { code: number; description: string } | undefined {
  const description = headers?.get(ServiceErrorHeader);
  const code = headers?.get(ServiceErrorCodeHeader);
  if (description === undefined && code === undefined) return undefined;
  return { code: Number(code ?? 500), description: description ?? '' };
}
