// Applies a generator (through a ProtectBackend) to one image of any size: the one forward pass of the GUE
// paper (Liu et al., "Game-Theoretic Unlearnable Example Generator", AAAI 2024, §4: x' = clip(x + ε·G(x))),
// made to work on real photos. Plain TypeScript over 8-bit pixels: no tensors, so the libtorch and the
// onnxruntime backends share it.
//
// - Size: the image is reflect-padded to a multiple of 8 (or of backend.multiple if larger) (split evenly between the two sides,
//   as the U-Net pads 28×28 inputs itself: a 28×28 image protected here gives the bytes `gue poison` gives;
//   replicate padding when the pad is not smaller than the image, as there), and the result cropped back.
// - Tiles: an image larger than `tile` (after padding) is processed in tile×tile pieces whose origins are
//   multiples of backend.multiple (so the U-Net's pooling grid stays aligned), overlapping by at least
//   2·overlap; each output pixel is taken from the tile in which it lies farthest from the edge
//   (centre-crop stitching), so the zero-padding effects at the tile edges are cut away. The U-Net's
//   align_corners bilinear upsampling is not exactly translation-invariant, so tiled and untiled G(x)
//   differ by float noise; after ε-scaling and rounding the stored bytes were identical in our test
//   (test/protect.test.ts allows a 1/255 rounding flip on < 1 % of values). Memory is bounded by `batch`
//   tiles, whatever the image size.
// - Colour: a generator and an image with the same channel count are applied directly. A gray image under
//   an RGB generator: the gray value is replicated to three channels, and the protected gray is the BT.601
//   luma of the protected RGB (a convex combination, so the ε bound holds and the image stays gray). An RGB
//   image under a gray generator: the generator protects the luminance Y, and the same δ = P(Y) − Y is
//   added to R, G and B (each channel moves by at most ε). Alpha is copied unchanged.
// - Quantization: round to the nearest byte, then clamp to [orig − ⌊255ε⌋, orig + ⌊255ε⌋] ∩ [0, 255], as
//   poisonDataset does, so the bound holds on the bytes whatever the float rounding.
import type { ProtectBackend } from './backend.js';
import { colourChannels, type RawImage } from './metrics.js';

export interface ApplyOptions {
  /** Tile size in pixels (a multiple of backend.multiple); 0 = never tile. */
  tile: number;
  /** Minimum margin cut away at a tile edge shared with another tile. */
  overlap: number;
  /** Tiles per backend call. */
  batch: number;
}

/** The U-Net downsamples three times: sizes and tile origins on multiples of 8 keep its pooling grid. */
export const UNET_GRID = 8;

export const APPLY_DEFAULTS: Readonly<ApplyOptions> = Object.freeze({ tile: 512, overlap: 32, batch: 4 });

export type ColourMode = 'direct' | 'replicate' | 'luminance';

/** How a generator with `genChannels` channels is applied to an image with `imageChannels` colour channels. */
export function colourMode(imageChannels: number, genChannels: number): ColourMode {
  if (imageChannels === genChannels) return 'direct';
  if (imageChannels === 1 && genChannels === 3) return 'replicate';
  if (imageChannels === 3 && genChannels === 1) return 'luminance';
  throw new Error(`cannot apply a ${genChannels}-channel generator to an image with ${imageChannels} colour channels`);
}

/** Tile ranges along one padded dimension: [start, size] of each tile and the cut points between them. */
export function tileRanges(padded: number, tile: number, overlap: number, multiple: number): { starts: number[]; size: number; cuts: number[] } {
  if (tile <= 0 || padded <= tile) return { starts: [0], size: padded, cuts: [padded] };
  let step = Math.floor((tile - 2 * overlap) / multiple) * multiple;
  if (step < multiple) throw new Error(`--tile ${tile} is too small for an overlap of ${overlap} (need tile ≥ 2·overlap + ${multiple})`);
  const starts: number[] = [];
  for (let s = 0; s + tile < padded; s += step) starts.push(s);
  starts.push(padded - tile);
  const cuts: number[] = [];
  for (let i = 0; i + 1 < starts.length; i++) cuts.push(Math.floor((starts[i + 1]! + starts[i]! + tile) / 2));
  cuts.push(padded);
  return { starts, size: tile, cuts };
}

/** Source index for each of `total` padded positions: `before` on the left, reflected (or edge-clamped). */
export function indexMap(n: number, before: number, total: number, reflect: boolean): Int32Array {
  const m = new Int32Array(total);
  for (let i = 0; i < total; i++) {
    let j = i - before;
    if (reflect) {
      if (j < 0) j = -j;
      if (j >= n) j = 2 * (n - 1) - j;
    }
    m[i] = Math.min(n - 1, Math.max(0, j));
  }
  return m;
}

/** Returns the protected pixels (same layout as img.data; alpha copied). */
export async function protectPixels(img: RawImage, backend: ProtectBackend, o: ApplyOptions = APPLY_DEFAULTS): Promise<Uint8Array> {
  const { width: W, height: H, channels: C, data } = img;
  const ic = colourChannels(C);
  const gc = backend.channels;
  const mode = colourMode(ic, gc);
  // Pad and align tiles to the U-Net's pooling grid (8) even when a backend accepts any size (the ONNX graph
  // pads internally and reports multiple 1), so every backend sees the same padded image and tile grid.
  const m = Math.max(backend.multiple, UNET_GRID);
  if (o.tile > 0 && o.tile % m !== 0) throw new Error(`--tile must be a multiple of ${m}, got ${o.tile}`);
  if (!(o.batch >= 1)) throw new Error(`batch must be at least 1, got ${o.batch}`);
  const ph = (m - (H % m)) % m;
  const pw = (m - (W % m)) % m;
  const top = Math.floor(ph / 2);
  const left = Math.floor(pw / 2);
  const PH = H + ph;
  const PW = W + pw;
  const reflect = !(ph >= H || pw >= W);
  const rowOf = indexMap(H, top, PH, reflect);
  const colOf = indexMap(W, left, PW, reflect);
  const rows = tileRanges(PH, o.tile, o.overlap, m);
  const cols = tileRanges(PW, o.tile, o.overlap, m);
  const th = rows.size;
  const tw = cols.size;
  const bound = Math.floor(backend.eps * 255 + 1e-6);
  const out = new Uint8Array(data); // alpha (and everything else) starts as a copy
  const per = gc * th * tw;

  // Model input value of a source pixel, channel k of the generator.
  const inputAt = (p: number, k: number): number => {
    const o8 = p * C;
    if (mode === 'luminance') return (0.299 * data[o8]! + 0.587 * data[o8 + 1]! + 0.114 * data[o8 + 2]!) / 255;
    return data[o8 + (mode === 'replicate' ? 0 : k)]! / 255;
  };
  const quant = (r: number, orig: number): number => {
    let q = Math.round(Math.min(1, Math.max(0, r)) * 255);
    if (q > orig + bound) q = orig + bound;
    if (q < orig - bound) q = orig - bound;
    return q < 0 ? 0 : q > 255 ? 255 : q;
  };

  const tiles: [number, number][] = [];
  for (let a = 0; a < rows.starts.length; a++) for (let b = 0; b < cols.starts.length; b++) tiles.push([a, b]);
  for (let t0 = 0; t0 < tiles.length; t0 += o.batch) {
    const group = tiles.slice(t0, t0 + o.batch);
    const x = new Float32Array(group.length * per);
    group.forEach(([a, b], g) => {
      const sy = rows.starts[a]!;
      const sx = cols.starts[b]!;
      for (let k = 0; k < gc; k++) {
        const base = g * per + k * th * tw;
        for (let y = 0; y < th; y++) {
          const srow = rowOf[sy + y]! * W;
          for (let xx = 0; xx < tw; xx++) x[base + y * tw + xx] = inputAt(srow + colOf[sx + xx]!, k);
        }
      }
    });
    const y = await backend.run(x, [group.length, gc, th, tw]);
    if (y.length !== x.length) throw new Error(`${backend.kind} backend returned ${y.length} values for ${x.length}`);
    group.forEach(([a, b], g) => {
      const sy = rows.starts[a]!;
      const sx = cols.starts[b]!;
      // The region this tile owns, in padded coordinates, intersected with the image.
      const y0 = Math.max(a === 0 ? 0 : rows.cuts[a - 1]!, top);
      const y1 = Math.min(rows.cuts[a]!, top + H);
      const x0 = Math.max(b === 0 ? 0 : cols.cuts[b - 1]!, left);
      const x1 = Math.min(cols.cuts[b]!, left + W);
      const base = g * per;
      const plane = th * tw;
      for (let py = y0; py < y1; py++) {
        const iy = py - top;
        for (let px = x0; px < x1; px++) {
          const p = iy * W + (px - left);
          const o8 = p * C;
          const t = (py - sy) * tw + (px - sx);
          if (mode === 'direct') {
            for (let k = 0; k < ic; k++) out[o8 + k] = quant(y[base + k * plane + t]!, data[o8 + k]!);
          } else if (mode === 'replicate') {
            const r = 0.299 * y[base + t]! + 0.587 * y[base + plane + t]! + 0.114 * y[base + 2 * plane + t]!;
            out[o8] = quant(r, data[o8]!);
          } else {
            const delta = y[base + t]! - x[base + t]!;
            for (let k = 0; k < 3; k++) out[o8 + k] = quant(data[o8 + k]! / 255 + delta, data[o8 + k]!);
          }
        }
      }
    });
  }
  return out;
}
