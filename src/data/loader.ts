// Seeded shuffling and batching over an ImageDataset. The dataset lives in libtorch as one uint8 tensor;
// each batch is gathered with indexSelect and converted to float in [0, 1].
import { Generator, Tensor, keep, noGrad, randperm, tensor, arange } from '../engine/index.js';
import { subsetByIndices, type ImageDataset } from './dataset.js';

export interface Batch {
  /** float32 [B, C, H, W] in [0, 1] */
  x: Tensor;
  /** int64 [B] */
  y: Tensor;
  /** int64 [B] dataset indices of the samples */
  index: Tensor;
}

/** The dataset as libtorch tensors: uint8 images [N,C,H,W] and int64 labels [N]. Kept until dispose(). */
export class TensorDataset {
  readonly images: Tensor;
  readonly labels: Tensor;
  readonly size: number;
  constructor(readonly ds: ImageDataset, device = 'cpu') {
    const [c, h, w] = ds.shape;
    this.size = ds.labels.length;
    this.images = keep(tensor(ds.images, { shape: [this.size, c, h, w], dtype: 'uint8', device }));
    const lab = BigInt64Array.from(ds.labels, (v) => BigInt(v));
    this.labels = keep(tensor(lab, { shape: [this.size], dtype: 'int64', device }));
  }
  /** Float batch for the given int64 index tensor (not tracked by autograd). The index may live on another
   *  device than the data (index batches are made on the CPU); the batch is on the data's device and `index`
   *  is returned as given. */
  batch(index: Tensor): Batch {
    return noGrad(() => {
      const idx = index.onDevice(this.images.device);
      const u8 = this.images.indexSelect(0, idx);
      const x = u8.to('float32').div_(255);
      u8.dispose();
      const y = this.labels.indexSelect(0, idx);
      if (idx !== index) idx.dispose();
      return { x, y, index };
    });
  }
  dispose(): void {
    this.images.dispose();
    this.labels.dispose();
  }
}

export interface LoaderOptions {
  batchSize: number;
  shuffle?: boolean;
  /** Seeds the shuffle; required for shuffle (reproducibility). */
  generator?: Generator;
  dropLast?: boolean;
}

/**
 * Index batches for one epoch: int64 tensors of at most batchSize indices. Each batch is valid until the
 * iterator advances (or the loop ends): it is freed then, so loops leak nothing. clone() one to keep it.
 */
export function* indexBatches(n: number, o: LoaderOptions): IterableIterator<Tensor> {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`batch size must be a positive integer, got ${o.batchSize}`);
  const order = o.shuffle ? randperm(n, { generator: o.generator }) : arange(n);
  try {
    for (let s = 0; s < n; s += o.batchSize) {
      const len = Math.min(o.batchSize, n - s);
      if (o.dropLast && len < o.batchSize) break;
      const b = order.narrow(0, s, len);
      try {
        yield b;
      } finally {
        b.dispose();
      }
    }
  } finally {
    order.dispose();
  }
}

/** Number of batches per epoch. */
export function numBatches(n: number, o: LoaderOptions): number {
  return o.dropLast ? Math.floor(n / o.batchSize) : Math.ceil(n / o.batchSize);
}

/**
 * min(k, N) images drawn without replacement by a Fisher–Yates shuffle driven by a seeded libtorch
 * generator (the same subset on every machine), kept in dataset order.
 */
export function seededSubset(ds: ImageDataset, k: number, seed: number, source: string): ImageDataset {
  const n = ds.labels.length;
  if (k >= n) return ds;
  const g = new Generator(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = g.randint(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return subsetByIndices(ds, order.slice(0, k).sort((a, b) => a - b), source);
}
