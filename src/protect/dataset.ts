// Protects a whole in-memory dataset (uint8 NCHW) through a ProtectBackend, in batches: the same padding
// (even reflect padding to backend.multiple, replicate when the pad is not smaller than the image) and the
// same quantization (round, then clamp to ±⌊255ε⌋ of the original) as `gue protect` on files, so a
// dataset protected here equals its images protected one by one. Used by `gue check` with any backend.
import type { ImageDataset } from '../data/dataset.js';
import { silent, type EventSink } from '../util/events.js';
import type { ProtectBackend } from './backend.js';
import { UNET_GRID, indexMap } from './apply.js';

export interface DatasetProtection {
  dataset: ImageDataset;
  linf255: number;
  meanAbs255: number;
}

export async function protectDataset(ds: ImageDataset, backend: ProtectBackend, o: { batchSize?: number } = {}, onEvent: EventSink = silent): Promise<DatasetProtection> {
  const [c, h, w] = ds.shape;
  if (c !== backend.channels) throw new Error(`the generator takes ${backend.channels}-channel images but the dataset has ${c}`);
  const m = Math.max(backend.multiple, UNET_GRID); // as apply.ts: the same padding for every backend
  const ph = (m - (h % m)) % m;
  const pw = (m - (w % m)) % m;
  const top = Math.floor(ph / 2);
  const left = Math.floor(pw / 2);
  const H = h + ph;
  const W = w + pw;
  const reflect = !(ph >= h || pw >= w);
  const rows = indexMap(h, top, H, reflect);
  const cols = indexMap(w, left, W, reflect);
  const bound = Math.floor(backend.eps * 255 + 1e-6);
  const per = c * h * w;
  const pper = c * H * W;
  const n = ds.labels.length;
  const bs = o.batchSize ?? 256;
  const out = new Uint8Array(ds.images.length);
  let linf = 0;
  let sum = 0;
  const total = Math.ceil(n / bs);
  for (let s = 0, step = 0; s < n; s += bs) {
    const k = Math.min(bs, n - s);
    const x = new Float32Array(k * pper);
    for (let i = 0; i < k; i++) {
      for (let ch = 0; ch < c; ch++) {
        const src = (s + i) * per + ch * h * w;
        const dst = i * pper + ch * H * W;
        for (let y = 0; y < H; y++) {
          const r = src + rows[y]! * w;
          for (let xx = 0; xx < W; xx++) x[dst + y * W + xx] = ds.images[r + cols[xx]!]! / 255;
        }
      }
    }
    const y = await backend.run(x, [k, c, H, W]);
    for (let i = 0; i < k; i++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (s + i) * per + ch * h * w;
        const pbase = i * pper + ch * H * W;
        for (let yy = 0; yy < h; yy++) {
          for (let xx = 0; xx < w; xx++) {
            const orig = ds.images[base + yy * w + xx]!;
            let q = Math.round(Math.min(1, Math.max(0, y[pbase + (yy + top) * W + xx + left]!)) * 255);
            if (q > orig + bound) q = orig + bound;
            if (q < orig - bound) q = orig - bound;
            q = q < 0 ? 0 : q > 255 ? 255 : q;
            out[base + yy * w + xx] = q;
            const d = Math.abs(q - orig);
            if (d > linf) linf = d;
            sum += d;
          }
        }
      }
    }
    onEvent({ type: 'progress', task: 'protect', step: ++step, total });
  }
  return { dataset: { ...ds, images: out, source: `${ds.source} (protected by ${backend.kind} generator)` }, linf255: linf, meanAbs255: sum / Math.max(1, out.length) };
}
