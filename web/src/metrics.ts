// Image-quality figures shown for each protected photo, on 8-bit values: L∞ and PSNR over the colour channels
// (alpha excluded), and SSIM (Wang et al., IEEE TIP 2004: 11×11 Gaussian window, σ = 1.5, K1 = 0.01,
// K2 = 0.03) on the luma Y = 0.299 R + 0.587 G + 0.114 B.

export interface Metrics {
  /** Largest |protected − original| in 1/255 units. */
  linf255: number;
  /** dB; Infinity when identical. */
  psnr: number;
  ssim: number;
}

/** a and b: planar 8-bit channels [c][h·w] of the same image size. */
export function imageMetrics(a: Uint8Array[], b: Uint8Array[], width: number, height: number): Metrics {
  let linf = 0;
  let se = 0;
  let n = 0;
  for (let c = 0; c < a.length; c++) {
    const x = a[c]!;
    const y = b[c]!;
    for (let i = 0; i < x.length; i++) {
      const d = x[i]! - y[i]!;
      const ad = d < 0 ? -d : d;
      if (ad > linf) linf = ad;
      se += d * d;
    }
    n += x.length;
  }
  const mse = se / n;
  const psnr = mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
  return { linf255: linf, psnr, ssim: ssim(luma(a), luma(b), width, height) };
}

function luma(p: Uint8Array[]): Float32Array {
  const n = p[0]!.length;
  const y = new Float32Array(n);
  if (p.length === 1) {
    for (let i = 0; i < n; i++) y[i] = p[0]![i]!;
  } else {
    const [r, g, b] = p as [Uint8Array, Uint8Array, Uint8Array];
    for (let i = 0; i < n; i++) y[i] = 0.299 * r[i]! + 0.587 * g[i]! + 0.114 * b[i]!;
  }
  return y;
}

const WIN = (() => {
  const w = new Float32Array(11);
  let s = 0;
  for (let i = 0; i < 11; i++) s += w[i] = Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5));
  for (let i = 0; i < 11; i++) w[i]! /= s;
  return w;
})();

/** Separable Gaussian blur with edge clamping (keeps the image size). */
function blur(src: Float32Array, w: number, h: number): Float32Array {
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = -5; k <= 5; k++) {
        const xx = x + k < 0 ? 0 : x + k >= w ? w - 1 : x + k;
        s += WIN[k + 5]! * src[row + xx]!;
      }
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = -5; k <= 5; k++) {
        const yy = y + k < 0 ? 0 : y + k >= h ? h - 1 : y + k;
        s += WIN[k + 5]! * tmp[yy * w + x]!;
      }
      out[y * w + x] = s;
    }
  }
  return out;
}

/** Mean SSIM of two luma planes. Values are centred on 128 (SSIM's variances do not change) to keep float32 exact enough. */
export function ssim(x: Float32Array, y: Float32Array, w: number, h: number): number {
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    x[i]! -= 128;
    y[i]! -= 128;
  }
  const mx = blur(x, w, h);
  const my = blur(y, w, h);
  const prod = new Float32Array(n);
  for (let i = 0; i < n; i++) prod[i] = x[i]! * x[i]! + y[i]! * y[i]!;
  const s2 = blur(prod, w, h);
  for (let i = 0; i < n; i++) prod[i] = x[i]! * y[i]!;
  const sxy = blur(prod, w, h);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const ux = mx[i]!;
    const uy = my[i]!;
    const varSum = s2[i]! - ux * ux - uy * uy;
    const cov = sxy[i]! - ux * uy;
    const lx = ux + 128;
    const ly = uy + 128;
    total += ((2 * lx * ly + c1) * (2 * cov + c2)) / ((lx * lx + ly * ly + c1) * (varSum + c2));
  }
  return total / n;
}
