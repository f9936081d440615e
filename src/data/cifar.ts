// CIFAR-10 / CIFAR-100 readers for the official binary versions
// (cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin; cifar-100-binary/{train,test}.bin).
// Records are [label][3072 bytes: 1024 R, 1024 G, 1024 B] (CIFAR-100: [coarse][fine][3072]), already CHW.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './idx.js';
import type { ImageDataset } from './dataset.js';

const PIXELS = 3 * 32 * 32;
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

function resolveDir(dir: string, sub: string): string {
  if (existsSync(join(dir, sub))) return join(dir, sub);
  return dir;
}

function readNames(path: string, expected: number): string[] | undefined {
  if (!existsSync(path)) return undefined;
  const names = readFileSync(path, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  return names.length === expected ? names : undefined;
}

function parseRecords(path: string, labelBytes: number, labelIndex: number, numClasses: number): { images: Uint8Array; labels: Uint8Array } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Point --data-dir at your CIFAR binary-version folder.`);
  }
  const rec = labelBytes + PIXELS;
  if (buf.length === 0 || buf.length % rec !== 0) {
    throw new DataError(`${path}: ${buf.length} bytes is not a whole number of ${rec}-byte CIFAR records (truncated or not the binary version)`);
  }
  const n = buf.length / rec;
  const images = new Uint8Array(n * PIXELS);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const y = buf[i * rec + labelIndex]!;
    if (y >= numClasses) throw new DataError(`${path}: record ${i} has label ${y}, outside [0, ${numClasses})`);
    labels[i] = y;
    images.set(buf.subarray(i * rec + labelBytes, (i + 1) * rec), i * PIXELS);
  }
  return { images, labels };
}

function concat(parts: { images: Uint8Array; labels: Uint8Array }[]): { images: Uint8Array; labels: Uint8Array } {
  const n = parts.reduce((a, p) => a + p.labels.length, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    images.set(p.images, o * PIXELS);
    labels.set(p.labels, o);
    o += p.labels.length;
  }
  return { images, labels };
}

/** CIFAR-10 from the binary version; dir is the folder holding cifar-10-batches-bin or its contents. */
export function loadCifar10(split: 'train' | 'test', dir: string): ImageDataset {
  const d = resolveDir(dir, 'cifar-10-batches-bin');
  const files = split === 'train' ? [1, 2, 3, 4, 5].map((k) => join(d, `data_batch_${k}.bin`)) : [join(d, 'test_batch.bin')];
  const data = concat(files.map((f) => parseRecords(f, 1, 0, 10)));
  const names = readNames(join(d, 'batches.meta.txt'), 10) ?? CIFAR10_CLASSES;
  return { ...data, shape: [3, 32, 32], numClasses: 10, classNames: names, source: d };
}

/** CIFAR-100 (fine labels by default) from the binary version; dir holds cifar-100-binary or its contents. */
export function loadCifar100(split: 'train' | 'test', dir: string, labels: 'fine' | 'coarse' = 'fine'): ImageDataset {
  const d = resolveDir(dir, 'cifar-100-binary');
  const k = labels === 'fine' ? 100 : 20;
  const data = parseRecords(join(d, `${split}.bin`), 2, labels === 'fine' ? 1 : 0, k);
  const names = readNames(join(d, `${labels}_label_names.txt`), k);
  return { ...data, shape: [3, 32, 32], numClasses: k, classNames: names, source: d };
}
