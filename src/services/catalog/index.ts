export * from './definition.js';
export { defineService, SERVICE_NAME, SEMVER, DEFAULT_START_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_MS } from './defineService.js';
export { validateConfig } from './config.js';
export { startOrder, stopOrder, closureOf, dependantsOf, type DependencyMap } from './dependencyGraph.js';
export { ServiceCatalog } from './ServiceCatalog.js';
export { isStandardSchema, type StandardSchemaV1 } from './standardSchema.js';
export { assertNodeLabels, missingLabels } from './labels.js';
