/**
 * `halyard/client`: see the admin wire API with a client that the CLI and
 * the observer share.
 */
export { connect, type ConnectOptions, type TlsFiles, redactServer } from './connect.js';
export { HalyardClient, type ClientTimeouts, type NodeTree, type WriteResult, type ServiceInfo } from './HalyardClient.js';
export { serveControlSocket, type ControlSocket } from './controlSocket.js';
export type {
  NodeInfo,
  ServicesData,
  ServiceRow,
  InstanceRow,
  SupervisorRow,
  ChildRow,
  DecisionRow,
  LogLine,
  AdminReply,
  AdminRequest,
} from '../services/admin/protocol.js';
export { ADMIN_VERSION, AdminVerb } from '../services/admin/protocol.js';
