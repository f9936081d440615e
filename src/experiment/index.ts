export * from './schema.js';
export * from './cells.js';
export * from './data.js';
export * from './results.js';
export * from './run.js';
export * from './presets.js';
