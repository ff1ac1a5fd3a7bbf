export { defineConfig, applyEnv, validateConfig, type HalyardConfig, type NodeEntry, type ServiceEntry, type StartEntry, type NatsEntry } from './defineConfig.js';
export { loadConfig, up, type LoadedConfig, type Up } from './up.js';
