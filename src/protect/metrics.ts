// Image-quality metrics reported by `gue protect` for every image: the L∞ distance on the stored bytes,
// PSNR and SSIM. Plain TypeScript over interleaved 8-bit pixels (HWC), no tensors, so the protection-only
// runtime (onnxruntime, no libtorch) reports the same numbers.
//
// SSIM follows Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error visibility to
// structural similarity", IEEE TIP 2004: an 11×11 Gaussian window with σ = 1.5 (normalized to sum 1),
// K1 = 0.01, K2 = 0.03, L = 255, local statistics over the 'valid' window positions (as the authors'
// reference ssim_index.m, filter2(..., 'valid')), mean of the SSIM map. It is computed on luminance:
// gray images as they are, RGB as Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, unrounded). Images
// smaller than 11 pixels on a side use the largest odd window that fits, same σ.

/** An interleaved 8-bit image: `channels` values per pixel, row-major. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: number;
}

/** Number of colour channels (alpha excluded). */
export function colourChannels(channels: number): number {
  return channels === 2 || channels === 4 ? channels - 1 : channels;
}

function sameGeometry(a: RawImage, b: RawImage): void {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) {
    throw new Error(`images differ in geometry: ${a.width}x${a.height}x${a.channels} vs ${b.width}x${b.height}x${b.channels}`);
  }
}

/** Largest |a − b| over colour channels, in 1/255 units. */
export function linf255(a: RawImage, b: RawImage): number {
  sameGeometry(a, b);
  const cc = colourChannels(a.channels);
  const n = a.width * a.height;
  let m = 0;
  for (let p = 0; p < n; p++) {
    const o = p * a.channels;
    for (let c = 0; c < cc; c++) {
      const d = Math.abs(a.data[o + c]! - b.data[o + c]!);
      if (d > m) m = d;
    }
  }
  return m;
}

/** PSNR in dB over colour channels (peak 255); Infinity for identical images. */
export function psnr(a: RawImage, b: RawImage): number {
  sameGeometry(a, b);
  const cc = colourChannels(a.channels);
  const n = a.width * a.height;
  let se = 0;
  for (let p = 0; p < n; p++) {
    const o = p * a.channels;
    for (let c = 0; c < cc; c++) {
      const d = a.data[o + c]! - b.data[o + c]!;
      se += d * d;
    }
  }
  if (se === 0) return Infinity;
  return 10 * Math.log10((255 * 255) / (se / (n * cc)));
}

/** Luminance plane (float) of an image: gray as is, RGB as BT.601 Y. */
export function luminance(img: RawImage): Float64Array {
  const n = img.width * img.height;
  const out = new Float64Array(n);
  const cc = colourChannels(img.channels);
  for (let p = 0; p < n; p++) {
    const o = p * img.channels;
    out[p] = cc === 1 ? img.data[o]! : 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
  }
  return out;
}

/** The normalized 1-D Gaussian of the SSIM window (size odd, σ). */
export function gaussianWindow(size: number, sigma: number): Float64Array {
  const w = new Float64Array(size);
  const r = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) {
    w[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
    s += w[i]!;
  }
  for (let i = 0; i < size; i++) w[i]! /= s;
  return w;
}

/** Mean SSIM of two luminance planes of size h×w (separable Gaussian, valid positions; one fused pass). */
export function ssimPlanes(a: Float64Array, b: Float64Array, h: number, w: number): number {
  let size = Math.min(11, h, w);
  if (size % 2 === 0) size--;
  const k = gaussianWindow(size, 1.5);
  const ow = w - size + 1;
  const oh = h - size + 1;
  // Horizontal pass: the five local sums (a, b, a², b², ab) per row.
  const n = h * ow;
  const ha = new Float64Array(n);
  const hb = new Float64Array(n);
  const haa = new Float64Array(n);
  const hbb = new Float64Array(n);
  const hab = new Float64Array(n);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < ow; x++) {
      let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (let i = 0; i < size; i++) {
        const wi = k[i]!;
        const va = a[row + x + i]!;
        const vb = b[row + x + i]!;
        sa += wi * va;
        sb += wi * vb;
        saa += wi * va * va;
        sbb += wi * vb * vb;
        sab += wi * va * vb;
      }
      const o = y * ow + x;
      ha[o] = sa; hb[o] = sb; haa[o] = saa; hbb[o] = sbb; hab[o] = sab;
    }
  }
  // Vertical pass and the SSIM map, accumulated.
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  let sum = 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let m1 = 0, m2 = 0, s11 = 0, s22 = 0, s12 = 0;
      for (let i = 0; i < size; i++) {
        const wi = k[i]!;
        const o = (y + i) * ow + x;
        m1 += wi * ha[o]!;
        m2 += wi * hb[o]!;
        s11 += wi * haa[o]!;
        s22 += wi * hbb[o]!;
        s12 += wi * hab[o]!;
      }
      const v1 = s11 - m1 * m1;
      const v2 = s22 - m2 * m2;
      const cov = s12 - m1 * m2;
      sum += ((2 * m1 * m2 + C1) * (2 * cov + C2)) / ((m1 * m1 + m2 * m2 + C1) * (v1 + v2 + C2));
    }
  }
  return sum / (oh * ow);
}

/** Mean SSIM on luminance (see the header). */
export function ssim(a: RawImage, b: RawImage): number {
  sameGeometry(a, b);
  return ssimPlanes(luminance(a), luminance(b), a.height, a.width);
}

export interface ImageQuality {
  /** Largest change of a stored colour value, in 1/255 units. */
  linf255: number;
  /** dB; Infinity when nothing changed. */
  psnr: number;
  ssim: number;
}

export function imageQuality(original: RawImage, stored: RawImage): ImageQuality {
  return { linf255: linf255(original, stored), psnr: psnr(original, stored), ssim: ssim(original, stored) };
}
