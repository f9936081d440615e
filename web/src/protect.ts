// The page's protection path for one decoded photo, mirroring `gue protect` and poisonDataset (GUE, AAAI 2024:
// one forward pass of the trained generator, x' = clamp(x + ε·G(x), 0, 1)):
//  1. colour planes → float NCHW in [0,1]: a 3-channel generator gets R,G,B (a gray photo is replicated and the
//     three outputs averaged back to gray); a 1-channel generator protects a gray photo directly and a colour
//     photo plane by plane (a batch of 3). Alpha is never perturbed and is re-attached unchanged.
//  2. sizes: every input is reflect-padded to a multiple of 8 (the U-Net downsamples 3 times) and cropped
//     back; photos larger than TILE are processed in tiles of at most TILE×TILE with MARGIN pixels of context on
//     each side (reflected at the photo's borders), so memory stays bounded and each tile sees across its seams.
//  3. quantization to uint8 by rounding, projection onto the integer L∞ ball floor(ε·255) around the original,
//     and a re-check of the bound on the final bytes.
import { imageMetrics, type Metrics } from './metrics.js';
import { encodePng } from './png.js';

export const TILE = 512;
export const MARGIN = 32;

export type RunModel = (x: Float32Array, shape: [number, number, number, number]) => Promise<Float32Array>;

export interface Generator {
  eps: number;
  channels: number;
  run: RunModel;
}

export interface Decoded {
  width: number;
  height: number;
  /** Interleaved RGBA, 8 bits. */
  rgba: Uint8Array | Uint8ClampedArray;
}

export interface Protected {
  width: number;
  height: number;
  gray: boolean;
  hasAlpha: boolean;
  /** Largest change allowed on the bytes, in 1/255 units: floor(ε·255). */
  bound255: number;
  metrics: Metrics;
  /** The protected file. */
  png: Uint8Array;
  /** Interleaved RGBA for display. */
  rgba: Uint8ClampedArray;
  /** Pixels whose rounded value had to be pulled back into the integer L∞ ball. */
  projected: number;
}

/** PyTorch-style reflection of index i into [0, n) (periodic for pads larger than the size). */
export function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = i % period;
  if (j < 0) j += period;
  return j >= n ? period - j : j;
}

interface Span {
  /** Output range written from this tile. */
  core0: number;
  core1: number;
  /** First input coordinate (may be negative: reflected). */
  start: number;
  /** Input length, a multiple of 8. */
  length: number;
}

/** Splits one axis of length n into tile spans: as few tiles as fit TILE, of equal size (multiples of 8). */
export function spans(n: number, tile = TILE, margin = MARGIN): Span[] {
  const ceil8 = (v: number): number => v + ((8 - (v % 8)) % 8);
  if (n <= tile) {
    const pad = (8 - (n % 8)) % 8;
    return [{ core0: 0, core1: n, start: -Math.floor(pad / 2), length: n + pad }];
  }
  const core = ceil8(Math.ceil(n / Math.ceil(n / tile)));
  const out: Span[] = [];
  for (let c0 = 0; c0 < n; c0 += core) {
    const c1 = Math.min(n, c0 + core);
    out.push({ core0: c0, core1: c1, start: c0 - margin, length: ceil8(c1 - c0 + 2 * margin) });
  }
  return out;
}

export async function protectImage(img: Decoded, gen: Generator, onProgress: (done: number, total: number) => void = () => {}): Promise<Protected> {
  const { width: w, height: h, rgba } = img;
  const n = w * h;
  let gray = true;
  let hasAlpha = false;
  for (let i = 0; i < n; i++) {
    const r = rgba[4 * i]!;
    if (gray && (r !== rgba[4 * i + 1] || r !== rgba[4 * i + 2])) gray = false;
    if (!hasAlpha && rgba[4 * i + 3] !== 255) hasAlpha = true;
    if (!gray && hasAlpha) break;
  }
  const nColor = gray ? 1 : 3;
  const orig: Uint8Array[] = [];
  for (let c = 0; c < nColor; c++) {
    const p = new Uint8Array(n);
    for (let i = 0; i < n; i++) p[i] = rgba[4 * i + c]!;
    orig.push(p);
  }
  // Batch layout: item k, model channel c reads colour plane src[k][c].
  const C = gen.channels;
  const src: Uint8Array[][] = C === 3 ? [gray ? [orig[0]!, orig[0]!, orig[0]!] : orig] : orig.map((p) => [p]);
  const N = src.length;
  const outF: Float32Array[][] = src.map((item) => item.map(() => new Float32Array(n)));

  const ys = spans(h);
  const xs = spans(w);
  const total = ys.length * xs.length;
  let done = 0;
  onProgress(0, total);
  for (const sy of ys) {
    const rowIdx = Int32Array.from({ length: sy.length }, (_, k) => reflect(sy.start + k, h));
    for (const sx of xs) {
      const colIdx = Int32Array.from({ length: sx.length }, (_, k) => reflect(sx.start + k, w));
      const th = sy.length;
      const tw = sx.length;
      const x = new Float32Array(N * C * th * tw);
      let o = 0;
      for (let k = 0; k < N; k++) {
        for (let c = 0; c < C; c++) {
          const plane = src[k]![c]!;
          for (let yy = 0; yy < th; yy++) {
            const row = rowIdx[yy]! * w;
            for (let xx = 0; xx < tw; xx++) x[o++] = plane[row + colIdx[xx]!]! / 255;
          }
        }
      }
      const expected = x.length;
      // `run` may transfer x's buffer to the worker: x is not used after this call.
      const y = await gen.run(x, [N, C, th, tw]);
      if (y.length !== expected) throw new Error(`the generator returned ${y.length} values for an input of ${expected}`);
      const oy = sy.core0 - sy.start;
      const ox = sx.core0 - sx.start;
      for (let k = 0; k < N; k++) {
        for (let c = 0; c < C; c++) {
          const dst = outF[k]![c]!;
          const base = (k * C + c) * th * tw;
          for (let yy = sy.core0; yy < sy.core1; yy++) {
            const srcRow = base + (yy - sy.core0 + oy) * tw + ox - sx.core0;
            for (let xx = sx.core0; xx < sx.core1; xx++) dst[yy * w + xx] = y[srcRow + xx]!;
          }
        }
      }
      onProgress(++done, total);
      // Let the page repaint its progress bar between tiles.
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  // Back to the photo's colour planes.
  const floatPlanes: Float32Array[] = [];
  if (C === 3 && gray) {
    const m = new Float32Array(n);
    const [a, b, c] = outF[0]! as [Float32Array, Float32Array, Float32Array];
    for (let i = 0; i < n; i++) m[i] = (a[i]! + b[i]! + c[i]!) / 3;
    floatPlanes.push(m);
  } else if (C === 3) floatPlanes.push(...outF[0]!);
  else floatPlanes.push(...outF.map((item) => item[0]!));

  const bound = Math.floor(gen.eps * 255 + 1e-6);
  let projected = 0;
  const prot: Uint8Array[] = floatPlanes.map((fp, c) => {
    const o = orig[c]!;
    const q = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = fp[i]!;
      if (!Number.isFinite(v)) throw new Error('the generator returned a non-finite value');
      let r = Math.round(Math.min(1, Math.max(0, v)) * 255);
      const lo = Math.max(0, o[i]! - bound);
      const hi = Math.min(255, o[i]! + bound);
      if (r < lo || r > hi) {
        r = r < lo ? lo : hi;
        projected++;
      }
      q[i] = r;
    }
    return q;
  });
  const metrics = imageMetrics(orig, prot, w, h);
  // Re-check the bound on the bytes that will be written.
  if (metrics.linf255 > bound) throw new Error(`L∞ check failed: ${metrics.linf255}/255 > ${bound}/255`);

  const outRgba = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    outRgba[4 * i] = prot[0]![i]!;
    outRgba[4 * i + 1] = prot[gray ? 0 : 1]![i]!;
    outRgba[4 * i + 2] = prot[gray ? 0 : 2]![i]!;
    outRgba[4 * i + 3] = rgba[4 * i + 3]!;
  }
  const ch = (nColor + (hasAlpha ? 1 : 0)) as 1 | 2 | 3 | 4;
  const packed = new Uint8Array(n * ch);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < nColor; c++) packed[i * ch + c] = prot[c]![i]!;
    if (hasAlpha) packed[i * ch + nColor] = rgba[4 * i + 3]!;
  }
  const png = await encodePng(packed, w, h, ch);
  return { width: w, height: h, gray, hasAlpha, bound255: bound, metrics, png, rgba: outRgba, projected };
}
