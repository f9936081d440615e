export * from './train.js';
export * from './at.js';
