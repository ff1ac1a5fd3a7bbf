export { createNode, Node, type NodeOptions, type TransportConfig } from './node/Node.js';
export { Subjects, assertNodeName } from './remote/subjects.js';
