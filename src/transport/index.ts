/**
 * The transport layer's public names: the seam (`Transport.ts`), its two
 * implementations, subject validation and matching, and header rules.
 * Internal helpers (`RequestMux`, `guardHandler`, bus internals) stay out.
 */
export {
  TransportStatusType,
  type Msg,
  type MsgHandler,
  type MsgHeaders,
  type PublishOptions,
  type RequestOptions,
  type StatusListener,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportStats,
  type TransportStatus,
} from './Transport.js';
export {
  MAX_SUBJECT_LENGTH,
  SubjectTrie,
  assertPublishSubject,
  assertQueueName,
  assertSubscribeSubject,
  isPublishSubject,
  isSubscribeSubject,
  type QueueGroupMatch,
  type SubjectMatch,
  type SubjectTrieOptions,
} from './subject.js';
export { assertHeaders, headersWireSize } from './headers.js';
export type { HandlerErrorListener } from './guardHandler.js';
export { DRAIN_BUDGET, LocalBus, type LocalBusOptions } from './LocalBus.js';
export { DEFAULT_MAX_PAYLOAD, LocalTransport, type LocalTransportOptions } from './LocalTransport.js';
export { DRAIN_TIMEOUT_MS, NatsTransport, type NatsTransportOptions } from './NatsTransport.js';
export * from './kv/index.js';
