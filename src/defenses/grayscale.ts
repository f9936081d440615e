// Grayscale conversion of the training set, one of the two main "image shortcut squeezing" defenses (Liu,
// Zhao & Larson, ICML 2023): colour images become L = 0.299 R + 0.587 G + 0.114 B (ITU-R 601-2 luma, with
// PIL's fixed-point rounding, as torchvision's Grayscale on PIL images) and L is replicated to the 3 channels,
// so the victim's architecture is unchanged. Images that are already single-channel are refused: the defense
// would be a no-op.
import { channelProblem, type DataDefense } from './types.js';
import type { ImageDataset } from '../data/dataset.js';

export function toGrayscale(ds: ImageDataset): ImageDataset {
  const [c, h, w] = ds.shape;
  const problem = channelProblem(grayscale, c, ds.source);
  if (problem) throw new Error(problem);
  const n = ds.labels.length;
  const hw = h * w;
  const out = new Uint8Array(ds.images.length);
  for (let i = 0; i < n; i++) {
    const b = i * 3 * hw;
    for (let p = 0; p < hw; p++) {
      const l = (ds.images[b + p]! * 19595 + ds.images[b + hw + p]! * 38470 + ds.images[b + 2 * hw + p]! * 7471 + 0x8000) >> 16;
      out[b + p] = l;
      out[b + hw + p] = l;
      out[b + 2 * hw + p] = l;
    }
  }
  return { ...ds, images: out, source: `${ds.source} (grayscale)` };
}

export const grayscale: DataDefense = {
  kind: 'data',
  name: 'grayscale',
  title: 'grayscale conversion of the training images, replicated to 3 channels (ISS)',
  cite: 'Liu, Zhao & Larson, "Image Shortcut Squeezing: Countering Perturbative Availability Poisons with Compression", ICML 2023',
  options: {},
  channels: [3],
  apply(ds) {
    return toGrayscale(ds);
  },
};
