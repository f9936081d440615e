export * from './payoffs.js';
export * from './bome.js';
