// The data transforms `gue check` applies to the protected training set before training a victim, to ask
// "does my protection survive what a scraper might do to my images?" Each returns a new dataset of the same
// shape (uint8 NCHW); the input is not modified. Done with sharp, image by image, like a real pipeline:
// - jpeg q: encode as baseline JPEG at quality q (4:2:0 chroma subsampling), decode — the victim-side
//   defense registry's jpegRoundTrip (src/defenses/jpeg.ts). Compression is the best-known cheap defense
//   against unlearnable examples (Liu et al., "Image Shortcut Squeezing", ICML 2023).
// - resize f: downscale by f (0 < f < 1; to round(f·size), at least 1 pixel) then upscale back to the original
//   size, both with bilinear interpolation (sharp kernel 'linear').
// - grayscale: BT.601 luma, rounded (L = (19595 R + 38470 G + 7471 B + 32768) >> 16, PIL's convert('L')),
//   replicated to every channel so the victim keeps its input shape — the registry's toGrayscale
//   (src/defenses/grayscale.ts). A no-op on gray datasets.
import type { ImageDataset } from '../data/dataset.js';
import { loadSharp } from './codec.js';
import { jpegRoundTrip, toGrayscale } from '../defenses/index.js';

export type TransformSpec = { kind: 'jpeg'; quality: number } | { kind: 'resize'; factor: number } | { kind: 'grayscale' };

export function transformName(t: TransformSpec): string {
  switch (t.kind) {
    case 'jpeg': return `JPEG q=${t.quality}`;
    case 'resize': return `resize ×${t.factor} and back`;
    case 'grayscale': return 'grayscale';
  }
}

function toHwc(chw: Uint8Array, c: number, h: number, w: number): Buffer {
  const out = Buffer.alloc(chw.length);
  const plane = h * w;
  for (let p = 0; p < plane; p++) for (let k = 0; k < c; k++) out[p * c + k] = chw[k * plane + p]!;
  return out;
}

function fromHwc(hwc: Uint8Array, srcChannels: number, dst: Uint8Array, c: number, h: number, w: number): void {
  const plane = h * w;
  for (let p = 0; p < plane; p++) for (let k = 0; k < c; k++) dst[k * plane + p] = hwc[p * srcChannels + Math.min(k, srcChannels - 1)]!;
}

/** Applies one transform to every image of ds. */
export async function applyTransform(ds: ImageDataset, t: TransformSpec): Promise<ImageDataset> {
  const [c, h, w] = ds.shape;
  const per = c * h * w;
  const n = ds.labels.length;
  const out = new Uint8Array(ds.images.length);
  if (t.kind === 'grayscale') {
    if (c === 1) return { ...ds, images: ds.images.slice(), source: `${ds.source} + grayscale (no-op: already gray)` };
    return { ...toGrayscale(ds), source: `${ds.source} + grayscale` };
  }
  if (t.kind === 'jpeg') return { ...jpegRoundTrip(ds, t.quality), source: `${ds.source} + ${transformName(t)}` };
  if (t.kind === 'resize' && !(t.factor > 0 && t.factor < 1)) throw new Error(`resize factor must be in (0, 1), got ${t.factor}`);
  if (c !== 1 && c !== 3) throw new Error(`transforms need 1 or 3 channels, got ${c}`);
  const sharp = await loadSharp();
  const raw = { width: w, height: h, channels: c as 1 | 3 };
  for (let i = 0; i < n; i++) {
    const hwc = toHwc(ds.images.subarray(i * per, (i + 1) * per), c, h, w);
    const sw = Math.max(1, Math.round(w * t.factor));
    const sh = Math.max(1, Math.round(h * t.factor));
    const small = await sharp(hwc, { raw }).resize(sw, sh, { fit: 'fill', kernel: 'linear' }).raw().toBuffer({ resolveWithObject: true });
    const r = await sharp(small.data, { raw: { width: sw, height: sh, channels: small.info.channels as 1 | 3 } }).resize(w, h, { fit: 'fill', kernel: 'linear' }).raw().toBuffer({ resolveWithObject: true });
    if (r.info.width !== w || r.info.height !== h) throw new Error(`transform produced ${r.info.width}×${r.info.height}, expected ${w}×${h}`);
    fromHwc(r.data, r.info.channels, out.subarray(i * per, (i + 1) * per), c, h, w);
  }
  return { ...ds, images: out, source: `${ds.source} + ${transformName(t)}` };
}
