export { Optimizer, checkHyper } from './optimizer.js';
export type {
  BaseHyper, Json, ParamGroup, ParamGroupSpec, ParamState, Params, OptimizerStateDict, OptimizerHyperState,
} from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDHyper, SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamHyper, AdamOptions } from './adam.js';
export { LRScheduler, StepLR, MultiStepLR, CosineAnnealingLR } from './schedulers.js';
export type { SchedulerState } from './schedulers.js';
