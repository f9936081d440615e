// The one interface for defenses a victim can use against unlearnable examples. Two kinds:
//  - 'data' defenses transform the (protected) training set once before training: JPEG, grayscale,
//    bit-depth reduction, blur ("image shortcut squeezing", Liu et al. 2023);
//  - 'training' defenses change each training batch: Mixup, Cutout, CutMix. They return soft targets.
// Adversarial training is not a defense entry: it is a victim option (VictimOptions.at*), because it
// changes the loss, not the data.
import type { Generator, Tensor } from '../engine/index.js';
import type { ImageDataset } from '../data/dataset.js';
import type { OptionSpec, OptionValues } from '../util/options.js';

export interface DataDefense {
  kind: 'data';
  name: string;
  title: string;
  cite: string;
  options: Readonly<Record<string, OptionSpec>>;
  /** Returns a transformed copy of `ds` (same shape unless documented; the input is not modified). */
  apply(ds: ImageDataset, options: OptionValues): ImageDataset;
}

export interface BatchTransform {
  /** x: float NCHW batch in [0,1] (already augmented), y: int64 labels. Returns the batch to train on
   *  and its targets: int64 labels [N] or soft targets [N, numClasses] (float). */
  (x: Tensor, y: Tensor, numClasses: number, generator: Generator): { x: Tensor; target: Tensor };
}

export interface TrainingDefense {
  kind: 'training';
  name: string;
  title: string;
  cite: string;
  options: Readonly<Record<string, OptionSpec>>;
  makeTransform(options: OptionValues): BatchTransform;
}

export type Defense = DataDefense | TrainingDefense;
