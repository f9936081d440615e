// Tensor: a TypeScript handle to a libtorch tensor.
// Every op returns a new Tensor (registered in the current scope); methods ending in `_` work in place.
import { native, type Handle } from './native.js';
import { DTYPE_CODE, dtypeFromCode, typedView, type DType, type TypedArray } from './dtype.js';
import { registerTensorClass, track } from './scope.js';
import type { Generator } from './random.js';

const U = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, abs: 5, sign: 6, relu: 7, sigmoid: 8, tanh: 9, gelu: 10, geluTanh: 11,
  square: 12, floor: 13, ceil: 14, round: 15, not: 16, reciprocal: 17, sin: 18, cos: 19, log1p: 20, expm1: 21,
  softplus: 22, trunc: 23, isnan: 24, isfinite: 25, silu: 26, log2: 27,
} as const;
const B = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, minimum: 5, maximum: 6, eq: 7, ne: 8, lt: 9, le: 10, gt: 11, ge: 12,
  and: 13, or: 14, fmod: 15, rsub: 16, rdiv: 17, rpow: 18, xor: 19, remainder: 20, floorDiv: 21,
} as const;
const R = { sum: 0, mean: 1, amax: 2, amin: 3, prod: 4, logsumexp: 5, all: 6, any: 7, norm2: 8, countNonzero: 9 } as const;

export type Scalar = number;
export type Dims = number | number[];

function dimsArg(d: Dims | undefined): number[] | null {
  if (d === undefined) return null;
  return Array.isArray(d) ? d : [d];
}

export interface ReduceOptions {
  keepdim?: boolean;
}

export class Tensor {
  /** @internal */ private h: Handle | null;
  /** @internal true when a scope must not free this tensor. */
  kept = false;
  private shapeCache: number[] | null = null;

  /** @internal Wraps a native handle; use the creation functions instead. */
  constructor(h: Handle) {
    this.h = h;
    track(this);
  }

  /** @internal */
  static wrap(h: Handle | null): Tensor {
    if (h === null) throw new Error('internal: native op returned no tensor');
    return new Tensor(h);
  }

  /** @internal The native handle; throws if disposed. */
  get handle(): Handle {
    if (this.h === null) throw new Error(`${callerName()}: tensor was already disposed (by dispose() or at the end of the scope that created it; keep() what must outlive a scope)`);
    return this.h;
  }
  /** @internal */
  get handleOrNull(): Handle | null {
    return this.h;
  }
  /** @internal Scopes call this after freeing the handle natively. */
  markFreed(): void {
    this.h = null;
  }

  /** Frees the libtorch memory now. Safe to call twice. */
  dispose(): void {
    if (this.h !== null) {
      native().free(this.h);
      this.h = null;
    }
  }
  get isDisposed(): boolean {
    return this.h === null;
  }
  /** Protects this tensor from the enclosing scopes (see keep()). */
  keep(): this {
    this.kept = true;
    return this;
  }

  // ------------------------------------------------------------------ metadata
  get shape(): number[] {
    if (this.shapeCache === null) this.shapeCache = native().shape(this.handle) as number[];
    return this.shapeCache.slice();
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? s.length + dim : dim;
    if (d < 0 || d >= s.length) throw new Error(`size(${dim}): dimension out of range for a ${s.length}-d tensor`);
    return s[d]!;
  }
  get dtype(): DType {
    return dtypeFromCode(native().dtype(this.handle) as number);
  }
  get device(): string {
    return native().device(this.handle) as string;
  }
  get strides(): number[] {
    return native().strides(this.handle) as number[];
  }
  isContiguous(channelsLast = false): boolean {
    return native().isContiguous(this.handle, channelsLast) as boolean;
  }
  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor(shape=[${this.shape.join(',')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ------------------------------------------------------------------ data out
  /** A copy of the data as a TypedArray (row-major; bool as Uint8Array, int64 as BigInt64Array). */
  toTypedArray(): TypedArray {
    return typedView(this.dtype, native().toBuffer(this.handle) as ArrayBuffer);
  }
  /** A copy of the data as plain numbers (row-major, flattened). */
  toArray(): number[] {
    const a = this.toTypedArray();
    if (a instanceof BigInt64Array) return Array.from(a, (x) => Number(x));
    return Array.from(a as ArrayLike<number>);
  }
  /** Float32 copy of the data. */
  toFloat32Array(): Float32Array {
    const a = this.toTypedArray();
    if (a instanceof Float32Array) return a;
    return Float32Array.from(this.toArray());
  }
  item(): number {
    const v = native().item(this.handle) as number | boolean;
    return typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }

  // ------------------------------------------------------------------ conversion
  to(opts: { dtype?: DType; device?: string; copy?: boolean } | DType): Tensor {
    const o = typeof opts === 'string' ? { dtype: opts } : opts;
    return Tensor.wrap(native().to(this.handle, o.dtype === undefined ? null : DTYPE_CODE[o.dtype], o.device ?? null, o.copy ?? false));
  }
  float(): Tensor {
    return this.to('float32');
  }
  long(): Tensor {
    return this.to('int64');
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  /** This tensor itself when it is on `device`, else a copy there (the caller frees a copy: `t !== this`). */
  onDevice(device: string): Tensor {
    return this.device === device ? this : this.to({ device });
  }
  contiguous(memoryFormat: 'contiguous' | 'channelsLast' = 'contiguous'): Tensor {
    return Tensor.wrap(native().contiguous(this.handle, memoryFormat === 'channelsLast'));
  }
  clone(): Tensor {
    return Tensor.wrap(native().clone(this.handle));
  }
  /** A tensor sharing storage that is cut from the autograd graph. */
  detach(): Tensor {
    return Tensor.wrap(native().detach(this.handle));
  }

  // ------------------------------------------------------------------ shape
  reshape(...shape: number[] | [number[]]): Tensor {
    const s = Array.isArray(shape[0]) ? shape[0] : (shape as number[]);
    return Tensor.wrap(native().reshape(this.handle, s));
  }
  view(...shape: number[] | [number[]]): Tensor {
    const s = Array.isArray(shape[0]) ? shape[0] : (shape as number[]);
    return Tensor.wrap(native().view(this.handle, s));
  }
  permute(...dims: number[] | [number[]]): Tensor {
    const d = Array.isArray(dims[0]) ? dims[0] : (dims as number[]);
    return Tensor.wrap(native().permute(this.handle, d));
  }
  transpose(d0: number, d1: number): Tensor {
    return Tensor.wrap(native().transpose(this.handle, d0, d1));
  }
  /** Transpose of a 2-d tensor. */
  get T(): Tensor {
    return this.transpose(0, 1);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return Tensor.wrap(native().flatten(this.handle, startDim, endDim));
  }
  squeeze(dim?: number): Tensor {
    return Tensor.wrap(native().squeeze(this.handle, dim ?? null));
  }
  unsqueeze(dim: number): Tensor {
    return Tensor.wrap(native().unsqueeze(this.handle, dim));
  }
  expand(...shape: number[] | [number[]]): Tensor {
    const s = Array.isArray(shape[0]) ? shape[0] : (shape as number[]);
    return Tensor.wrap(native().expand(this.handle, s));
  }
  expandAs(other: Tensor): Tensor {
    return this.expand(other.shape);
  }
  repeat(...reps: number[] | [number[]]): Tensor {
    const r = Array.isArray(reps[0]) ? reps[0] : (reps as number[]);
    return Tensor.wrap(native().repeat(this.handle, r));
  }
  /** Splits into pieces of `size` along dim, or into the given sizes. */
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] {
    return (native().split(this.handle, sizeOrSizes, dim) as Handle[]).map((h) => Tensor.wrap(h));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return (native().chunk(this.handle, chunks, dim) as Handle[]).map((h) => Tensor.wrap(h));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return Tensor.wrap(native().narrow(this.handle, dim, start, length));
  }
  /** Python-style slice along one dim: [start, end) with step. Negative indices count from the end. */
  slice(dim: number, start = 0, end?: number, step = 1): Tensor {
    const e = end ?? Number.MAX_SAFE_INTEGER;
    return Tensor.wrap(native().slice(this.handle, dim, start, e, step));
  }
  /** Index one position along dim, removing that dim. */
  select(dim: number, index: number): Tensor {
    return Tensor.wrap(native().select(this.handle, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return Tensor.wrap(native().indexSelect(this.handle, dim, index.handle));
  }
  gather(dim: number, index: Tensor): Tensor {
    return Tensor.wrap(native().gather(this.handle, dim, index.handle));
  }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return Tensor.wrap(native().scatter(this.handle, dim, index.handle, src.handle));
  }
  maskedSelect(mask: Tensor): Tensor {
    return Tensor.wrap(native().maskedSelect(this.handle, mask.handle));
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return Tensor.wrap(native().maskedFill(this.handle, mask.handle, value));
  }
  flip(dims: Dims): Tensor {
    return Tensor.wrap(native().flip(this.handle, dimsArg(dims)));
  }
  roll(shifts: Dims, dims: Dims): Tensor {
    return Tensor.wrap(native().roll(this.handle, dimsArg(shifts), dimsArg(dims)));
  }

  // ------------------------------------------------------------------ elementwise
  private un(op: number): Tensor {
    return Tensor.wrap(native().unary(op, this.handle));
  }
  private bin(op: number, other: Tensor | number): Tensor {
    if (typeof other === 'number') return Tensor.wrap(native().binaryScalar(op, this.handle, other));
    return Tensor.wrap(native().binary(op, this.handle, other.handle));
  }
  neg(): Tensor { return this.un(U.neg); }
  exp(): Tensor { return this.un(U.exp); }
  log(): Tensor { return this.un(U.log); }
  log2(): Tensor { return this.un(U.log2); }
  log1p(): Tensor { return this.un(U.log1p); }
  expm1(): Tensor { return this.un(U.expm1); }
  sqrt(): Tensor { return this.un(U.sqrt); }
  rsqrt(): Tensor { return this.un(U.rsqrt); }
  abs(): Tensor { return this.un(U.abs); }
  sign(): Tensor { return this.un(U.sign); }
  relu(): Tensor { return this.un(U.relu); }
  sigmoid(): Tensor { return this.un(U.sigmoid); }
  tanh(): Tensor { return this.un(U.tanh); }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return this.un(approximate === 'tanh' ? U.geluTanh : U.gelu); }
  silu(): Tensor { return this.un(U.silu); }
  softplus(): Tensor { return this.un(U.softplus); }
  square(): Tensor { return this.un(U.square); }
  floor(): Tensor { return this.un(U.floor); }
  ceil(): Tensor { return this.un(U.ceil); }
  /** Round half to even, as torch.round. */
  round(): Tensor { return this.un(U.round); }
  trunc(): Tensor { return this.un(U.trunc); }
  reciprocal(): Tensor { return this.un(U.reciprocal); }
  sin(): Tensor { return this.un(U.sin); }
  cos(): Tensor { return this.un(U.cos); }
  logicalNot(): Tensor { return this.un(U.not); }
  isnan(): Tensor { return this.un(U.isnan); }
  isfinite(): Tensor { return this.un(U.isfinite); }
  leakyRelu(negativeSlope = 0.01): Tensor {
    return Tensor.wrap(native().leakyRelu(this.handle, negativeSlope));
  }

  add(o: Tensor | number, alpha = 1): Tensor {
    if (alpha !== 1) {
      if (typeof o === 'number') return this.bin(B.add, o * alpha);
      const scaled = o.mul(alpha);
      const r = this.bin(B.add, scaled);
      scaled.dispose();
      return r;
    }
    return this.bin(B.add, o);
  }
  sub(o: Tensor | number): Tensor { return this.bin(B.sub, o); }
  mul(o: Tensor | number): Tensor { return this.bin(B.mul, o); }
  div(o: Tensor | number): Tensor { return this.bin(B.div, o); }
  /** Floor division (torch.div(rounding_mode='floor')). */
  floorDiv(o: Tensor | number): Tensor { return this.bin(B.floorDiv, o); }
  pow(o: Tensor | number): Tensor { return this.bin(B.pow, o); }
  fmod(o: Tensor | number): Tensor { return this.bin(B.fmod, o); }
  remainder(o: Tensor | number): Tensor { return this.bin(B.remainder, o); }
  /** s - this */
  rsub(s: number): Tensor { return this.bin(B.rsub, s); }
  /** s / this */
  rdiv(s: number): Tensor { return this.bin(B.rdiv, s); }
  /** s ** this */
  rpow(s: number): Tensor { return this.bin(B.rpow, s); }
  minimum(o: Tensor | number): Tensor { return this.bin(B.minimum, o); }
  maximum(o: Tensor | number): Tensor { return this.bin(B.maximum, o); }
  eq(o: Tensor | number): Tensor { return this.bin(B.eq, o); }
  ne(o: Tensor | number): Tensor { return this.bin(B.ne, o); }
  lt(o: Tensor | number): Tensor { return this.bin(B.lt, o); }
  le(o: Tensor | number): Tensor { return this.bin(B.le, o); }
  gt(o: Tensor | number): Tensor { return this.bin(B.gt, o); }
  ge(o: Tensor | number): Tensor { return this.bin(B.ge, o); }
  logicalAnd(o: Tensor): Tensor { return this.bin(B.and, o); }
  logicalOr(o: Tensor): Tensor { return this.bin(B.or, o); }
  logicalXor(o: Tensor): Tensor { return this.bin(B.xor, o); }
  /** Clamp to [min, max]; either bound may be omitted (null/undefined) or be a tensor. */
  clamp(min?: number | Tensor | null, max?: number | Tensor | null): Tensor {
    if (min instanceof Tensor || max instanceof Tensor) {
      const lo = min instanceof Tensor ? null : scalarLike(this, min);
      const hi = max instanceof Tensor ? null : scalarLike(this, max);
      try {
        return Tensor.wrap(native().clampTensor(this.handle, min instanceof Tensor ? min.handle : lo?.handle ?? null, max instanceof Tensor ? max.handle : hi?.handle ?? null));
      } finally {
        lo?.dispose();
        hi?.dispose();
      }
    }
    return Tensor.wrap(native().clamp(this.handle, min ?? null, max ?? null));
  }
  /** this + weight * (end - this) */
  lerp(end: Tensor, weight: number): Tensor {
    return Tensor.wrap(native().lerp(this.handle, end.handle, weight));
  }

  // ------------------------------------------------------------------ reductions
  private red(op: number, dims: Dims | undefined, keepdim: boolean | undefined): Tensor {
    return Tensor.wrap(native().reduce(op, this.handle, dimsArg(dims), keepdim ?? false));
  }
  sum(dims?: Dims, keepdim?: boolean): Tensor { return this.red(R.sum, dims, keepdim); }
  mean(dims?: Dims, keepdim?: boolean): Tensor { return this.red(R.mean, dims, keepdim); }
  prod(dim?: number, keepdim?: boolean): Tensor { return this.red(R.prod, dim, keepdim); }
  /** Max values over dims (no indices; see maxDim). */
  amax(dims?: Dims, keepdim?: boolean): Tensor { return this.red(R.amax, dims, keepdim); }
  amin(dims?: Dims, keepdim?: boolean): Tensor { return this.red(R.amin, dims, keepdim); }
  logsumexp(dims: Dims, keepdim?: boolean): Tensor { return this.red(R.logsumexp, dims, keepdim); }
  all(dim?: number, keepdim?: boolean): Tensor { return this.red(R.all, dim, keepdim); }
  any(dim?: number, keepdim?: boolean): Tensor { return this.red(R.any, dim, keepdim); }
  /** Euclidean (L2) norm over dims (all by default). */
  norm(dims?: Dims, keepdim?: boolean): Tensor { return this.red(R.norm2, dims, keepdim); }
  countNonzero(dims?: Dims): Tensor { return this.red(R.countNonzero, dims, false); }
  /** Variance with Bessel's correction by default (correction=1), as torch.var. */
  var(dims?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return Tensor.wrap(native().varStd(false, this.handle, dimsArg(dims), opts.correction ?? 1, opts.keepdim ?? false));
  }
  std(dims?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return Tensor.wrap(native().varStd(true, this.handle, dimsArg(dims), opts.correction ?? 1, opts.keepdim ?? false));
  }
  /** Max over the whole tensor (no dim) or along dim with indices. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return this.amax();
    const [v, i] = native().maxDim(this.handle, dim, keepdim) as [Handle, Handle];
    return { values: Tensor.wrap(v), indices: Tensor.wrap(i) };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return this.amin();
    const [v, i] = native().minDim(this.handle, dim, keepdim) as [Handle, Handle];
    return { values: Tensor.wrap(v), indices: Tensor.wrap(i) };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return Tensor.wrap(native().argmax(this.handle, dim ?? null, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return Tensor.wrap(native().argmin(this.handle, dim ?? null, keepdim));
  }
  topk(k: number, opts: { dim?: number; largest?: boolean; sorted?: boolean } = {}): { values: Tensor; indices: Tensor } {
    const [v, i] = native().topk(this.handle, k, opts.dim ?? -1, opts.largest ?? true, opts.sorted ?? true) as [Handle, Handle];
    return { values: Tensor.wrap(v), indices: Tensor.wrap(i) };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native().sort(this.handle, dim, descending) as [Handle, Handle];
    return { values: Tensor.wrap(v), indices: Tensor.wrap(i) };
  }
  cumsum(dim: number): Tensor {
    return Tensor.wrap(native().cumsum(this.handle, dim));
  }
  softmax(dim: number): Tensor {
    return Tensor.wrap(native().softmax(this.handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return Tensor.wrap(native().logSoftmax(this.handle, dim));
  }
  matmul(o: Tensor): Tensor {
    return Tensor.wrap(native().matmul(this.handle, o.handle));
  }

  // ------------------------------------------------------------------ in place
  copy_(src: Tensor): this { native().copy_(this.handle, src.handle); return this; }
  zero_(): this { native().zero_(this.handle); return this; }
  fill_(v: number): this { native().fill_(this.handle, v); return this; }
  add_(o: Tensor | number, alpha = 1): this {
    if (typeof o === 'number') native().addScalar_(this.handle, o * alpha);
    else native().add_(this.handle, o.handle, alpha);
    return this;
  }
  sub_(o: Tensor | number, alpha = 1): this { return this.add_(o, -alpha); }
  mul_(o: Tensor | number): this {
    if (typeof o === 'number') native().mulScalar_(this.handle, o);
    else native().mul_(this.handle, o.handle);
    return this;
  }
  div_(o: Tensor | number): this {
    if (typeof o === 'number') native().divScalar_(this.handle, o);
    else native().div_(this.handle, o.handle);
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this { native().addcmul_(this.handle, t1.handle, t2.handle, value); return this; }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this { native().addcdiv_(this.handle, t1.handle, t2.handle, value); return this; }
  clamp_(min?: number | null, max?: number | null): this { native().clamp_(this.handle, min ?? null, max ?? null); return this; }
  lerp_(end: Tensor, weight: number): this { native().lerp_(this.handle, end.handle, weight); return this; }
  maximum_(o: Tensor): this { native().maximum_(this.handle, o.handle); return this; }
  /** In-place uniform fill (no grad), optionally from an explicit generator. */
  uniform_(low = 0, high = 1, gen?: Generator | null): this {
    native().fillRandom_(this.handle, 0, low, high, gen?.handle ?? null);
    return this;
  }
  normal_(mean = 0, std = 1, gen?: Generator | null): this {
    native().fillRandom_(this.handle, 1, mean, std, gen?.handle ?? null);
    return this;
  }

  // ------------------------------------------------------------------ autograd
  get requiresGrad(): boolean {
    return native().requiresGrad(this.handle) as boolean;
  }
  set requiresGrad(v: boolean) {
    native().setRequiresGrad(this.handle, v);
  }
  requiresGrad_(v = true): this {
    native().setRequiresGrad(this.handle, v);
    return this;
  }
  get isLeaf(): boolean {
    return native().isLeaf(this.handle) as boolean;
  }
  /** The accumulated .grad as a new handle (or null). */
  get grad(): Tensor | null {
    const h = native().getGrad(this.handle) as Handle | null;
    return h === null ? null : new Tensor(h);
  }
  set grad(g: Tensor | null) {
    if (g !== null) {
      const a = g.shape, b = this.shape;
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw new Error(`grad: assigned gradient has shape [${a.join(', ')}] but the tensor has shape [${b.join(', ')}]`);
      if (g.dtype !== this.dtype) throw new Error(`grad: assigned gradient has dtype ${g.dtype} but the tensor has dtype ${this.dtype}`);
      if (g.device !== this.device) throw new Error(`grad: assigned gradient is on ${g.device} but the tensor is on ${this.device}`);
    }
    native().setGrad(this.handle, g === null ? null : g.handle);
  }
  /** Backpropagates into the .grad of the leaves that require grad. */
  backward(gradient?: Tensor | null, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native().backward(this.handle, gradient?.handle ?? null, opts.retainGraph ?? false, opts.createGraph ?? false);
  }
}

/** The public op that touched a disposed tensor, read from the stack (error path only). */
function callerName(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  for (const l of lines) {
    const m = /at (?:new )?(?:[\w$]+\.)?([\w$]+) /.exec(l);
    if (m && !['callerName', 'handle', 'get', 'un', 'bin', 'red', 'wrap'].includes(m[1]!) && !l.includes('get handle')) return m[1]!;
  }
  return 'tensor';
}

function scalarLike(t: Tensor, v: number | null | undefined): Tensor | null {
  if (v === null || v === undefined) return null;
  return Tensor.wrap(native().full([], v, DTYPE_CODE[t.dtype], t.device));
}

registerTensorClass((x: unknown): x is Tensor => x instanceof Tensor);
