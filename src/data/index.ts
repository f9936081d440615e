export * from './dataset.js';
export * from './idx.js';
export * from './loader.js';
export * from './cifar.js';
export * from './augment.js';
export * from './store.js';
export * from './png.js';
export * from './imagefolder.js';
