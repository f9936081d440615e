// The one path from a perturbation source to protected data. Whatever produced the perturbation, this
// clamps x + δ to [0, 1], quantizes to uint8 (rounding by default; the GUE authors truncate), and checks
// the L∞ bound on the stored bytes before anything is returned.
import { Tensor, noGrad, scope, tensor } from '../engine/index.js';
import { indexBatches } from '../data/loader.js';
import type { ImageDataset } from '../data/dataset.js';
import { silent, type EventSink } from '../util/events.js';

export type Quantization = 'round' | 'floor';

export interface PoisonOptions {
  /** L∞ budget in [0,1] units (e.g. 8/255). */
  eps: number;
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
}

/** Perturbation source: given a float batch in [0,1] (NCHW) and its dataset indices, returns δ (same shape). */
export type PerturbFn = (x: Tensor, index: Tensor, y: Tensor) => Tensor;

/** The perturbation of a trained generator: δ = ε·G(x) (its eval/train mode is the caller's). */
export function generatorPerturbation(gen: { forward(x: Tensor): Tensor }, eps: number): PerturbFn {
  return (x) => scope(() => gen.forward(x).mul(eps));
}

/** Applies δ from `perturb` to every image, quantizes, and checks the bound. Returns a new dataset. */
export function poisonDataset(ds: ImageDataset, perturb: PerturbFn, o: PoisonOptions, onEvent: EventSink = silent, task = 'protect'): { dataset: ImageDataset; report: PoisonReport } {
  if (!(o.eps > 0 && o.eps <= 1)) throw new Error(`eps must be in (0, 1], got ${o.eps}`);
  const [c, h, w] = ds.shape;
  const per = c * h * w;
  const n = ds.labels.length;
  const out = new Uint8Array(ds.images.length);
  const bound = Math.floor(o.eps * 255 + 1e-6);
  let maxDiff = 0;
  let sumDiff = 0;
  let changed = 0;
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
        const delta = perturb(x, idx.to({ device: o.device }), y).clamp(-o.eps, o.eps);
        const scaled = x.add(delta).clamp(0, 1).mul(255);
        const q = o.quantization === 'round' ? scaled.round() : scaled.add(1e-4).floor();
        // Project onto the budget in integer space too (guards float rounding at the boundary).
        const orig = u8.to('float32');
        const qq = q.clamp(orig.sub(bound), orig.add(bound)).clamp(0, 255);
        return qq.to('uint8').contiguous().toTypedArray() as Uint8Array;
      }),
    );
    out.set(bytes, start * per);
    for (let i = 0; i < bytes.length; i++) {
      const d = Math.abs(bytes[i]! - ds.images[start * per + i]!);
      if (d > maxDiff) maxDiff = d;
      sumDiff += d;
      if (d !== 0) changed++;
    }
    done += len;
    onEvent({ type: 'progress', task, step: ++step, total });
  }
  if (maxDiff > bound) throw new Error(`internal error: protected data exceeds the L∞ budget (${maxDiff}/255 > ${bound}/255)`);
  return {
    dataset: { ...ds, images: out, source: `${ds.source} (protected)` },
    report: { linf255: maxDiff, meanAbs255: sumDiff / out.length, changed: changed / out.length },
  };
}
