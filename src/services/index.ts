export { createNode, Node, type NodeOptions, type TransportConfig } from './Node.js';
export { Subjects, assertNodeName } from './subjects.js';
