export { ServiceManager, type ServicesHost, type ServiceGraph } from './ServiceManager.js';
export { ServiceInstance } from './ServiceInstance.js';
export { ServiceQuery, type ServiceHandle, type ServiceSource } from './ServiceQuery.js';
export * from './types.js';
