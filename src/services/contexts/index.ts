export { ContextManager } from './ContextManager.js';
export { Context, ContextState, ContextEventType, type ContextEventMessage } from './Context.js';
export { defineContext, validateContext, type ContextDefinition, type ContextSpec, type ContextServiceSpec } from './definition.js';
export { loadContextFile, parseYamlContext, parseJsonContext, parseXmlContext } from './loaders.js';
export { buildContextMachine, toMermaid } from './contextMachine.js';
export { NOTIFY_EVENT, type ContextAction } from './triggers.js';
export { newTransactionId } from './transaction.js';
