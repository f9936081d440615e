// Autoregressive perturbations (AR), Sandoval-Segura, Singla, Geiping, Goldblum, Goldstein, Jacobs,
// "Autoregressive Perturbations for Data Poisoning", NeurIPS 2022. Model-free: each class k gets a random
// 2-D autoregressive process per channel, a 3×3 causal window whose last (bottom-right) coefficient is 0:
//     s[i+2, j+2] = Σ_{a,b ∈ {0,1,2}, (a,b) ≠ (2,2)} β_k,c[a, b] · s[i+a, j+b]
// The coefficients are drawn N(0, 1) and normalised to sum to 1 (the paper's "more stable" random
// processes). Every image draws a Gaussian start signal of size (H + crop)×(W + crop), runs the recurrence
// in raster order over it, drops the first `crop` rows and columns (paper: 36×36 signal, crop 4, for 32×32
// images), and scales the result to the budget: L2 norm ε (paper ε = 1 on CIFAR-10) or max |δ| = ε (L∞).
// A simple conv filter detects each class's process, so a network learns the noise instead of the image.
// Random coefficient sets can blow up (a sum near 0 before normalisation): a set is kept only if a probe
// signal stays finite and within 1e3× its start values; the paper instead ships sets found by search.
import { Generator, Tensor, keep, noGrad, randn, scope, tensor } from '../engine/index.js';
import { OptionError, type OptionSpec, type OptionValues } from '../util/options.js';
import { scaleToBudget } from './lsp.js';
import type { Attack, AttackContext, PreparedAttack } from './types.js';
import { storedPerturbation } from './poison.js';

const AR_OPTIONS: Record<string, OptionSpec> = {
  crop: { type: 'int', description: 'leading rows/columns of the AR signal dropped (paper 4)', default: 4, min: 0 },
  chunk: { type: 'int', description: 'images generated per chunk (memory only; does not change the noise)', default: 1024, min: 1 },
};

const WIN = 3;

/** Runs the AR recurrence in place on one channel plane s [hh × ww] with 8 coefficients (row-major, (2,2) omitted). */
function recur(s: Float64Array, hh: number, ww: number, beta: Float64Array): void {
  for (let i = 0; i + WIN <= hh; i++) {
    for (let j = 0; j + WIN <= ww; j++) {
      let v = 0;
      let q = 0;
      for (let a = 0; a < WIN; a++) {
        const row = (i + a) * ww + j;
        for (let b = 0; b < WIN; b++) {
          if (a === WIN - 1 && b === WIN - 1) continue;
          v += beta[q++]! * s[row + b]!;
        }
      }
      s[(i + WIN - 1) * ww + j + WIN - 1] = v;
    }
  }
}

/** Draws one stable coefficient set (8 values summing to 1) per channel for one class. */
function drawCoefficients(g: Generator, channels: number, hh: number, ww: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let ch = 0; ch < channels; ch++) {
    let found: Float64Array | null = null;
    for (let attempt = 0; attempt < 1000 && found === null; attempt++) {
      const raw = noGrad(() => scope(() => randn([WIN * WIN - 1], { generator: g }).toArray() as number[]));
      const sum = raw.reduce((a, b) => a + b, 0);
      if (!Number.isFinite(1 / sum)) continue;
      const beta = Float64Array.from(raw, (v) => v / sum);
      const probe = Float64Array.from(noGrad(() => scope(() => randn([hh * ww], { generator: g }).toArray() as number[])));
      const startMax = probe.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      recur(probe, hh, ww, beta);
      const endMax = probe.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      if (Number.isFinite(endMax) && endMax <= 1e3 * startMax) found = beta;
    }
    if (found === null) throw new Error('ar: no stable autoregressive coefficients found in 1000 draws');
    out.push(found);
  }
  return out;
}

function prepareAr(ctx: AttackContext, o: OptionValues): PreparedAttack {
  const [c, h, w] = ctx.train.shape;
  const n = ctx.train.labels.length;
  const k = ctx.train.numClasses;
  const crop = o.crop as number;
  const hh = h + crop;
  const ww = w + crop;
  if (hh < WIN || ww < WIN) throw new OptionError(`attack 'ar' needs images of at least ${WIN}×${WIN} pixels (with crop)`);
  const g = new Generator(ctx.seed);
  const coeffs: Float64Array[][] = [];
  for (let j = 0; j < k; j++) coeffs.push(drawCoefficients(g, c, hh, ww));
  const per = c * h * w;
  const all = new Float32Array(n * per);
  const chunk = o.chunk as number;
  const plane = new Float64Array(hh * ww);
  for (let s0 = 0; s0 < n; s0 += chunk) {
    const len = Math.min(chunk, n - s0);
    const start = noGrad(() => scope(() => randn([len, c, hh, ww], { generator: g }).toTypedArray() as Float32Array));
    for (let i = 0; i < len; i++) {
      const y = ctx.train.labels[s0 + i]!;
      for (let ch = 0; ch < c; ch++) {
        const src = (i * c + ch) * hh * ww;
        for (let q = 0; q < hh * ww; q++) plane[q] = start[src + q]!;
        recur(plane, hh, ww, coeffs[y]![ch]!);
        const dst = (s0 + i) * per + ch * h * w;
        for (let r = 0; r < h; r++) for (let col = 0; col < w; col++) all[dst + r * w + col] = plane[(r + crop) * ww + col + crop]!;
      }
    }
    ctx.onEvent({ type: 'progress', task: `${ctx.task} noise`, step: Math.ceil((s0 + len) / chunk), total: Math.ceil(n / chunk) });
  }
  for (let i = 0; i < all.length; i++) if (!Number.isFinite(all[i]!)) throw new Error('ar: the autoregressive noise overflowed (non-finite values)');
  const table: Tensor = noGrad(() =>
    keep(
      scope(() => {
        const d = scaleToBudget(tensor(all, { shape: [n, c, h, w] }), ctx.eps, ctx.norm);
        return d.onDevice(ctx.device);
      }),
    ),
  );
  return {
    perturb: storedPerturbation(table),
    meta: { coefficients: coeffs.map((cls) => cls.map((b) => Array.from(b, (v) => Number(v.toPrecision(6))))) },
    dispose: () => table.dispose(),
  };
}

export const ar: Attack = {
  name: 'ar',
  title: 'autoregressive perturbations: per-class random 3×3 AR processes generate each image’s noise, scaled to the budget',
  cite: 'Sandoval-Segura, Singla, Geiping, Goldblum, Goldstein, Jacobs, "Autoregressive Perturbations for Data Poisoning", NeurIPS 2022',
  norms: ['l2', 'linf'],
  options: AR_OPTIONS,
  prepare: prepareAr,
};
