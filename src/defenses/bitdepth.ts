// Bit-depth reduction (BDR) of the training set: every 8-bit value keeps its `bits` most significant bits
// (v & ~(2^(8−bits) − 1), PIL's ImageOps.posterize). BDR is the low-bit compression evaluated in "image shortcut
// squeezing" (Liu, Zhao & Larson, ICML 2023), after feature squeezing (Xu, Evans & Qi, NDSS 2018); 2 bits is
// the setting of the APBench defense table (lafeat/apbench `bdr`, posterize to 2 bits).
import type { DataDefense } from './types.js';
import type { ImageDataset } from '../data/dataset.js';

export function reduceBitDepth(ds: ImageDataset, bits: number): ImageDataset {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new Error(`bit depth must be an integer in 1..8, got ${bits}`);
  const mask = (0xff << (8 - bits)) & 0xff;
  const out = new Uint8Array(ds.images.length);
  for (let i = 0; i < out.length; i++) out[i] = ds.images[i]! & mask;
  return { ...ds, images: out, source: `${ds.source} (bit depth ${bits})` };
}

export const bitdepth: DataDefense = {
  kind: 'data',
  name: 'bitdepth',
  title: 'bit-depth reduction of the training images (posterize)',
  cite: 'Liu, Zhao & Larson, "Image Shortcut Squeezing", ICML 2023 (BDR); Xu, Evans & Qi, "Feature Squeezing", NDSS 2018',
  options: {
    bits: { type: 'int', description: 'bits kept per channel value (APBench/ISS BDR: 2)', default: 2, min: 1, max: 8 },
  },
  apply(ds, options) {
    return reduceBitDepth(ds, options.bits as number);
  },
};
