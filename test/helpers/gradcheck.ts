// Test helpers for the engine suite: a deterministic JS PRNG, float64 tensor makers, closeness
// assertions, and a central-difference gradient checker that compares against autograd grad().
import assert from 'node:assert/strict';
import { grad, noGrad, scope, tensor, type Tensor } from '../../src/engine/index.js';

/** mulberry32: a small deterministic PRNG in [0, 1), independent of libtorch. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandArrayOptions {
  lo?: number;
  hi?: number;
  /** Resample values whose |v| is below this (keeps inputs away from kinks at 0). */
  minAbs?: number;
  /** Resample values within this distance of any of these points (keeps inputs away from other kinks). */
  avoid?: number[];
  avoidGap?: number;
}

/** n uniform values in [lo, hi) from a seeded PRNG, optionally avoiding kinks. */
export function randArray(n: number, seed: number, o: RandArrayOptions = {}): Float64Array {
  const r = mulberry32(seed);
  const lo = o.lo ?? -1;
  const hi = o.hi ?? 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (;;) {
      const v = lo + (hi - lo) * r();
      if (o.minAbs !== undefined && Math.abs(v) < o.minAbs) continue;
      if (o.avoid && o.avoid.some((p) => Math.abs(v - p) < (o.avoidGap ?? 0.05))) continue;
      out[i] = v;
      break;
    }
  }
  return out;
}

const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);

/** A float64 tensor of the given shape with seeded uniform values. */
export function randT(shape: number[], seed: number, o: RandArrayOptions = {}): Tensor {
  return tensor(randArray(prod(shape), seed, o), { shape, dtype: 'float64' });
}

/**
 * A float64 tensor whose values are all distinct, at least `gap` apart (a shuffled arithmetic
 * sequence, centred on 0 plus an offset): for max / sort / pooling checks, where ties or
 * near-ties would make finite differences jump.
 */
export function distinctT(shape: number[], seed: number, gap = 0.1, offset = 0.0123): Tensor {
  const n = prod(shape);
  const r = mulberry32(seed);
  const vals = Array.from({ length: n }, (_, i) => (i - (n - 1) / 2) * gap + offset);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  return tensor(Float64Array.from(vals), { shape, dtype: 'float64' });
}

/** A float64 tensor from a nested array. */
export function f64(data: number[] | number[][] | number[][][] | number[][][][] | number, shape?: number[]): Tensor {
  return tensor(data as never, { dtype: 'float64', ...(shape ? { shape } : {}) });
}

/** Asserts two numeric arrays are elementwise close: |a-b| <= atol + rtol*|b|. */
export function assertClose(
  actual: ArrayLike<number> | number,
  expected: ArrayLike<number> | number,
  o: { rtol?: number; atol?: number; msg?: string } = {},
): void {
  const a = typeof actual === 'number' ? [actual] : Array.from(actual);
  const e = typeof expected === 'number' ? [expected] : Array.from(expected);
  const rtol = o.rtol ?? 1e-9;
  const atol = o.atol ?? 1e-9;
  assert.equal(a.length, e.length, `${o.msg ?? 'assertClose'}: length ${a.length} != ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Number.isNaN(y)) {
      assert.ok(Number.isNaN(x), `${o.msg ?? 'assertClose'}: [${i}] expected NaN, got ${x}`);
      continue;
    }
    if (x === y) continue;
    assert.ok(
      Math.abs(x - y) <= atol + rtol * Math.abs(y),
      `${o.msg ?? 'assertClose'}: element ${i}: got ${x}, expected ${y} (|diff| ${Math.abs(x - y)})\n got ${fmt(a)}\n exp ${fmt(e)}`,
    );
  }
}

function fmt(a: number[]): string {
  const s = a.slice(0, 24).map((v) => (Number.isInteger(v) ? String(v) : v.toPrecision(8)));
  return `[${s.join(', ')}${a.length > 24 ? ', ...' : ''}]`;
}

/** Asserts a tensor has the given shape and (close) values. */
export function assertTensor(t: Tensor, shape: number[], values: ArrayLike<number>, o: { rtol?: number; atol?: number; msg?: string } = {}): void {
  assert.deepEqual(t.shape, shape, `${o.msg ?? 'assertTensor'}: shape`);
  assertClose(t.toArray(), values, o);
}

export type GradFn = (...xs: Tensor[]) => Tensor | Tensor[];

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Relative tolerance (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-7). */
  atol?: number;
  /** Seed of the fixed random projection applied to the outputs (default 1234). */
  seed?: number;
  /** Indices of the inputs to check (default: all). Others are passed through as constants. */
  wrt?: number[];
  /** A name for messages. */
  name?: string;
  /** Evaluate the finite differences with grad enabled and inputs requiring grad (for fn that calls grad() itself). */
  needsGrad?: boolean;
}

/**
 * Checks autograd against central differences. The inputs must be float64. fn's outputs are
 * reduced to a scalar L = Σ_k Σ (out_k * W_k) with fixed random weights W_k (so every output
 * element matters with a different weight); dL/d(input) from grad() is compared elementwise with
 * (L(x + eps e_i) - L(x - eps e_i)) / (2 eps) evaluated without grad. Everything runs in a scope.
 * Returns the largest absolute numerical gradient seen (callers can assert it is non-trivial).
 */
export function gradcheck(fn: GradFn, inputs: Tensor[], o: GradcheckOptions = {}): number {
  const eps = o.eps ?? 1e-6;
  const rtol = o.rtol ?? 1e-5;
  const atol = o.atol ?? 1e-7;
  const name = o.name ?? 'gradcheck';
  const wrt = o.wrt ?? inputs.map((_, i) => i);
  return scope(() => {
    for (const [i, x] of inputs.entries()) {
      if (wrt.includes(i)) assert.equal(x.dtype, 'float64', `${name}: input ${i} must be float64 for a gradient check`);
    }
    const shapes = inputs.map((x) => x.shape);
    const data = inputs.map((x) => (x.dtype === 'float64' ? Float64Array.from(x.toTypedArray() as Float64Array) : null));
    const leaves = inputs.map((x, i) => (wrt.includes(i) ? x.detach().clone().requiresGrad_(true) : x));

    const toList = (r: Tensor | Tensor[]): Tensor[] => (Array.isArray(r) ? r : [r]);
    const outs = toList(fn(...leaves));
    assert.ok(outs.length > 0, `${name}: fn returned no outputs`);
    const weights = outs.map((out, k) => {
      assert.equal(out.dtype, 'float64', `${name}: output ${k} is ${out.dtype}, expected float64`);
      return tensor(randArray(out.numel, (o.seed ?? 1234) + 97 * k, { lo: -1, hi: 1 }), { shape: out.shape, dtype: 'float64' });
    });
    const project = (os: Tensor[]): Tensor => {
      let total: Tensor | null = null;
      for (const [k, out] of os.entries()) {
        const s = out.mul(weights[k]!).sum();
        total = total === null ? s : total.add(s);
      }
      return total!;
    };
    const loss = project(outs);
    const analytic = grad(loss, wrt.map((i) => leaves[i]!), { allowUnused: true });

    const evalOnce = (which: number, j: number, delta: number): number =>
      scope(() => {
        const args = inputs.map((x, i) => {
          let t: Tensor;
          if (i !== which) t = leaves[i]!.detach();
          else {
            const d = Float64Array.from(data[i]!);
            d[j] = d[j]! + delta;
            t = tensor(d, { shape: shapes[i]!, dtype: 'float64' });
          }
          return o.needsGrad && wrt.includes(i) ? t.requiresGrad_(true) : t;
        });
        return project(toList(fn(...args))).item();
      });
    const evalAt = (which: number, j: number, delta: number): number =>
      o.needsGrad ? evalOnce(which, j, delta) : noGrad(() => evalOnce(which, j, delta));

    let maxAbs = 0;
    for (const [k, i] of wrt.entries()) {
      const g = analytic[k];
      const n = data[i]!.length;
      const ga = g === null ? new Float64Array(n) : Float64Array.from(g.toTypedArray() as Float64Array);
      if (g !== null) assert.deepEqual(g.shape, shapes[i], `${name}: gradient ${i} has the wrong shape`);
      const numeric = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        numeric[j] = (evalAt(i, j, eps) - evalAt(i, j, -eps)) / (2 * eps);
        maxAbs = Math.max(maxAbs, Math.abs(numeric[j]!));
      }
      for (let j = 0; j < n; j++) {
        const a = ga[j]!;
        const b = numeric[j]!;
        assert.ok(
          Number.isFinite(a) && Math.abs(a - b) <= atol + rtol * Math.max(Math.abs(a), Math.abs(b)),
          `${name}: d/d(input ${i})[${j}]: autograd ${a} vs finite difference ${b} (|diff| ${Math.abs(a - b)})`,
        );
      }
    }
    return maxAbs;
  });
}
