export { containerLogic, type ContainerKind, type ContainerOptions, type ContainerSnapshot } from './containerLogic.js';
export { isActorLogic, loadLogic } from './loadLogic.js';
