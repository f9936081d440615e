export * from './poison.js';
