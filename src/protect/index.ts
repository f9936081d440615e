// Protecting real photos with a trained generator (GUE, AAAI 2024): backends, the per-image pipeline,
// quality metrics, `gue check`, and importing the authors' PyTorch weights.
// The libtorch parts (torch-backend, check, import) are not re-exported here so that the image pipeline
// loads without the native addon; import them from their files.
export type { ProtectBackend } from './backend.js';
export * from './metrics.js';
export * from './apply.js';
export * from './codec.js';
export * from './images.js';
export * from './open.js';
