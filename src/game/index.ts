export * from './payoffs.js';
export * from './bome.js';
export * from './train.js';
export * from './proxy.js';
