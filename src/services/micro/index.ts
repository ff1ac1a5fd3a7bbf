/** NATS micro (`$SRV`) discovery for service instances: the responder, its registration rules, the response shapes. */
export { DEFAULT_CALLBACK_TIMEOUT_MS, MicroResponder, type MicroRegistration, type MicroResponderOptions } from './MicroResponder.js';
export { EndpointStats, type EndpointStatsSnapshot } from './EndpointStats.js';
export {
  DEFAULT_QUEUE_GROUP,
  assertMicroName,
  assertSemver,
  isMicroName,
  isSemver,
  type CheckCallback,
  type MicroEndpointSpec,
  type MicroInstance,
  type StatusCallback,
} from './microSpec.js';
export { MICRO_VERBS, MicroVerb, SRV_PREFIX, controlSubject } from './microSubjects.js';
export * from './responses.js';
export {
  MicroErrorCode,
  ServiceErrorCodeHeader,
  ServiceErrorHeader,
  readServiceError,
  serviceErrorDescription,
  serviceErrorHeaders,
} from './serviceError.js';
