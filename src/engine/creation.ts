// Tensor creation. Every function takes {dtype, device} with float32 / cpu defaults.
import { native } from './native.js';
import { DTYPE_CODE, dtypeOfArray, type DType, type TypedArray } from './dtype.js';
import { Tensor } from './tensor.js';
import type { Generator } from './random.js';

export interface TensorOptions {
  dtype?: DType;
  device?: string;
}
export interface RandomOptions extends TensorOptions {
  generator?: Generator | null;
}

function dt(o: TensorOptions | undefined, d: DType = 'float32'): number {
  return DTYPE_CODE[o?.dtype ?? d];
}
function dev(o: TensorOptions | undefined): string {
  return o?.device ?? 'cpu';
}
function checkShape(shape: number[]): number[] {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new Error(`invalid shape [${shape.join(', ')}]: sizes must be non-negative integers`);
  }
  return shape;
}

type Nested = number | boolean | Nested[];

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as Nested;
  }
  checkRagged(data, shape, 0);
  return shape;
}

function checkRagged(v: Nested, shape: number[], depth: number): void {
  if (depth === shape.length) {
    if (Array.isArray(v)) throw new Error(`tensor(): ragged nested array (an array where a number was expected at depth ${depth})`);
    return;
  }
  if (!Array.isArray(v) || v.length !== shape[depth]) {
    throw new Error(`tensor(): ragged nested array (expected ${shape[depth]} elements at depth ${depth}, got ${Array.isArray(v) ? v.length : 'a number'})`);
  }
  for (const x of v) checkRagged(x, shape, depth + 1);
}

/**
 * Creates a tensor from a TypedArray (with a shape) or a nested number array (shape inferred).
 * Data is copied into libtorch memory.
 */
export function tensor(data: TypedArray | Nested, opts: TensorOptions & { shape?: number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray;
    const shape = checkShape(opts.shape ?? [arr.length]);
    if (arr instanceof Uint16Array && (opts.dtype === 'float16' || opts.dtype === 'bfloat16')) {
      return Tensor.wrap(native().fromBuffer(arr, shape, DTYPE_CODE[opts.dtype], dev(opts)));
    }
    const natural = dtypeOfArray(arr);
    const want = opts.dtype ?? natural;
    if (want === natural) {
      return Tensor.wrap(native().fromBuffer(arr, shape, DTYPE_CODE[want], dev(opts)));
    }
    if (want === 'bool') {
      // Any non-zero value is true.
      const tmp = Tensor.wrap(native().fromBuffer(arr, shape, DTYPE_CODE[natural], dev(opts)));
      const out = tmp.ne(0);
      tmp.dispose();
      return out;
    }
    const tmp = Tensor.wrap(native().fromBuffer(arr, shape, DTYPE_CODE[natural], 'cpu'));
    const out = tmp.to({ dtype: want, device: dev(opts) });
    tmp.dispose();
    return out;
  }
  const shape = opts.shape ?? inferShape(data as Nested);
  const flat: (number | boolean)[] = Array.isArray(data) ? ((data as unknown[]).flat(Infinity as 1) as (number | boolean)[]) : [data as number | boolean];
  const n = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== n) throw new Error(`tensor(): ragged nested array or shape mismatch (${flat.length} values for shape [${shape.join(', ')}])`);
  const want = opts.dtype ?? (typeof flat[0] === 'boolean' ? 'bool' : 'float32');
  let arr: TypedArray;
  switch (want) {
    case 'int64': arr = BigInt64Array.from(flat, (v) => BigInt(Math.trunc(Number(v)))); break;
    case 'int32': arr = Int32Array.from(flat, (v) => Number(v)); break;
    case 'uint8': arr = Uint8Array.from(flat, (v) => Number(v)); break;
    case 'bool': arr = Uint8Array.from(flat, (v) => (v ? 1 : 0)); break;
    case 'float64': arr = Float64Array.from(flat, (v) => Number(v)); break;
    default: arr = Float32Array.from(flat, (v) => Number(v));
  }
  if (want === 'bool') return Tensor.wrap(native().fromBuffer(arr, shape, DTYPE_CODE.bool, dev(opts)));
  return tensor(arr, { shape, dtype: want, device: opts.device });
}

export function zeros(shape: number[], opts?: TensorOptions): Tensor {
  return Tensor.wrap(native().zeros(checkShape(shape), dt(opts), dev(opts)));
}
export function ones(shape: number[], opts?: TensorOptions): Tensor {
  return Tensor.wrap(native().ones(checkShape(shape), dt(opts), dev(opts)));
}
export function empty(shape: number[], opts?: TensorOptions): Tensor {
  return Tensor.wrap(native().empty(checkShape(shape), dt(opts), dev(opts)));
}
export function full(shape: number[], value: number, opts?: TensorOptions): Tensor {
  return Tensor.wrap(native().full(checkShape(shape), value, dt(opts), dev(opts)));
}
export function scalar(value: number, opts?: TensorOptions): Tensor {
  return full([], value, opts);
}
/** [start, end) with step; arange(n) gives 0..n-1. Integer arguments give int64 unless a dtype is given. */
export function arange(start: number, end?: number, step = 1, opts?: TensorOptions): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const integral = Number.isInteger(s) && Number.isInteger(e) && Number.isInteger(step);
  return Tensor.wrap(native().arange(s, e, step, dt(opts, integral ? 'int64' : 'float32'), dev(opts)));
}
export function linspace(start: number, end: number, steps: number, opts?: TensorOptions): Tensor {
  return Tensor.wrap(native().linspace(start, end, steps, dt(opts), dev(opts)));
}
/** Uniform [0, 1). */
export function rand(shape: number[], opts?: RandomOptions): Tensor {
  return Tensor.wrap(native().rand(checkShape(shape), dt(opts), dev(opts), opts?.generator?.handle ?? null));
}
/** Standard normal. */
export function randn(shape: number[], opts?: RandomOptions): Tensor {
  return Tensor.wrap(native().randn(checkShape(shape), dt(opts), dev(opts), opts?.generator?.handle ?? null));
}
/** Integers uniform in [low, high). int64 by default. */
export function randint(low: number, high: number, shape: number[], opts?: RandomOptions): Tensor {
  return Tensor.wrap(native().randint(low, high, checkShape(shape), dt(opts, 'int64'), dev(opts), opts?.generator?.handle ?? null));
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, opts?: RandomOptions): Tensor {
  return Tensor.wrap(native().randperm(n, dt(opts, 'int64'), dev(opts), opts?.generator?.handle ?? null));
}
/** 0/1 draws with the given probabilities (same shape and dtype as probs). */
export function bernoulli(probs: Tensor, generator?: Generator | null): Tensor {
  return Tensor.wrap(native().bernoulli(probs.handle, generator?.handle ?? null));
}

function likeOpts(t: Tensor, o?: TensorOptions): Required<TensorOptions> {
  return { dtype: o?.dtype ?? t.dtype, device: o?.device ?? t.device };
}
export const zerosLike = (t: Tensor, o?: TensorOptions): Tensor => zeros(t.shape, likeOpts(t, o));
export const onesLike = (t: Tensor, o?: TensorOptions): Tensor => ones(t.shape, likeOpts(t, o));
export const emptyLike = (t: Tensor, o?: TensorOptions): Tensor => empty(t.shape, likeOpts(t, o));
export const fullLike = (t: Tensor, v: number, o?: TensorOptions): Tensor => full(t.shape, v, likeOpts(t, o));
export const randLike = (t: Tensor, o?: RandomOptions): Tensor => rand(t.shape, { ...likeOpts(t, o), generator: o?.generator });
export const randnLike = (t: Tensor, o?: RandomOptions): Tensor => randn(t.shape, { ...likeOpts(t, o), generator: o?.generator });
export const randintLike = (t: Tensor, low: number, high: number, o?: RandomOptions): Tensor =>
  randint(low, high, t.shape, { ...likeOpts(t, o), generator: o?.generator });

// ------------------------------------------------------------------ multi-tensor ops
export function cat(ts: Tensor[], dim = 0): Tensor {
  return Tensor.wrap(native().cat(ts.map((t) => t.handle), dim));
}
export function stack(ts: Tensor[], dim = 0): Tensor {
  return Tensor.wrap(native().stack(ts.map((t) => t.handle), dim));
}
/** Elementwise cond ? a : b. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return Tensor.wrap(native().where(cond.handle, a.handle, b.handle));
}
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  return Tensor.wrap(native().oneHot(labels.handle, numClasses));
}
