// IDX (MNIST / Fashion-MNIST) reader, gzipped or raw. Default data: Debian's dataset-fashion-mnist.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { validateDataset, type ImageDataset } from './dataset.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

function readMaybeGz(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new DataError(`${path}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  return raw;
}

/** Parses an IDX file of unsigned bytes. Returns its dims and data. */
export function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  const buf = readMaybeGz(path);
  if (buf.length < 4) throw new DataError(`${path}: truncated IDX file (${buf.length} bytes, no header)`);
  if (buf[0] !== 0 || buf[1] !== 0) throw new DataError(`${path}: not an IDX file (bad magic number)`);
  if (buf[2] !== 0x08) throw new DataError(`${path}: IDX element type 0x${buf[2]!.toString(16)} is not unsigned byte (0x08)`);
  const nd = buf[3]!;
  if (nd < 1 || nd > 4) throw new DataError(`${path}: IDX file with ${nd} dimensions is not supported`);
  if (buf.length < 4 + 4 * nd) throw new DataError(`${path}: truncated IDX header`);
  const dims: number[] = [];
  for (let i = 0; i < nd; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  const off = 4 + 4 * nd;
  if (buf.length < off + n) throw new DataError(`${path}: truncated IDX data (${buf.length - off} of ${n} bytes)`);
  if (buf.length > off + n) throw new DataError(`${path}: ${buf.length - off - n} unexpected trailing bytes after the IDX data`);
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + off, n) };
}

function findFile(dir: string, stem: string): string {
  for (const name of [`${stem}.gz`, stem]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new DataError(`${join(dir, stem)}(.gz): file not found. Install Debian's dataset-fashion-mnist (npm run setup) or pass --data-dir with the IDX files.`);
}

/** Loads one split of (Fashion-)MNIST from a folder with the standard IDX file names. */
export function loadIdxDataset(split: 'train' | 'test', dir = FASHION_MNIST_DIR, classNames = FASHION_MNIST_CLASSES): ImageDataset {
  const prefix = split === 'train' ? 'train' : 't10k';
  const imgPath = findFile(dir, `${prefix}-images-idx3-ubyte`);
  const lblPath = findFile(dir, `${prefix}-labels-idx1-ubyte`);
  const img = readIdx(imgPath);
  const lbl = readIdx(lblPath);
  if (img.dims.length !== 3) throw new DataError(`${imgPath}: expected 3 dims [N, H, W], got [${img.dims.join(', ')}]`);
  if (lbl.dims.length !== 1) throw new DataError(`${lblPath}: expected 1 dim [N], got [${lbl.dims.join(', ')}]`);
  if (img.dims[0] !== lbl.dims[0]) {
    throw new DataError(`${imgPath} has ${img.dims[0]} images but ${lblPath} has ${lbl.dims[0]} labels`);
  }
  const numClasses = classNames.length;
  const ds: ImageDataset = {
    images: new Uint8Array(img.data),
    labels: new Uint8Array(lbl.data),
    shape: [1, img.dims[1]!, img.dims[2]!],
    numClasses,
    classNames,
    source: imgPath,
  };
  try {
    return validateDataset(ds);
  } catch (e) {
    throw new DataError(`${lblPath}: ${(e as Error).message}`);
  }
}
