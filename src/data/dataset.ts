// An in-memory image classification dataset: uint8 images in NCHW order plus integer labels.
export interface ImageDataset {
  /** N*C*H*W bytes, row-major NCHW. */
  images: Uint8Array;
  /** N labels in [0, numClasses). */
  labels: Uint8Array | Int32Array;
  /** [C, H, W] */
  shape: [number, number, number];
  numClasses: number;
  classNames?: string[];
  /** Where it came from (for messages and run metadata). */
  source: string;
}

export function datasetSize(ds: ImageDataset): number {
  return ds.labels.length;
}

/** Checks internal consistency; throws a clear error naming the dataset source. */
export function validateDataset(ds: ImageDataset): ImageDataset {
  const [c, h, w] = ds.shape;
  const n = ds.labels.length;
  if (ds.images.length !== n * c * h * w) {
    throw new Error(`${ds.source}: ${ds.images.length} image bytes do not match ${n} labels of shape [${c}, ${h}, ${w}]`);
  }
  for (let i = 0; i < n; i++) {
    const y = ds.labels[i]!;
    if (y < 0 || y >= ds.numClasses) throw new Error(`${ds.source}: label ${y} at index ${i} is outside [0, ${ds.numClasses})`);
  }
  return ds;
}

/** The samples at the given indices, as a new dataset. */
export function subsetByIndices(ds: ImageDataset, indices: ArrayLike<number>, source?: string): ImageDataset {
  const [c, h, w] = ds.shape;
  const per = c * h * w;
  const images = new Uint8Array(indices.length * per);
  const labels = ds.labels instanceof Int32Array ? new Int32Array(indices.length) : new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.labels.length) throw new RangeError(`${ds.source}: subset index ${i} is outside [0, ${ds.labels.length})`);
    images.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = ds.labels[i]!;
  }
  return { ...ds, images, labels, source: source ?? `${ds.source}[subset of ${indices.length}]` };
}
