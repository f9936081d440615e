// Gaussian blur of the training set, a low-pass "shortcut squeezing" baseline (Liu, Zhao & Larson, ICML 2023;
// APBench's `gaussian` defense): each channel is convolved with a normalised k×k Gaussian of standard deviation σ
// with reflect padding (as torchvision's GaussianBlur) and rounded back to uint8.
// Default k = 3, σ = 1. APBench's k = 3, σ = 0.1 is numerically the identity on 8-bit images (the off-centre
// weights are e^−50), so it is not the default; pass sigma=0.1 to reproduce it.
import { F, Tensor, noGrad, scope, tensor } from '../engine/index.js';
import type { DataDefense } from './types.js';
import type { ImageDataset } from '../data/dataset.js';

function kernel1d(k: number, sigma: number): number[] {
  const half = (k - 1) / 2;
  const v = Array.from({ length: k }, (_, i) => Math.exp(-((i - half) ** 2) / (2 * sigma * sigma)));
  const s = v.reduce((a, b) => a + b, 0);
  return v.map((x) => x / s);
}

export function gaussianBlur(ds: ImageDataset, k: number, sigma: number, batch = 1000): ImageDataset {
  if (!Number.isInteger(k) || k < 1 || k % 2 === 0) throw new Error(`blur kernel size must be an odd positive integer, got ${k}`);
  if (!(sigma > 0)) throw new Error(`blur sigma must be > 0, got ${sigma}`);
  const [c, h, w] = ds.shape;
  const pad = (k - 1) / 2;
  if (pad >= h || pad >= w) throw new Error(`blur kernel size ${k} is too large for ${h}×${w} images (reflect padding needs k/2 < side)`);
  const n = ds.labels.length;
  const per = c * h * w;
  const out = new Uint8Array(ds.images.length);
  const k1 = kernel1d(k, sigma);
  const k2 = k1.flatMap((a) => k1.map((b) => a * b));
  noGrad(() => {
    const weight: Tensor = tensor(k2, { shape: [1, 1, k, k], dtype: 'float32' });
    try {
      for (let s = 0; s < n; s += batch) {
        const m = Math.min(batch, n - s);
        scope(() => {
          const x = tensor(ds.images.subarray(s * per, (s + m) * per), { shape: [m * c, 1, h, w], dtype: 'uint8' }).to('float32');
          const y = F.conv2d(pad > 0 ? F.pad(x, [pad, pad, pad, pad], 'reflect') : x, weight).round().clamp(0, 255).to('uint8');
          out.set(y.toTypedArray() as Uint8Array, s * per);
        });
      }
    } finally {
      weight.dispose();
    }
  });
  return { ...ds, images: out, source: `${ds.source} (gaussian blur k=${k} σ=${sigma})` };
}

export const blur: DataDefense = {
  kind: 'data',
  name: 'blur',
  title: 'Gaussian blur of the training images',
  cite: 'Liu, Zhao & Larson, "Image Shortcut Squeezing", ICML 2023 (low-pass baselines); APBench (Qin et al. 2023) `gaussian`',
  options: {
    kernel: { type: 'int', description: 'odd kernel size k', default: 3, min: 1 },
    sigma: { type: 'number', description: 'standard deviation σ in pixels', default: 1, min: 1e-6 },
  },
  apply(ds, options) {
    return gaussianBlur(ds, options.kernel as number, options.sigma as number);
  },
};
