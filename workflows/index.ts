export { rotatePostgresCdcCredentials } from './rotatePostgresCdc.js';
export { targetLock } from './targetLock.js';
