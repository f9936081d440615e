// nn functional: layers, activations, pooling, resizing and losses, as torch.nn.functional.
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { bernoulli } from './creation.js';
import type { Generator } from './random.js';

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (Array.isArray(v) ? v : [v, v]);
const opt = (t: Tensor | null | undefined) => (t ? t.handle : null);

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor {
  return Tensor.wrap(native().conv2d(x.handle, weight.handle, opt(bias), pair(o.stride ?? 1), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.groups ?? 1));
}
export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: ConvTranspose2dOptions = {}): Tensor {
  return Tensor.wrap(native().convTranspose2d(x.handle, weight.handle, opt(bias), pair(o.stride ?? 1), pair(o.padding ?? 0),
    pair(o.outputPadding ?? 0), o.groups ?? 1, pair(o.dilation ?? 1)));
}
export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  /** Use batch statistics and update the running ones (train mode). */
  training?: boolean;
  momentum?: number;
  eps?: number;
}
/** Batch norm over dim 1. In training mode the running stats are updated in place (unbiased variance), as PyTorch. */
export function batchNorm(x: Tensor, o: BatchNormOptions = {}): Tensor {
  return Tensor.wrap(native().batchNorm(x.handle, opt(o.weight), opt(o.bias), opt(o.runningMean), opt(o.runningVar),
    o.training ?? false, o.momentum ?? 0.1, o.eps ?? 1e-5));
}
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return Tensor.wrap(native().linear(x.handle, weight.handle, opt(bias)));
}

export const relu = (x: Tensor): Tensor => x.relu();
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => x.leakyRelu(negativeSlope);
export const tanh = (x: Tensor): Tensor => x.tanh();
export const sigmoid = (x: Tensor): Tensor => x.sigmoid();
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => x.gelu(approximate);
export const softmax = (x: Tensor, dim: number): Tensor => x.softmax(dim);
export const logSoftmax = (x: Tensor, dim: number): Tensor => x.logSoftmax(dim);

export interface PoolOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}
export function avgPool2d(x: Tensor, kernel: Pair, o: PoolOptions & { countIncludePad?: boolean } = {}): Tensor {
  return Tensor.wrap(native().avgPool2d(x.handle, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), o.ceilMode ?? false, o.countIncludePad ?? true));
}
export function maxPool2d(x: Tensor, kernel: Pair, o: PoolOptions & { dilation?: Pair } = {}): Tensor {
  return Tensor.wrap(native().maxPool2d(x.handle, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.ceilMode ?? false));
}
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return Tensor.wrap(native().adaptiveAvgPool2d(x.handle, pair(outputSize)));
}

export interface InterpolateOptions {
  /** Output [H, W]; or give scaleFactor. */
  size?: Pair;
  scaleFactor?: number;
  mode?: 'bilinear' | 'nearest';
  alignCorners?: boolean;
}
/** Resizes NCHW input (bilinear with alignCorners true/false, or nearest), as F.interpolate. */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  const s = x.shape;
  if (s.length !== 4) throw new Error(`interpolate: expected a 4-d NCHW tensor, got shape [${s.join(', ')}]`);
  let size: [number, number];
  // As F.interpolate(scale_factor=s): the output size is floor(in·s) and the coordinate map uses 1/s.
  let scale: number | null = null;
  if (o.size !== undefined) size = pair(o.size);
  else if (o.scaleFactor !== undefined) {
    size = [Math.floor(s[2]! * o.scaleFactor), Math.floor(s[3]! * o.scaleFactor)];
    scale = o.scaleFactor;
  } else throw new Error('interpolate: give size or scaleFactor');
  const mode = o.mode ?? 'nearest';
  if (mode === 'bilinear') return Tensor.wrap(native().upsampleBilinear2d(x.handle, size, o.alignCorners ?? false, scale, scale));
  if (mode === 'nearest') return Tensor.wrap(native().upsampleNearest2d(x.handle, size, scale, scale));
  throw new Error(`interpolate: unknown mode '${String(mode)}'`);
}

/** Pads the last dims: pads = [left, right, top, bottom, ...] as F.pad. */
export function pad(x: Tensor, pads: number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant', value = 0): Tensor {
  return Tensor.wrap(native().pad(x.handle, pads, mode, value));
}

/** Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p). Identity when not training. */
export function dropout(x: Tensor, p = 0.5, training = true, generator?: Generator | null): Tensor {
  if (p < 0 || p > 1) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x.mul(1);
  if (p === 1) return x.mul(0);
  const xd = x.detach();
  const zero = xd.mul(0);
  const keepP = zero.add(1 - p);
  const mask = bernoulli(keepP, generator);
  const scaled = mask.div(1 - p);
  const out = x.mul(scaled);
  for (const t of [xd, zero, keepP, mask, scaled]) t.dispose();
  return out;
}

export type Reduction = 'none' | 'mean' | 'sum';
const RED: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };
function red(r: Reduction | undefined): number {
  const v = RED[r ?? 'mean'];
  if (v === undefined) throw new Error(`unknown reduction '${String(r)}'; expected none, mean or sum`);
  return v;
}

export interface CrossEntropyOptions {
  reduction?: Reduction;
  weight?: Tensor | null;
  ignoreIndex?: number;
  labelSmoothing?: number;
}
/**
 * Cross-entropy from logits [N, C] (or [N, C, ...]). Targets are class indices (int64)
 * or class probabilities with the logits' shape (soft targets, for Mixup/CutMix).
 */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  return Tensor.wrap(native().crossEntropy(logits.handle, target.handle, opt(o.weight), red(o.reduction), o.ignoreIndex ?? -100, o.labelSmoothing ?? 0));
}
/** Negative log-likelihood from log-probabilities. */
export function nllLoss(logProbs: Tensor, target: Tensor, o: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  return Tensor.wrap(native().nllLoss(logProbs.handle, target.handle, opt(o.weight), red(o.reduction), o.ignoreIndex ?? -100));
}
/** KL(target || input) with input as log-probabilities, as F.kl_div. 'batchmean' divides the sum by the batch size. */
export function klDiv(input: Tensor, target: Tensor, o: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}): Tensor {
  if (o.reduction === 'batchmean') {
    const s = Tensor.wrap(native().klDiv(input.handle, target.handle, 2, o.logTarget ?? false));
    const out = s.div(input.shape[0] ?? 1);
    s.dispose();
    return out;
  }
  return Tensor.wrap(native().klDiv(input.handle, target.handle, red(o.reduction as Reduction | undefined), o.logTarget ?? false));
}
export function mseLoss(input: Tensor, target: Tensor, o: { reduction?: Reduction } = {}): Tensor {
  return Tensor.wrap(native().mseLoss(input.handle, target.handle, red(o.reduction)));
}
