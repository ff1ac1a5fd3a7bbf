export { createObserver, type Observer, type ObserverOptions } from './createObserver.js';
