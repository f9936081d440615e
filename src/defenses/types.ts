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
  /** The image channel counts the defense accepts (absent: any). Checked before any work is done, by
   *  `channelProblem`, both when a run starts and when an experiment is planned. */
  channels?: readonly number[];
  /** Returns a transformed copy of `ds` (same shape unless documented; the input is not modified). */
  apply(ds: ImageDataset, options: OptionValues): ImageDataset;
}

/** Why `defense` cannot run on images with `channels` channels (from `source`), or null when it can. */
export function channelProblem(defense: DataDefense, channels: number, source: string): string | null {
  const ok = defense.channels;
  if (!ok || ok.includes(channels)) return null;
  const want = `${ok.join('- or ')}-channel${ok.length === 1 && ok[0] === 3 ? ' (RGB)' : ''}`;
  const note = channels === 1 && ok.every((c) => c === 3) ? ' (it is already grayscale)' : '';
  return `the ${defense.name} defense needs ${want} images; ${source} has ${channels} channel${channels === 1 ? '' : 's'}${note}`;
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
