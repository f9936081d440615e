export * from './train.js';
