export { AdminResponder, type AdminOptions, type AdminHost, assertAdminOptions } from './AdminResponder.js';
export * from './protocol.js';
