export { containerLogic, type ContainerKind, type ContainerOptions, type ContainerSnapshot } from './containerLogic.js';
export { isActorLogic, loadLogic } from './loadLogic.js';
export { containerResources, containerStatus, type ContainerResources } from './resources.js';
export { logicFor, type ContainerChoice, type LogicForOptions } from './logicFor.js';
