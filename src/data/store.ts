// The store for (protected) datasets: <dir>/dataset.safetensors (uint8 images [N,C,H,W], int64 labels [N])
// plus <dir>/dataset.json (metadata: source, attack, ε, quantization, measured L∞, class names). Written
// atomically; never over an existing dataset unless asked. Exportable as a PNG folder (one subfolder per class).
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tensor } from '../engine/index.js';
import { loadCheckpointSync, saveCheckpointSync, writeFileAtomicSync } from '../io/index.js';
import { validateDataset, type ImageDataset } from './dataset.js';
import { encodePng } from './png.js';
import { DataError } from './idx.js';

export interface StoredDatasetMeta {
  kind: 'gue-dataset';
  shape: [number, number, number];
  numClasses: number;
  classNames?: string[];
  source: string;
  [key: string]: unknown;
}

export function isStoredDataset(dir: string): boolean {
  return existsSync(join(dir, 'dataset.json')) && existsSync(join(dir, 'dataset.safetensors'));
}

export function saveDataset(dir: string, ds: ImageDataset, extra: Record<string, unknown> = {}, overwrite = false): void {
  if (isStoredDataset(dir) && !overwrite) throw new DataError(`${dir} already holds a dataset; choose another output folder (or pass --overwrite)`);
  mkdirSync(dir, { recursive: true });
  const n = ds.labels.length;
  const images = tensor(ds.images, { shape: [n, ...ds.shape], dtype: 'uint8' });
  const labels = tensor(BigInt64Array.from(ds.labels, (v) => BigInt(v)), { shape: [n], dtype: 'int64' });
  try {
    const meta: StoredDatasetMeta = { ...extra, kind: 'gue-dataset', shape: ds.shape, numClasses: ds.numClasses, classNames: ds.classNames, source: ds.source };
    saveCheckpointSync(join(dir, 'dataset'), { tensors: new Map([['images', images], ['labels', labels]]), meta });
  } finally {
    images.dispose();
    labels.dispose();
  }
}

export function loadDataset(dir: string): { ds: ImageDataset; meta: StoredDatasetMeta } {
  if (!isStoredDataset(dir)) throw new DataError(`${dir}: not a gue dataset folder (expected dataset.safetensors and dataset.json)`);
  const ck = loadCheckpointSync<StoredDatasetMeta>(join(dir, 'dataset'));
  try {
    const meta = ck.meta;
    const images = ck.tensors.get('images');
    const labels = ck.tensors.get('labels');
    if (meta?.kind !== 'gue-dataset' || !images || !labels) throw new DataError(`${dir}: dataset files lack images/labels or metadata`);
    const n = labels.shape[0]!;
    if (images.dtype !== 'uint8' || images.shape.join() !== [n, ...meta.shape].join()) {
      throw new DataError(`${dir}: images tensor [${images.shape.join(', ')}] (${images.dtype}) does not match ${n} labels of shape [${meta.shape.join(', ')}]`);
    }
    const ds: ImageDataset = {
      images: new Uint8Array(images.toTypedArray() as Uint8Array),
      labels: Int32Array.from(labels.toArray()),
      shape: meta.shape,
      numClasses: meta.numClasses,
      classNames: meta.classNames,
      source: dir,
    };
    try {
      validateDataset(ds);
    } catch (e) {
      throw new DataError(`${join(dir, 'dataset.safetensors')}: ${(e as Error).message}`);
    }
    return { ds, meta };
  } finally {
    for (const t of ck.tensors.values()) t.dispose();
  }
}

/** Writes one PNG per image into <dir>/<class>/<index>.png. Refuses a non-empty folder. */
export function exportPng(ds: ImageDataset, dir: string): number {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new DataError(`${dir} is not empty; choose an empty or new folder for the PNG export`);
  const [c, h, w] = ds.shape;
  const per = c * h * w;
  const names = ds.classNames ?? Array.from({ length: ds.numClasses }, (_, i) => String(i));
  const safe = names.map((s, i) => `${String(i).padStart(names.length > 10 ? 3 : 1, '0')}_${s.replace(/[^A-Za-z0-9_-]+/g, '-')}`);
  for (const s of safe) mkdirSync(join(dir, s), { recursive: true });
  const n = ds.labels.length;
  const digits = String(n - 1).length;
  for (let i = 0; i < n; i++) {
    const png = encodePng(ds.images.subarray(i * per, (i + 1) * per), c, h, w);
    writeFileAtomicSync(join(dir, safe[ds.labels[i]!]!, `${String(i).padStart(digits, '0')}.png`), png);
  }
  return n;
}
