// The one path from a perturbation source to protected data. Whatever produced the perturbation, this
// projects δ onto the budget (L∞: clip each pixel to [−ε, ε]; L2: rescale each image's δ to norm ≤ ε),
// clamps x + δ to [0, 1], quantizes to uint8 (rounding by default; the GUE authors truncate), and checks
// the bound on the stored bytes before anything is returned.
//
// L2 and quantization: rounding can add up to 0.5/255 per pixel, so a δ exactly on the L2 sphere could
// leave the ball once stored (by up to √d·0.5/255). We do not tolerate that: an image whose stored
// L2 distance exceeds ε is re-quantized by rounding toward the clean value (|q − x| ≤ |x + δ − x| per
// pixel, so the L2 cannot grow), and a final exact integer check steps the largest pixel differences
// one level toward the clean value while Σ(q − x)² > (255ε)². The stored bytes therefore satisfy
// ‖q − x‖₂ ≤ 255ε exactly (integer arithmetic; only (255ε)² itself is a double).
import { Tensor, noGrad, scope, tensor, where } from '../engine/index.js';
import { indexBatches } from '../data/loader.js';
import type { ImageDataset } from '../data/dataset.js';
import { silent, type EventSink } from '../util/events.js';
import type { Norm } from './types.js';

export type Quantization = 'round' | 'floor';

export interface PoisonOptions {
  /** Budget in [0,1] units: the L∞ radius (e.g. 8/255), or the per-image L2 radius when norm is 'l2'. */
  eps: number;
  /** Which ball δ is projected to (default 'linf'). */
  norm?: Norm;
  quantization: Quantization;
  batchSize: number;
  device: string;
}

export interface PoisonReport {
  /** Largest |protected − clean| over all pixels, in 1/255 units, after quantization. */
  linf255: number;
  /** Mean |protected − clean| in 1/255 units. */
  meanAbs255: number;
  /** Fraction of pixels changed. */
  changed: number;
  /** The norm the budget was enforced in. */
  norm: Norm;
  /** Largest and mean per-image L2 distance ‖protected − clean‖₂ in [0,1] units, after quantization. */
  l2Max: number;
  l2Mean: number;
}

/** Perturbation source: given a float batch in [0,1] (NCHW) and its dataset indices, returns δ (same shape). */
export type PerturbFn = (x: Tensor, index: Tensor, y: Tensor) => Tensor;

/**
 * The perturbation of a trained generator: δ = ε·G(x) (its eval/train mode is the caller's). The batch's labels are
 * passed on, for class-conditional generators (class-templates); others ignore them.
 */
export function generatorPerturbation(gen: { forward(x: Tensor, y?: Tensor): Tensor }, eps: number): PerturbFn {
  return (x, _index, y) => scope(() => gen.forward(x, y).mul(eps));
}

/** Per-sample perturbations stored in a table [N, C, H, W]: δ is looked up by dataset index. */
export function storedPerturbation(table: Tensor): PerturbFn {
  return (_x, index) => table.indexSelect(0, index.onDevice(table.device));
}

/** Applies δ from `perturb` to every image, projects to the budget, quantizes, and checks the bound. Returns a new dataset. */
export function poisonDataset(ds: ImageDataset, perturb: PerturbFn, o: PoisonOptions, onEvent: EventSink = silent, task = 'protect'): { dataset: ImageDataset; report: PoisonReport } {
  const norm: Norm = o.norm ?? 'linf';
  const [c, h, w] = ds.shape;
  const per = c * h * w;
  if (norm === 'linf' && !(o.eps > 0 && o.eps <= 1)) throw new Error(`eps must be in (0, 1], got ${o.eps}`);
  if (norm === 'l2' && !(o.eps > 0 && o.eps <= Math.sqrt(per))) throw new Error(`the L2 radius must be in (0, ${Math.sqrt(per).toFixed(2)}] for ${c}×${h}×${w} images, got ${o.eps}`);
  if (norm !== 'linf' && norm !== 'l2') throw new Error(`unknown norm '${String(norm)}'`);
  const n = ds.labels.length;
  const out = new Uint8Array(ds.images.length);
  const bound = Math.floor(o.eps * 255 + 1e-6);
  const b2 = (o.eps * 255) ** 2;
  let maxDiff = 0;
  let sumDiff = 0;
  let changed = 0;
  let l2Max = 0;
  let l2Sum = 0;
  let done = 0;
  const total = Math.ceil(n / o.batchSize);
  let step = 0;
  for (const idx of indexBatches(n, { batchSize: o.batchSize })) {
    const start = done;
    const len = idx.shape[0]!;
    const bytes = noGrad(() =>
      scope(() => {
        const u8 = tensor(ds.images.subarray(start * per, (start + len) * per), { shape: [len, c, h, w], dtype: 'uint8', device: o.device });
        const x = u8.to('float32').div(255);
        const y = tensor(BigInt64Array.from(ds.labels.subarray(start, start + len), (v) => BigInt(v)), { shape: [len], dtype: 'int64', device: o.device });
        const raw = perturb(x, idx.to({ device: o.device }), y);
        const orig = u8.to('float32');
        if (norm === 'linf') {
          const delta = raw.clamp(-o.eps, o.eps);
          const scaled = x.add(delta).clamp(0, 1).mul(255);
          const q = o.quantization === 'round' ? scaled.round() : scaled.add(1e-4).floor();
          // Project onto the budget in integer space too (guards float rounding at the boundary).
          const qq = q.clamp(orig.sub(bound), orig.add(bound)).clamp(0, 255);
          return qq.to('uint8').contiguous().toTypedArray() as Uint8Array;
        }
        // L2: rescale each image's δ onto the ball, δ · min(1, ε / ‖δ‖₂).
        const nrm = raw.reshape([len, per]).norm([1], true).reshape([len, 1, 1, 1]);
        const delta = raw.mul(nrm.maximum(o.eps).rdiv(o.eps));
        const scaled = x.add(delta).clamp(0, 1).mul(255);
        const q = o.quantization === 'round' ? scaled.round() : scaled.add(1e-4).floor();
        const over = q.sub(orig).square().reshape([len, per]).sum([1]).gt(b2).reshape([len, 1, 1, 1]);
        const towardClean = orig.add(scaled.sub(orig).trunc());
        return where(over, towardClean, q).clamp(0, 255).to('uint8').contiguous().toTypedArray() as Uint8Array;
      }),
    );
    const base = start * per;
    for (let s = 0; s < len; s++) {
      const off = s * per;
      let ss = 0;
      for (let i = 0; i < per; i++) {
        const d = bytes[off + i]! - ds.images[base + off + i]!;
        ss += d * d;
      }
      if (norm === 'l2') {
        // Exact integer guard: step the largest |q − x| one level toward x until Σd² ≤ (255ε)².
        while (ss > b2) {
          let k = -1;
          let big = 0;
          for (let i = 0; i < per; i++) {
            const a = Math.abs(bytes[off + i]! - ds.images[base + off + i]!);
            if (a > big) { big = a; k = i; }
          }
          const cur = bytes[off + k]!;
          const orig = ds.images[base + off + k]!;
          bytes[off + k] = cur > orig ? cur - 1 : cur + 1;
          ss -= 2 * big - 1;
        }
      }
      const l2 = Math.sqrt(ss) / 255;
      if (l2 > l2Max) l2Max = l2;
      l2Sum += l2;
    }
    out.set(bytes, base);
    for (let i = 0; i < bytes.length; i++) {
      const d = Math.abs(bytes[i]! - ds.images[base + i]!);
      if (d > maxDiff) maxDiff = d;
      sumDiff += d;
      if (d !== 0) changed++;
    }
    done += len;
    onEvent({ type: 'progress', task, step: ++step, total });
  }
  if (norm === 'linf' && maxDiff > bound) throw new Error(`internal error: protected data exceeds the L∞ budget (${maxDiff}/255 > ${bound}/255)`);
  if (norm === 'l2' && l2Max * 255 > Math.sqrt(b2) * (1 + 1e-12)) throw new Error(`internal error: protected data exceeds the L2 budget (${l2Max} > ${o.eps})`);
  return {
    dataset: { ...ds, images: out, source: `${ds.source} (protected)` },
    report: { linf255: maxDiff, meanAbs255: sumDiff / out.length, changed: changed / out.length, norm, l2Max, l2Mean: n > 0 ? l2Sum / n : 0 },
  };
}
