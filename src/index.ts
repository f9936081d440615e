// gue: unlearnable examples (GUE, AAAI 2024) on libtorch.
export * as engine from './engine/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as game from './game/index.js';
export * as victim from './victim/index.js';
export * as io from './io/index.js';
export type { GueEvent, EventSink } from './util/events.js';
export * as onnx from './export/index.js';
export * as defenses from './defenses/index.js';
export * as experiment from './experiment/index.js';
export * as protect from './protect/index.js';
