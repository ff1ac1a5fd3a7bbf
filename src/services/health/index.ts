export { serveHealth, type HealthServer, type MetricsText, type Readiness, type ServeHealthOptions } from './serveHealth.js';
export type { HttpOptions } from './httpOptions.js';
export type { NodeHealth } from './nodeHealth.js';
