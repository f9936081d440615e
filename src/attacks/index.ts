export * from './poison.js';
export * from './types.js';
export * from './registry.js';
export * from './pgd.js';
