// Layers, as torch.nn: convolution, linear, batch norm, activations, pooling, resizing, dropout, reshaping.
// Default initialisations are those of PyTorch's reset_parameters, drawn in the same order, so a layer built
// from a Generator (or the global generator) seeded like PyTorch's gets PyTorch's weights.
import { F, empty, ones, scalar, zeros, noGrad, type Generator, type Tensor } from '../engine/index.js';
import { Module } from './module.js';
import * as init from './init.js';

// The containers live in container.ts; re-exported so every layer can be imported from here.
export { Sequential, ModuleList } from './container.js';

export type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v, v]);
const tup = (p: [number, number]): string => `(${p[0]}, ${p[1]})`;

function checkPositiveInt(what: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${what} must be a positive integer, got ${v}`);
}

/** Options every layer with parameters accepts. */
export interface InitOptions {
  /** Generator for the default initialisation (global generator when omitted). */
  generator?: Generator | null;
}

/** PyTorch's default for conv / linear weights: kaiming_uniform_(a=sqrt(5)), bias U(±1/sqrt(fan_in)). */
function resetLinearLike(weight: Tensor, bias: Tensor | null, generator: Generator | null | undefined): void {
  init.kaimingUniform_(weight, { a: Math.sqrt(5) }, generator);
  if (bias !== null) {
    const [fanIn] = init.calculateFanInAndFanOut(weight);
    if (fanIn !== 0) {
      const bound = 1 / Math.sqrt(fanIn);
      init.uniform_(bias, -bound, bound, generator);
    } else {
      init.zeros_(bias);
    }
  }
}

// ------------------------------------------------------------------ convolution
export interface Conv2dOptions extends InitOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  /** Default true. */
  bias?: boolean;
}

/** 2-d convolution over NCHW input. weight: [outChannels, inChannels / groups, kh, kw]; bias: [outChannels]. */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: Conv2dOptions = {}) {
    super();
    checkPositiveInt('Conv2d: inChannels', inChannels);
    checkPositiveInt('Conv2d: outChannels', outChannels);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    this.groups = opts.groups ?? 1;
    checkPositiveInt('Conv2d: groups', this.groups);
    if (inChannels % this.groups !== 0) throw new Error(`Conv2d: inChannels (${inChannels}) must be divisible by groups (${this.groups})`);
    if (outChannels % this.groups !== 0) throw new Error(`Conv2d: outChannels (${outChannels}) must be divisible by groups (${this.groups})`);
    const w = this.registerParameter('weight', empty([outChannels, inChannels / this.groups, ...this.kernelSize]));
    const b = opts.bias ?? true ? this.registerParameter('bias', empty([outChannels])) : null;
    resetLinearLike(w, b, opts.generator);
  }
  get weight(): Tensor {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.paramOrNull('bias');
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
  protected override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${tup(this.kernelSize)}, stride=${tup(this.stride)}`;
    if (this.padding[0] !== 0 || this.padding[1] !== 0) s += `, padding=${tup(this.padding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${tup(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ', bias=False';
    return s;
  }
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

/** 2-d transposed convolution. weight: [inChannels, outChannels / groups, kh, kw]; bias: [outChannels]. */
export class ConvTranspose2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: ConvTranspose2dOptions = {}) {
    super();
    checkPositiveInt('ConvTranspose2d: inChannels', inChannels);
    checkPositiveInt('ConvTranspose2d: outChannels', outChannels);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.outputPadding = pair(opts.outputPadding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    this.groups = opts.groups ?? 1;
    checkPositiveInt('ConvTranspose2d: groups', this.groups);
    if (inChannels % this.groups !== 0) throw new Error(`ConvTranspose2d: inChannels (${inChannels}) must be divisible by groups (${this.groups})`);
    if (outChannels % this.groups !== 0) throw new Error(`ConvTranspose2d: outChannels (${outChannels}) must be divisible by groups (${this.groups})`);
    const w = this.registerParameter('weight', empty([inChannels, outChannels / this.groups, ...this.kernelSize]));
    const b = opts.bias ?? true ? this.registerParameter('bias', empty([outChannels])) : null;
    resetLinearLike(w, b, opts.generator);
  }
  get weight(): Tensor {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.paramOrNull('bias');
  }
  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, dilation: this.dilation, groups: this.groups,
    });
  }
  protected override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${tup(this.kernelSize)}, stride=${tup(this.stride)}`;
    if (this.padding[0] !== 0 || this.padding[1] !== 0) s += `, padding=${tup(this.padding)}`;
    if (this.outputPadding[0] !== 0 || this.outputPadding[1] !== 0) s += `, output_padding=${tup(this.outputPadding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${tup(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ', bias=False';
    return s;
  }
}

// ------------------------------------------------------------------ linear
export interface LinearOptions extends InitOptions {
  /** Default true. */
  bias?: boolean;
}

/** y = x Wᵀ + b. weight: [outFeatures, inFeatures]; bias: [outFeatures]. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    checkPositiveInt('Linear: inFeatures', inFeatures);
    checkPositiveInt('Linear: outFeatures', outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const w = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    const b = opts.bias ?? true ? this.registerParameter('bias', empty([outFeatures])) : null;
    resetLinearLike(w, b, opts.generator);
  }
  get weight(): Tensor {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.paramOrNull('bias');
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
  protected override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias === null ? 'False' : 'True'}`;
  }
}

// ------------------------------------------------------------------ batch norm
export interface BatchNormOptions {
  eps?: number;
  /** Running-average factor (default 0.1); null for a cumulative moving average, as PyTorch. */
  momentum?: number | null;
  /** Learnable weight (init 1) and bias (init 0). Default true. */
  affine?: boolean;
  /** Keep running_mean / running_var / num_batches_tracked buffers (default true). */
  trackRunningStats?: boolean;
}

/**
 * Batch norm over dim 1, as PyTorch's _BatchNorm. In training mode it normalises with the batch statistics
 * (biased variance) and updates the running ones in place (unbiased variance) and num_batches_tracked;
 * in eval mode it uses the running statistics (or batch statistics when they are not tracked).
 */
export abstract class BatchNormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    checkPositiveInt(`${new.target.name}: numFeatures`, numFeatures);
    this.numFeatures = numFeatures;
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    if (this.affine) {
      this.registerParameter('weight', ones([numFeatures]));
      this.registerParameter('bias', zeros([numFeatures]));
    }
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([numFeatures]));
      this.registerBuffer('running_var', ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', scalar(0, { dtype: 'int64' }));
    }
  }
  get weight(): Tensor | null {
    return this.paramOrNull('weight');
  }
  get bias(): Tensor | null {
    return this.paramOrNull('bias');
  }
  get runningMean(): Tensor | null {
    return this.bufferOrNull('running_mean');
  }
  get runningVar(): Tensor | null {
    return this.bufferOrNull('running_var');
  }
  get numBatchesTracked(): Tensor | null {
    return this.bufferOrNull('num_batches_tracked');
  }

  /** Throws unless x has the rank this layer expects. */
  protected abstract checkInputDim(x: Tensor): void;

  /** Running stats back to mean 0, variance 1, num_batches_tracked 0. */
  resetRunningStats(): void {
    noGrad(() => {
      this.runningMean?.zero_();
      this.runningVar?.fill_(1);
      this.numBatchesTracked?.zero_();
    });
  }

  protected override optionalStateKeys(): readonly string[] {
    return this.trackRunningStats ? ['num_batches_tracked'] : [];
  }

  forward(x: Tensor): Tensor {
    this.checkInputDim(x);
    let factor = this.momentum ?? 0;
    const nbt = this.numBatchesTracked;
    if (this.training && nbt !== null) {
      noGrad(() => {
        // In-place integer increment (the engine's scalar add_ promotes to float, so add an int64 one).
        const one = scalar(1, { dtype: 'int64', device: nbt.device });
        const next = nbt.add(one);
        nbt.copy_(next);
        one.dispose();
        next.dispose();
      });
      if (this.momentum === null) factor = 1 / nbt.item();
    }
    const rm = this.runningMean;
    const rv = this.runningVar;
    // Without tracked statistics the buffers are absent: batch statistics in both modes, nothing updated.
    const bnTraining = this.training || (rm === null && rv === null);
    return F.batchNorm(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: rm,
      runningVar: rv,
      training: bnTraining,
      momentum: factor,
      eps: this.eps,
    });
  }
  protected override extraRepr(): string {
    const py = (b: boolean): string => (b ? 'True' : 'False');
    const eps = this.eps.toExponential().replace(/e([+-])(\d)$/, (_m, sign: string, d: string) => `e${sign}0${d}`);
    return `${this.numFeatures}, eps=${eps}, momentum=${this.momentum ?? 'None'}, affine=${py(this.affine)}, track_running_stats=${py(this.trackRunningStats)}`;
  }
}

/** Batch norm over NCHW input. */
export class BatchNorm2d extends BatchNormBase {
  protected checkInputDim(x: Tensor): void {
    if (x.ndim !== 4) throw new Error(`BatchNorm2d: expected 4D input (got ${x.ndim}D input)`);
  }
}

/** Batch norm over [N, C] or [N, C, L] input. */
export class BatchNorm1d extends BatchNormBase {
  protected checkInputDim(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) throw new Error(`BatchNorm1d: expected 2D or 3D input (got ${x.ndim}D input)`);
  }
}

// ------------------------------------------------------------------ activations
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
  protected override extraRepr(): string {
    return `negative_slope=${this.negativeSlope}`;
  }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.gelu(this.approximate);
  }
  protected override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return x.silu();
  }
}

// ------------------------------------------------------------------ pooling
export interface AvgPool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}
export class AvgPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  constructor(kernelSize: Pair, opts: AvgPool2dOptions = {}) {
    super();
    this.kernelSize = pair(kernelSize);
    this.stride = pair(opts.stride ?? kernelSize);
    this.padding = pair(opts.padding ?? 0);
    this.ceilMode = opts.ceilMode ?? false;
    this.countIncludePad = opts.countIncludePad ?? true;
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad });
  }
  protected override extraRepr(): string {
    return `kernel_size=${tup(this.kernelSize)}, stride=${tup(this.stride)}, padding=${tup(this.padding)}`;
  }
}

export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}
export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly ceilMode: boolean;
  constructor(kernelSize: Pair, opts: MaxPool2dOptions = {}) {
    super();
    this.kernelSize = pair(kernelSize);
    this.stride = pair(opts.stride ?? kernelSize);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    this.ceilMode = opts.ceilMode ?? false;
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
  }
  protected override extraRepr(): string {
    return `kernel_size=${tup(this.kernelSize)}, stride=${tup(this.stride)}, padding=${tup(this.padding)}, dilation=${tup(this.dilation)}`;
  }
}

export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: [number, number];
  constructor(outputSize: Pair) {
    super();
    this.outputSize = pair(outputSize);
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
  protected override extraRepr(): string {
    return `output_size=${tup(this.outputSize)}`;
  }
}

// ------------------------------------------------------------------ resizing
export interface UpsampleOptions {
  /** Output [H, W]; or give scaleFactor. */
  size?: Pair;
  scaleFactor?: number;
  /** Default 'nearest'. */
  mode?: 'nearest' | 'bilinear';
  /** Bilinear only (default false). */
  alignCorners?: boolean;
}
export class Upsample extends Module {
  readonly size: [number, number] | null;
  readonly scaleFactor: number | null;
  readonly mode: 'nearest' | 'bilinear';
  readonly alignCorners: boolean | null;
  constructor(opts: UpsampleOptions) {
    super();
    if ((opts.size === undefined) === (opts.scaleFactor === undefined)) throw new Error('Upsample: give exactly one of size and scaleFactor');
    this.mode = opts.mode ?? 'nearest';
    if (this.mode !== 'nearest' && this.mode !== 'bilinear') throw new Error(`Upsample: unknown mode '${String(this.mode)}'`);
    if (this.mode === 'nearest' && opts.alignCorners !== undefined) {
      throw new Error('Upsample: alignCorners can only be set with the interpolating mode bilinear');
    }
    this.size = opts.size === undefined ? null : pair(opts.size);
    this.scaleFactor = opts.scaleFactor ?? null;
    this.alignCorners = this.mode === 'bilinear' ? opts.alignCorners ?? false : null;
  }
  forward(x: Tensor): Tensor {
    return F.interpolate(x, {
      size: this.size ?? undefined,
      scaleFactor: this.scaleFactor ?? undefined,
      mode: this.mode,
      alignCorners: this.alignCorners ?? undefined,
    });
  }
  protected override extraRepr(): string {
    const what = this.size !== null ? `size=${tup(this.size)}` : `scale_factor=${this.scaleFactor}`;
    return `${what}, mode='${this.mode}'`;
  }
}

// ------------------------------------------------------------------ dropout and reshaping
export interface DropoutOptions {
  /** Generator for the dropout masks (global generator when omitted). */
  generator?: Generator | null;
}
/** Inverted dropout in train mode (zero with probability p, scale the rest by 1/(1-p)); identity in eval mode. */
export class Dropout extends Module {
  readonly p: number;
  readonly generator: Generator | null;
  constructor(p = 0.5, opts: DropoutOptions = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
    this.p = p;
    this.generator = opts.generator ?? null;
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training, this.generator);
  }
  protected override extraRepr(): string {
    return `p=${this.p}, inplace=False`;
  }
}

/** Flattens dims startDim..endDim (default 1..-1, keeping the batch dim). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
  protected override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

/** Returns its input itself (the same Tensor object), as torch.nn.Identity. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
