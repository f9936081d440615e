// nn: modules, layers, containers and initialisation, as torch.nn.
export { Module } from './module.js';
export type { StateDict, LoadStateDictOptions, LoadStateDictResult, ModuleTarget } from './module.js';
export { Sequential, ModuleList } from './container.js';
export {
  Conv2d, ConvTranspose2d, Linear, BatchNormBase, BatchNorm1d, BatchNorm2d,
  ReLU, LeakyReLU, Tanh, Sigmoid, GELU, SiLU,
  AvgPool2d, MaxPool2d, AdaptiveAvgPool2d, Upsample, Dropout, Flatten, Identity,
} from './layers.js';
export type {
  Pair, InitOptions, Conv2dOptions, ConvTranspose2dOptions, LinearOptions, BatchNormOptions,
  AvgPool2dOptions, MaxPool2dOptions, UpsampleOptions, DropoutOptions,
} from './layers.js';
export * as init from './init.js';
export type { Nonlinearity, FanMode, KaimingOptions } from './init.js';
export * as models from './models/index.js';
