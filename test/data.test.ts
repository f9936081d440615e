// src/data: the IDX and CIFAR binary readers (against files written here in the official layouts), the
// seeded loader, subsets and validation, the victim augmentations, the dataset store and PNG export
// (decoded back with sharp), and the image-folder reader (images generated with sharp).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { Generator, memory, scope, tensor, type Tensor } from '../src/engine/index.js';
import {
  DataError,
  FASHION_MNIST_DIR,
  CIFAR10_CLASSES,
  readIdx,
  loadIdxDataset,
  loadCifar10,
  loadCifar100,
  TensorDataset,
  indexBatches,
  numBatches,
  subsetByIndices,
  validateDataset,
  datasetSize,
  randomCrop,
  randomHorizontalFlip,
  augmentBatch,
  saveDataset,
  loadDataset,
  isStoredDataset,
  exportPng,
  encodePng,
  loadImageFolder,
  type ImageDataset,
} from '../src/data/index.js';

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'gue-data-test-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});
let dirCount = 0;
function freshDir(): string {
  const d = join(root, `d${dirCount++}`);
  mkdirSync(d);
  return d;
}

/** Asserts fn throws a DataError whose message contains every given fragment (e.g. the file's path). */
function throwsData(fn: () => unknown, ...fragments: (string | RegExp)[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
      else assert.match(e.message, f);
    }
    return true;
  });
}

async function rejectsData(p: Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
      else assert.match(e.message, f);
    }
    return true;
  });
}

/** A small deterministic byte pattern. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = a >>> 24;
  }
  return out;
}

// ------------------------------------------------------------------ IDX

/** An IDX file of unsigned bytes: magic 0x0000 08 <ndims>, big-endian uint32 dims, then the data. */
function idxFile(dims: number[], data: Uint8Array, magic?: number): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic ?? 0x00000800 + dims.length, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

interface IdxSplit {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  h: number;
  w: number;
}

function writeIdxSplit(dir: string, prefix: 'train' | 't10k', s: IdxSplit, gz: boolean, over: { images?: Buffer; labels?: Buffer } = {}): { img: string; lbl: string } {
  const ext = gz ? '.gz' : '';
  const img = join(dir, `${prefix}-images-idx3-ubyte${ext}`);
  const lbl = join(dir, `${prefix}-labels-idx1-ubyte${ext}`);
  const imgBuf = over.images ?? idxFile([s.n, s.h, s.w], s.images);
  const lblBuf = over.labels ?? idxFile([s.n], s.labels);
  writeFileSync(img, gz && !over.images ? gzipSync(imgBuf) : imgBuf);
  writeFileSync(lbl, gz && !over.labels ? gzipSync(lblBuf) : lblBuf);
  return { img, lbl };
}

function idxSplit(n: number, h: number, w: number, seed: number): IdxSplit {
  return { images: bytes(n * h * w, seed), labels: Uint8Array.from({ length: n }, (_, i) => (i * 3 + seed) % 10), n, h, w };
}

describe('IDX reader', () => {
  test('reads gzipped and raw files exactly (non-square images)', () => {
    for (const gz of [true, false]) {
      const dir = freshDir();
      const train = idxSplit(7, 5, 4, 11);
      const t10k = idxSplit(3, 5, 4, 12);
      const { img } = writeIdxSplit(dir, 'train', train, gz);
      writeIdxSplit(dir, 't10k', t10k, gz);
      assert.equal(img.endsWith('.gz'), gz);
      const ds = loadIdxDataset('train', dir, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
      assert.deepEqual(ds.shape, [1, 5, 4]);
      assert.equal(datasetSize(ds), 7);
      assert.equal(ds.numClasses, 10);
      assert.deepEqual(ds.classNames, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
      assert.deepEqual(Array.from(ds.images), Array.from(train.images));
      assert.deepEqual(Array.from(ds.labels), Array.from(train.labels));
      assert.equal(ds.source, img);
      const te = loadIdxDataset('test', dir);
      assert.equal(te.labels.length, 3);
      assert.deepEqual(Array.from(te.images), Array.from(t10k.images));
      assert.deepEqual(Array.from(te.labels), Array.from(t10k.labels));
    }
  });

  test('readIdx parses the big-endian header', () => {
    const dir = freshDir();
    const p = join(dir, 'x.idx');
    writeFileSync(p, idxFile([2, 300, 1], bytes(600, 3)));
    const r = readIdx(p);
    assert.deepEqual(r.dims, [2, 300, 1]);
    assert.deepEqual(Array.from(r.data), Array.from(bytes(600, 3)));
  });

  test('malformed files give a DataError naming the file', () => {
    const s = idxSplit(4, 3, 3, 5);
    const good = idxFile([4, 3, 3], s.images);

    let dir = freshDir();
    let f = writeIdxSplit(dir, 'train', s, false, { images: good.subarray(0, good.length - 5) });
    throwsData(() => loadIdxDataset('train', dir), f.img, 'truncated');

    dir = freshDir();
    f = writeIdxSplit(dir, 'train', s, false, { images: good.subarray(0, 10) });
    throwsData(() => loadIdxDataset('train', dir), f.img, 'truncated');

    dir = freshDir();
    f = writeIdxSplit(dir, 'train', s, false, { images: Buffer.concat([good, Buffer.of(1, 2)]) });
    throwsData(() => loadIdxDataset('train', dir), f.img, 'trailing');

    dir = freshDir();
    const gz = gzipSync(good);
    gz.fill(0x55, 10, gz.length - 8); // keep the gzip magic, garble the deflate stream
    f = writeIdxSplit(dir, 'train', s, true, { images: gz });
    throwsData(() => loadIdxDataset('train', dir), f.img, 'gzip');

    dir = freshDir();
    f = writeIdxSplit(dir, 'train', s, true, { images: gzipSync(good).subarray(0, 20) });
    throwsData(() => loadIdxDataset('train', dir), f.img, 'gzip');

    dir = freshDir();
    const bad = Buffer.from(good);
    bad[0] = 0x12;
    f = writeIdxSplit(dir, 'train', s, false, { images: bad });
    throwsData(() => loadIdxDataset('train', dir), f.img, 'magic');

    dir = freshDir();
    f = writeIdxSplit(dir, 'train', s, false, { labels: idxFile([3], s.labels.subarray(0, 3)) });
    throwsData(() => loadIdxDataset('train', dir), f.img, f.lbl, '4 images', '3 labels');

    dir = freshDir();
    const lab = Uint8Array.from(s.labels);
    lab[2] = 10;
    f = writeIdxSplit(dir, 'train', s, true, { labels: gzipSync(idxFile([4], lab)) });
    throwsData(() => loadIdxDataset('train', dir), f.lbl, 'label 10');

    dir = freshDir();
    f = writeIdxSplit(dir, 'train', s, false, { labels: idxFile([4, 1], s.labels) });
    throwsData(() => loadIdxDataset('train', dir), f.lbl, '1 dim');

    dir = freshDir();
    throwsData(() => loadIdxDataset('test', dir), join(dir, 't10k-images-idx3-ubyte'), 'not found');
  });

  test('Fashion-MNIST from the system dataset', (t) => {
    if (!existsSync(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz')) && !existsSync(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte'))) {
      t.skip(`${FASHION_MNIST_DIR} not installed`);
      return;
    }
    const tr = loadIdxDataset('train');
    assert.deepEqual(tr.shape, [1, 28, 28]);
    assert.equal(tr.labels.length, 60000);
    assert.equal(tr.images.length, 60000 * 28 * 28);
    assert.equal(tr.numClasses, 10);
    assert.equal(tr.classNames?.length, 10);
    const counts = new Array<number>(10).fill(0);
    for (const y of tr.labels) counts[y]!++;
    assert.deepEqual(counts, new Array<number>(10).fill(6000)); // Fashion-MNIST is balanced
    const te = loadIdxDataset('test');
    assert.equal(te.labels.length, 10000);
    assert.deepEqual(te.shape, [1, 28, 28]);
  });
});

// ------------------------------------------------------------------ CIFAR

const CIFAR_PIX = 3072;

function cifarRecords(labels: number[][], seed: number): { buf: Buffer; pixels: Uint8Array[] } {
  const pixels = labels.map((_, i) => bytes(CIFAR_PIX, seed * 1000 + i));
  const lb = labels[0]?.length ?? 1;
  const buf = Buffer.alloc(labels.length * (lb + CIFAR_PIX));
  labels.forEach((ls, i) => {
    const o = i * (lb + CIFAR_PIX);
    ls.forEach((y, j) => (buf[o + j] = y));
    buf.set(pixels[i]!, o + lb);
  });
  return { buf, pixels };
}

describe('CIFAR binary readers', () => {
  test('CIFAR-10: labels, CHW pixels, class names, batch order', () => {
    const dir = freshDir();
    const d = join(dir, 'cifar-10-batches-bin');
    mkdirSync(d);
    const sizes = [2, 3, 1, 2, 2];
    const allLabels: number[] = [];
    const allPixels: Uint8Array[] = [];
    sizes.forEach((n, b) => {
      const labels = Array.from({ length: n }, (_, i) => [(b * 3 + i * 7 + 1) % 10]);
      const { buf, pixels } = cifarRecords(labels, b + 1);
      writeFileSync(join(d, `data_batch_${b + 1}.bin`), buf);
      allLabels.push(...labels.map((l) => l[0]!));
      allPixels.push(...pixels);
    });
    const test10 = cifarRecords([[9], [0]], 99);
    writeFileSync(join(d, 'test_batch.bin'), test10.buf);

    // Without batches.meta.txt: the standard names.
    let ds = loadCifar10('train', dir);
    assert.deepEqual(ds.classNames, CIFAR10_CLASSES);
    const names = ['AIRPLANE', 'AUTO', 'BIRD', 'CAT', 'DEER', 'DOG', 'FROG', 'HORSE', 'SHIP', 'TRUCK'];
    writeFileSync(join(d, 'batches.meta.txt'), names.join('\n') + '\n\n');
    ds = loadCifar10('train', dir); // via the parent folder
    const ds2 = loadCifar10('train', d); // or the batches folder itself
    assert.deepEqual(Array.from(ds2.images), Array.from(ds.images));
    assert.deepEqual(ds.shape, [3, 32, 32]);
    assert.equal(ds.numClasses, 10);
    assert.deepEqual(ds.classNames, names);
    assert.equal(ds.labels.length, 10);
    assert.deepEqual(Array.from(ds.labels), allLabels);
    // Record i's bytes 0..1023 are the red plane, row-major: pixel (c, y, x) of sample i.
    for (let i = 0; i < 10; i++) {
      for (const [c, y, x] of [[0, 0, 0], [0, 5, 17], [1, 31, 2], [2, 12, 31], [2, 31, 31]] as const) {
        assert.equal(ds.images[i * CIFAR_PIX + c * 1024 + y * 32 + x], allPixels[i]![c * 1024 + y * 32 + x], `sample ${i} (${c},${y},${x})`);
      }
    }
    assert.deepEqual(Array.from(ds.images), allPixels.flatMap((p) => Array.from(p)));

    const te = loadCifar10('test', dir);
    assert.deepEqual(Array.from(te.labels), [9, 0]);
    assert.deepEqual(Array.from(te.images), [...test10.pixels[0]!, ...test10.pixels[1]!]);
  });

  test('CIFAR-10: truncated record, bad label, missing batch → DataError naming the file', () => {
    const mk = (): string => {
      const d = freshDir();
      for (let b = 1; b <= 5; b++) writeFileSync(join(d, `data_batch_${b}.bin`), cifarRecords([[1], [2]], b).buf);
      return d;
    };
    let d = mk();
    const f3 = join(d, 'data_batch_3.bin');
    writeFileSync(f3, cifarRecords([[1], [2]], 3).buf.subarray(0, 2 * 3073 - 100));
    throwsData(() => loadCifar10('train', d), f3, 'truncated');
    d = mk();
    const f5 = join(d, 'data_batch_5.bin');
    writeFileSync(f5, cifarRecords([[4], [10]], 5).buf);
    throwsData(() => loadCifar10('train', d), f5, 'record 1', 'label 10');
    d = mk();
    rmSync(join(d, 'data_batch_2.bin'));
    throwsData(() => loadCifar10('train', d), join(d, 'data_batch_2.bin'), 'cannot read');
    throwsData(() => loadCifar10('test', d), join(d, 'test_batch.bin'));
  });

  test('CIFAR-100: fine and coarse labels, label names, errors', () => {
    const dir = freshDir();
    const d = join(dir, 'cifar-100-binary');
    mkdirSync(d);
    const recs = [[3, 77], [19, 0], [0, 99], [7, 42]];
    const { buf, pixels } = cifarRecords(recs, 7);
    writeFileSync(join(d, 'train.bin'), buf);
    writeFileSync(join(d, 'test.bin'), cifarRecords([[5, 50]], 8).buf);
    const fine = Array.from({ length: 100 }, (_, i) => `fine${i}`);
    const coarse = Array.from({ length: 20 }, (_, i) => `coarse${i}`);
    writeFileSync(join(d, 'fine_label_names.txt'), fine.join('\n') + '\n');
    writeFileSync(join(d, 'coarse_label_names.txt'), coarse.join('\r\n') + '\r\n');

    const f = loadCifar100('train', dir);
    assert.equal(f.numClasses, 100);
    assert.deepEqual(Array.from(f.labels), [77, 0, 99, 42]);
    assert.deepEqual(f.classNames, fine);
    assert.deepEqual(Array.from(f.images), pixels.flatMap((p) => Array.from(p)));
    const c = loadCifar100('train', dir, 'coarse');
    assert.equal(c.numClasses, 20);
    assert.deepEqual(Array.from(c.labels), [3, 19, 0, 7]);
    assert.deepEqual(c.classNames, coarse);
    assert.deepEqual(Array.from(c.images), Array.from(f.images));
    assert.deepEqual(Array.from(loadCifar100('test', dir).labels), [50]);

    const bad = freshDir();
    writeFileSync(join(bad, 'train.bin'), cifarRecords([[1, 100]], 1).buf);
    throwsData(() => loadCifar100('train', bad), join(bad, 'train.bin'), 'label 100');
    writeFileSync(join(bad, 'train.bin'), cifarRecords([[20, 5]], 1).buf);
    assert.deepEqual(Array.from(loadCifar100('train', bad).labels), [5]);
    throwsData(() => loadCifar100('train', bad, 'coarse'), join(bad, 'train.bin'), 'label 20');
    writeFileSync(join(bad, 'train.bin'), cifarRecords([[1, 5]], 1).buf.subarray(0, 3073)); // a CIFAR-10-sized record
    throwsData(() => loadCifar100('train', bad), join(bad, 'train.bin'), '3074');
  });
});

// ------------------------------------------------------------------ loader, subsets, validation

function smallDataset(n: number, shape: [number, number, number], numClasses: number, seed: number): ImageDataset {
  const per = shape[0] * shape[1] * shape[2];
  return {
    images: bytes(n * per, seed),
    labels: Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) % numClasses),
    shape,
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, i) => `class ${i}`),
    source: `synthetic-${seed}`,
  };
}

function epoch(n: number, batchSize: number, seed: number | null, dropLast = false): number[][] {
  return scope(() => {
    const out: number[][] = [];
    const gen = seed === null ? undefined : new Generator(seed);
    for (const b of indexBatches(n, { batchSize, shuffle: seed !== null, generator: gen, dropLast })) {
      assert.equal(b.dtype, 'int64');
      out.push(b.toArray());
    }
    return out;
  });
}

describe('loader', () => {
  test('indexBatches: seeded shuffle, coverage, dropLast, numBatches', () => {
    const n = 23;
    const a = epoch(n, 5, 42);
    assert.deepEqual(a.map((b) => b.length), [5, 5, 5, 5, 3]);
    assert.equal(a.length, numBatches(n, { batchSize: 5 }));
    assert.deepEqual(a.flat().sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
    assert.deepEqual(epoch(n, 5, 42), a, 'same seed, same order');
    assert.notDeepEqual(epoch(n, 5, 43).flat(), a.flat(), 'another seed, another order');
    assert.notDeepEqual(a.flat(), Array.from({ length: n }, (_, i) => i), 'shuffled');
    // one generator over two epochs: the second epoch is a fresh permutation
    const two = scope(() => {
      const gen = new Generator(42);
      const e = (): number[] => Array.from(indexBatches(n, { batchSize: 5, shuffle: true, generator: gen }), (b) => b.toArray() as number[]).flat();
      return [e(), e()];
    });
    assert.deepEqual(two[0], a.flat());
    assert.notDeepEqual(two[1], two[0]);
    assert.deepEqual([...two[1]!].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));

    assert.deepEqual(epoch(n, 5, null).flat(), Array.from({ length: n }, (_, i) => i), 'no shuffle: in order');
    const d = epoch(n, 5, 42, true);
    assert.deepEqual(d.map((b) => b.length), [5, 5, 5, 5]);
    assert.equal(d.length, numBatches(n, { batchSize: 5, dropLast: true }));
    assert.equal(new Set(d.flat()).size, 20);
    assert.deepEqual(d, a.slice(0, 4), 'dropLast drops only the short tail');
    assert.equal(numBatches(20, { batchSize: 5, dropLast: true }), 4);
    assert.equal(numBatches(20, { batchSize: 5 }), 4);
    assert.equal(numBatches(21, { batchSize: 5 }), 5);
    assert.deepEqual(epoch(4, 10, 1, true), []);
    const live = memory().tensors;
    for (const b of indexBatches(100, { batchSize: 7, shuffle: true, generator: new Generator(1) })) assert.equal(b.shape.length, 1);
    for (const b of indexBatches(100, { batchSize: 7 })) if (b.shape[0] === 7) break;
    assert.equal(memory().tensors, live, 'index batches are freed as the loop advances or ends');
    assert.throws(() => [...indexBatches(10, { batchSize: 0 })], /batch size/);
    assert.throws(() => [...indexBatches(10, { batchSize: 2.5 })], /batch size/);
  });

  test('TensorDataset.batch: float bytes/255 in NCHW, int64 labels', () => {
    const ds = smallDataset(6, [3, 2, 5], 4, 9);
    const td = new TensorDataset(ds);
    try {
      assert.equal(td.size, 6);
      assert.deepEqual(td.images.shape, [6, 3, 2, 5]);
      scope(() => {
        const idx = [4, 0, 4, 2];
        const b = td.batch(tensor(BigInt64Array.from(idx, BigInt), { shape: [4], dtype: 'int64' }));
        assert.equal(b.x.dtype, 'float32');
        assert.deepEqual(b.x.shape, [4, 3, 2, 5]);
        assert.equal(b.x.requiresGrad, false);
        assert.equal(b.y.dtype, 'int64');
        assert.deepEqual(b.y.toArray(), idx.map((i) => ds.labels[i]!));
        assert.deepEqual(b.index.toArray(), idx);
        const x = b.x.toArray();
        const per = 30;
        let sawNonzero = false;
        idx.forEach((i, k) => {
          for (let j = 0; j < per; j++) {
            const v = x[k * per + j]!;
            const want = ds.images[i * per + j]! / 255;
            assert.ok(Math.abs(v - want) <= 1e-7, `sample ${k} elem ${j}: ${v} vs ${want}`);
            assert.ok(v >= 0 && v <= 1);
            if (v > 0) sawNonzero = true;
          }
        });
        assert.ok(sawNonzero);
      });
    } finally {
      td.dispose();
    }
  });

  test('subsetByIndices picks samples in the given order', () => {
    const ds = smallDataset(5, [1, 2, 3], 3, 4);
    const s = subsetByIndices(ds, [3, 1, 3]);
    assert.equal(s.labels.length, 3);
    assert.ok(s.labels instanceof Uint8Array);
    assert.deepEqual(Array.from(s.labels), [ds.labels[3], ds.labels[1], ds.labels[3]]);
    assert.deepEqual(Array.from(s.images), [...ds.images.subarray(18, 24), ...ds.images.subarray(6, 12), ...ds.images.subarray(18, 24)]);
    assert.deepEqual(s.shape, ds.shape);
    assert.deepEqual(s.classNames, ds.classNames);
    assert.match(s.source, /synthetic-4/);
    assert.equal(subsetByIndices(ds, [0], 'mine').source, 'mine');
    const i32 = subsetByIndices({ ...ds, labels: Int32Array.from(ds.labels) }, Uint32Array.of(4, 0));
    assert.ok(i32.labels instanceof Int32Array);
    assert.deepEqual(Array.from(i32.labels), [ds.labels[4], ds.labels[0]]);
    assert.equal(subsetByIndices(ds, []).images.length, 0);
    // the source is left unchanged
    assert.deepEqual(Array.from(ds.images), Array.from(bytes(30, 4)));
    for (const bad of [5, -1, 1.5]) assert.throws(() => subsetByIndices(ds, [0, bad]), /outside/);
  });

  test('validateDataset', () => {
    const ds = smallDataset(4, [1, 2, 2], 3, 1);
    assert.equal(validateDataset(ds), ds);
    assert.throws(() => validateDataset({ ...ds, images: ds.images.subarray(0, 15) }), (e: Error) => e.message.includes('synthetic-1') && /15 image bytes/.test(e.message));
    assert.throws(() => validateDataset({ ...ds, shape: [1, 2, 3] }), /synthetic-1/);
    assert.throws(() => validateDataset({ ...ds, labels: Uint8Array.of(0, 1, 3, 2) }), (e: Error) => e.message.includes('synthetic-1') && /label 3 at index 2/.test(e.message));
    assert.throws(() => validateDataset({ ...ds, labels: Int32Array.of(0, -1, 1, 2) }), /label -1 at index 1/);
    assert.throws(() => validateDataset({ ...ds, labels: Uint8Array.of(0, 1, 2) }), /image bytes/);
  });
});

// ------------------------------------------------------------------ augmentations

/** Window (dy, dx) of sample i of x (NCHW, flat) zero-padded by p on each side. */
function paddedWindow(x: number[], shape: number[], i: number, p: number, dy: number, dx: number): number[] {
  const [, c, h, w] = shape as [number, number, number, number];
  const out: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const sy = y + dy - p;
        const sx = xx + dx - p;
        out.push(sy >= 0 && sy < h && sx >= 0 && sx < w ? x[((i * c + ch) * h + sy) * w + sx]! : 0);
      }
    }
  }
  return out;
}

function flipRows(x: number[], shape: number[], i: number): number[] {
  const [, c, h, w] = shape as [number, number, number, number];
  const out: number[] = [];
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) out.push(x[((i * c + ch) * h + y) * w + (w - 1 - xx)]!);
  return out;
}

describe('augmentations', () => {
  const shape = [12, 2, 5, 6];
  const n = 12;
  const per = 60;
  // distinct positive values so that every window is identifiable
  const data = Float32Array.from({ length: n * per }, (_, i) => 1 + i);
  const xs = Array.from(data);

  test('randomCrop: shape kept, each sample a window of the zero-padded input, seeded', () => {
    const p = 2;
    const [out, again, other] = scope(() => {
      const x = tensor(data, { shape });
      const r = (seed: number): number[] => {
        const y = randomCrop(x, p, new Generator(seed));
        assert.deepEqual(y.shape, shape);
        return y.toArray();
      };
      return [r(5), r(5), r(6)];
    });
    assert.deepEqual(again, out, 'same seed, same crops');
    assert.notDeepEqual(other, out, 'another seed, other crops');
    const offsets = new Set<string>();
    for (let i = 0; i < n; i++) {
      const got = out.slice(i * per, (i + 1) * per);
      const matches: string[] = [];
      for (let dy = 0; dy <= 2 * p; dy++) {
        for (let dx = 0; dx <= 2 * p; dx++) {
          const ref = paddedWindow(xs, shape, i, p, dy, dx);
          if (ref.every((v, j) => v === got[j])) matches.push(`${dy},${dx}`);
        }
      }
      assert.equal(matches.length, 1, `sample ${i} is not exactly one padded window: ${JSON.stringify(got)}`);
      offsets.add(matches[0]!);
    }
    assert.ok(offsets.size >= 3, `offsets hardly vary: ${[...offsets].join(' ')}`);
    // padding 0: identity copy
    const same = scope(() => randomCrop(tensor(data, { shape }), 0, new Generator(1)).toArray());
    assert.deepEqual(same, xs);
  });

  test('randomHorizontalFlip: p=1 flips, p=0 identity, p=0.5 seeded per sample', () => {
    const [f1, f0, h1, h2, h3] = scope(() => {
      const x = tensor(data, { shape });
      return [
        randomHorizontalFlip(x, new Generator(1), 1).toArray(),
        randomHorizontalFlip(x, new Generator(1), 0).toArray(),
        randomHorizontalFlip(x, new Generator(3)).toArray(),
        randomHorizontalFlip(x, new Generator(3)).toArray(),
        randomHorizontalFlip(x, new Generator(4)).toArray(),
      ];
    });
    for (let i = 0; i < n; i++) assert.deepEqual(f1.slice(i * per, (i + 1) * per), flipRows(xs, shape, i));
    assert.deepEqual(f0, xs);
    assert.deepEqual(h2, h1);
    assert.notDeepEqual(h3, h1);
    let flipped = 0;
    for (let i = 0; i < n; i++) {
      const s = h1.slice(i * per, (i + 1) * per);
      const isId = s.every((v, j) => v === xs[i * per + j]);
      const isFlip = s.every((v, j) => v === flipRows(xs, shape, i)[j]);
      assert.ok(isId !== isFlip, `sample ${i} is neither kept nor flipped`);
      if (isFlip) flipped++;
    }
    assert.ok(flipped > 0 && flipped < n, `p=0.5 flipped ${flipped} of ${n}`);
  });

  test('augmentBatch: crop then flip, reproducible; no-op copies', () => {
    const [a, b, none] = scope(() => {
      const x = tensor(data, { shape });
      const run = (): Tensor => augmentBatch(x, { cropPadding: 1, flip: true }, new Generator(8));
      const n0 = augmentBatch(x, { cropPadding: 0, flip: false }, new Generator(8));
      assert.notEqual(n0, x);
      return [run().toArray(), run().toArray(), n0.toArray()];
    });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, xs);
    assert.deepEqual(none, xs);
  });
});

// ------------------------------------------------------------------ store and PNG export

/** Decodes a PNG with sharp; channels is what the file holds (1: gray, 3: RGB), and data has that many. */
async function decodePng(path: string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const meta = await sharp(path).metadata();
  assert.equal(meta.format, 'png');
  const img = sharp(path);
  if (meta.channels === 1) img.toColourspace('b-w'); // sharp's raw output would otherwise be sRGB
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, meta.channels);
  return { data, width: meta.width, height: meta.height, channels: meta.channels };
}

function chwToHwc(chw: Uint8Array, c: number, h: number, w: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out.push(chw[k * h * w + y * w + x]!);
  return out;
}

describe('dataset store', () => {
  test('saveDataset / loadDataset round trip with metadata', () => {
    const dir = join(freshDir(), 'protected');
    const ds = smallDataset(7, [3, 4, 5], 10, 21);
    saveDataset(dir, ds, { attack: 'gue', epsilon: 8 / 255, linf: 0.031 });
    assert.ok(isStoredDataset(dir));
    const { ds: back, meta } = loadDataset(dir);
    assert.deepEqual(Array.from(back.images), Array.from(ds.images));
    assert.deepEqual(Array.from(back.labels), Array.from(ds.labels));
    assert.deepEqual(back.shape, [3, 4, 5]);
    assert.equal(back.numClasses, 10);
    assert.deepEqual(back.classNames, ds.classNames);
    assert.equal(back.source, dir);
    assert.equal(meta.kind, 'gue-dataset');
    assert.equal(meta.attack, 'gue');
    assert.equal(meta.epsilon, 8 / 255);
    assert.equal(meta.linf, 0.031);
    assert.equal(meta.source, 'synthetic-21');
  });

  test('refuses to overwrite a dataset unless asked', () => {
    const dir = freshDir();
    const a = smallDataset(3, [1, 2, 2], 2, 1);
    const b = smallDataset(5, [1, 2, 2], 2, 2);
    saveDataset(dir, a, { tag: 'a' });
    throwsData(() => saveDataset(dir, b, { tag: 'b' }), dir, 'already holds a dataset');
    let back = loadDataset(dir);
    assert.equal(back.meta.tag, 'a');
    assert.deepEqual(Array.from(back.ds.images), Array.from(a.images));
    saveDataset(dir, b, { tag: 'b' }, true);
    back = loadDataset(dir);
    assert.equal(back.meta.tag, 'b');
    assert.deepEqual(Array.from(back.ds.images), Array.from(b.images));
    assert.equal(back.ds.labels.length, 5);
  });

  test('loadDataset on a folder that is not a dataset', () => {
    const dir = freshDir();
    throwsData(() => loadDataset(dir), dir, 'not a gue dataset');
    throwsData(() => loadDataset(join(dir, 'missing')), 'not a gue dataset');
    writeFileSync(join(dir, 'dataset.json'), '{}');
    throwsData(() => loadDataset(dir), 'not a gue dataset');
  });

  test('exportPng: one PNG per image in class folders, pixels exact (gray and RGB)', async () => {
    for (const [c, h, w] of [[1, 5, 4], [3, 3, 7]] as const) {
      const ds = smallDataset(6, [c, h, w], 3, 30 + c);
      ds.classNames = ['T-shirt/top', 'bag', 'ankle boot'];
      const dir = join(freshDir(), 'png');
      assert.equal(exportPng(ds, dir), 6);
      const folders = readdirSync(dir).sort();
      assert.deepEqual(folders, ['0_T-shirt-top', '1_bag', '2_ankle-boot']);
      let files = 0;
      for (let i = 0; i < 6; i++) {
        const p = join(dir, folders[ds.labels[i]!]!, `${i}.png`);
        assert.ok(existsSync(p), p);
        files++;
        const img = await decodePng(p);
        assert.deepEqual([img.width, img.height, img.channels], [w, h, c]);
        assert.deepEqual(Array.from(img.data), chwToHwc(ds.images.subarray(i * c * h * w, (i + 1) * c * h * w), c, h, w), `${p} pixels`);
      }
      assert.equal(folders.reduce((a, f) => a + readdirSync(join(dir, f)).length, 0), files);
      // a non-empty folder is refused and left alone
      throwsData(() => exportPng(ds, dir), dir, 'not empty');
      assert.deepEqual(readdirSync(dir).sort(), folders);
    }
    assert.throws(() => encodePng(new Uint8Array(8), 2, 2, 2), /1 or 3 channels/);
  });
});

// ------------------------------------------------------------------ image folders

type RGB = [number, number, number];

function solid(w: number, h: number, c: RGB): Sharp {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r: c[0], g: c[1], b: c[2] } } });
}

/** Raw HWC RGB pixels from a function. */
function rawRgb(w: number, h: number, f: (x: number, y: number) => RGB): Buffer {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.set(f(x, y), (y * w + x) * 3);
  return b;
}

const gray = (c: RGB): number => (19595 * c[0] + 38470 * c[1] + 7471 * c[2] + 32768) >>> 16;

/** Pixel (channel k, y, x) of sample i of an [N, C, H, W] dataset. */
function px(ds: ImageDataset, i: number, k: number, y: number, x: number): number {
  const [c, h, w] = ds.shape;
  return ds.images[((i * c + k) * h + y) * w + x]!;
}

describe('image folder', () => {
  let dir = '';
  const grad = (x: number, y: number): RGB => [x * 20, y * 30, 255 - x * 10 - y * 5];
  before(async () => {
    dir = join(freshDir(), 'imgs');
    // created out of order; class index follows the sorted names
    for (const c of ['zebra', 'Ant', 'bird']) mkdirSync(join(dir, c), { recursive: true });
    await solid(10, 8, [200, 100, 50]).png().toFile(join(dir, 'zebra', 'b.png'));
    await solid(10, 8, [10, 20, 30]).png().toFile(join(dir, 'zebra', 'a.png'));
    await sharp(rawRgb(12, 8, grad), { raw: { width: 12, height: 8, channels: 3 } }).png().toFile(join(dir, 'zebra', '10.png'));
    await solid(30, 20, [0, 0, 255]).jpeg({ quality: 95 }).toFile(join(dir, 'Ant', 'x.JPG'));
    await solid(16, 16, [0, 255, 0]).webp({ lossless: true }).toFile(join(dir, 'bird', 'w.webp'));
    mkdirSync(join(dir, 'bird', 'sub'));
    await solid(12, 8, [90, 90, 90]).tiff().toFile(join(dir, 'bird', 'sub', 't.tif'));
    // ignored: non-image extensions, hidden files and folders (each would fail to decode)
    writeFileSync(join(dir, 'zebra', 'notes.txt'), 'not an image');
    writeFileSync(join(dir, 'zebra', '.hidden.png'), 'not an image');
    writeFileSync(join(dir, 'README.png'), 'not an image (a file, not a class folder)');
    mkdirSync(join(dir, '.cache'));
    writeFileSync(join(dir, '.cache', 'junk.png'), 'not an image');
  });

  test('classes by sorted folder name, shapes, RGB pixels', async () => {
    const ds = await loadImageFolder(dir, { size: [8, 12], channels: 3 });
    assert.deepEqual(ds.classNames, ['Ant', 'bird', 'zebra']);
    assert.equal(ds.numClasses, 3);
    assert.deepEqual(ds.shape, [3, 8, 12]);
    assert.equal(ds.source, dir);
    // Ant/x.JPG; bird/sub/t.tif, bird/w.webp; zebra/10.png, zebra/a.png, zebra/b.png
    assert.deepEqual(Array.from(ds.labels), [0, 1, 1, 2, 2, 2]);
    assert.equal(ds.images.length, 6 * 3 * 8 * 12);
    validateDataset(ds);
    // the 12x8 gradient is already the target size: exact pixels, CHW
    for (let y = 0; y < 8; y++) for (let x = 0; x < 12; x++) for (let k = 0; k < 3; k++) assert.equal(px(ds, 3, k, y, x), grad(x, y)[k], `gradient (${k},${y},${x})`);
    const near = (i: number, c: RGB, tol: number): void => {
      for (let k = 0; k < 3; k++) for (let y = 0; y < 8; y++) for (let x = 0; x < 12; x++) {
        assert.ok(Math.abs(px(ds, i, k, y, x) - c[k]) <= tol, `sample ${i} (${k},${y},${x}) = ${px(ds, i, k, y, x)}, expected ${c[k]}`);
      }
    };
    near(0, [0, 0, 255], 3); // resized JPEG
    near(1, [90, 90, 90], 0); // TIFF in a nested folder
    near(2, [0, 255, 0], 1); // resized lossless WebP
    near(4, [10, 20, 30], 1); // a.png resized 10x8 → 12x8
    near(5, [200, 100, 50], 1);
  });

  test('gray conversion (PIL L luma), square size', async () => {
    const ds = await loadImageFolder(dir, { size: 8, channels: 1 });
    assert.deepEqual(ds.shape, [1, 8, 8]);
    assert.equal(ds.images.length, 6 * 64);
    assert.equal(gray([200, 100, 50]), 124); // PIL: 0.299*200 + 0.587*100 + 0.114*50 = 124.2
    for (let p = 0; p < 64; p++) {
      assert.ok(Math.abs(ds.images[5 * 64 + p]! - 124) <= 1);
      assert.ok(Math.abs(ds.images[1 * 64 + p]! - 90) <= 0, 'a gray source stays the same');
    }
    // exact on an image of the target size
    const d2 = join(freshDir(), 'g');
    mkdirSync(join(d2, 'only'), { recursive: true });
    await sharp(rawRgb(5, 3, grad), { raw: { width: 5, height: 3, channels: 3 } }).png().toFile(join(d2, 'only', 'g.png'));
    const g = await loadImageFolder(d2, { size: [3, 5], channels: 1 });
    for (let y = 0; y < 3; y++) for (let x = 0; x < 5; x++) assert.equal(px(g, 0, 0, y, x), gray(grad(x, y)));
    // a gray PNG with alpha: alpha dropped, gray kept, replicated for RGB
    const ga = Buffer.alloc(15 * 2);
    for (let i = 0; i < 15; i++) [ga[2 * i], ga[2 * i + 1]] = [i * 17, 255 - i * 10];
    await sharp(ga, { raw: { width: 5, height: 3, channels: 2 } }).png().toFile(join(d2, 'only', 'h.png'));
    const g1 = await loadImageFolder(d2, { size: [3, 5], channels: 1 });
    const g3 = await loadImageFolder(d2, { size: [3, 5], channels: 3 });
    for (let i = 0; i < 15; i++) {
      assert.equal(g1.images[15 + i], i * 17);
      for (let k = 0; k < 3; k++) assert.equal(g3.images[45 + k * 15 + i], i * 17);
    }
  });

  test('fit cover center-crops, fill stretches', async () => {
    const d = join(freshDir(), 'fit');
    mkdirSync(join(d, 'c'), { recursive: true });
    // 8x4: columns 0-1 red, 2-5 green, 6-7 blue
    const f = (x: number): RGB => (x < 2 ? [255, 0, 0] : x < 6 ? [0, 255, 0] : [0, 0, 255]);
    await sharp(rawRgb(8, 4, (x) => f(x)), { raw: { width: 8, height: 4, channels: 3 } }).png().toFile(join(d, 'c', 'i.png'));
    const cover = await loadImageFolder(d, { size: 4, channels: 3, fit: 'cover' });
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) assert.deepEqual([0, 1, 2].map((k) => px(cover, 0, k, y, x)), [0, 255, 0]);
    const fill = await loadImageFolder(d, { size: 4, channels: 3 });
    assert.ok(px(fill, 0, 0, 2, 0) > 200 && px(fill, 0, 2, 2, 3) > 200, 'fill keeps the red and blue edges');
  });

  test('EXIF orientation is applied', async () => {
    const d = join(freshDir(), 'exif');
    mkdirSync(join(d, 'c'), { recursive: true });
    const file = join(d, 'c', 'rot.jpg');
    // stored 16 wide, 8 tall: red where x < 8, green where y < 4
    const f = (x: number, y: number): RGB => [x < 8 ? 255 : 0, y < 4 ? 255 : 0, 0];
    await sharp(rawRgb(16, 8, f), { raw: { width: 16, height: 8, channels: 3 } })
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .withMetadata({ orientation: 6 })
      .toFile(file);
    const meta = await sharp(file).metadata();
    assert.deepEqual([meta.width, meta.height, meta.orientation], [16, 8, 6]);
    // orientation 6 = rotate 90° clockwise: displayed 8 wide, 16 tall; displayed (x', y') = stored (y', 7 - x').
    // Loading at 16x8 (h x w) needs no resampling, so the quadrants are where the rotation puts them.
    const ds = await loadImageFolder(d, { size: [16, 8], channels: 3 });
    assert.deepEqual(ds.shape, [3, 16, 8]);
    const hi = (v: number): boolean => v > 200;
    const lo = (v: number): boolean => v < 55;
    for (const [x, y] of [[1, 2], [6, 3], [1, 12], [6, 13], [2, 6], [5, 9]] as const) {
      const want = f(y, 7 - x);
      for (const k of [0, 1]) {
        const v = px(ds, 0, k, y, x);
        assert.ok(want[k] === 255 ? hi(v) : lo(v), `displayed (${x},${y}) channel ${k} = ${v}, expected ~${want[k]}`);
      }
    }
  });

  test('errors: missing dir, no classes, empty class, corrupt image, bad options', async () => {
    const base = freshDir();
    await rejectsData(loadImageFolder(join(base, 'nope'), { size: 4, channels: 3 }), join(base, 'nope'), 'not found');
    const file = join(base, 'file.png');
    writeFileSync(file, 'x');
    await rejectsData(loadImageFolder(file, { size: 4, channels: 3 }), file, 'not a folder');

    const noClasses = join(base, 'flat');
    mkdirSync(noClasses);
    await solid(4, 4, [1, 2, 3]).png().toFile(join(noClasses, 'a.png'));
    mkdirSync(join(noClasses, '.hidden'));
    await rejectsData(loadImageFolder(noClasses, { size: 4, channels: 3 }), noClasses, 'no class subfolders');

    const empty = join(base, 'empty');
    mkdirSync(join(empty, 'cat'), { recursive: true });
    mkdirSync(join(empty, 'dog'), { recursive: true });
    await solid(4, 4, [1, 2, 3]).png().toFile(join(empty, 'cat', 'a.png'));
    writeFileSync(join(empty, 'dog', 'readme.md'), 'nothing');
    await rejectsData(loadImageFolder(empty, { size: 4, channels: 3 }), join(empty, 'dog'), 'no image files');

    const corrupt = join(base, 'corrupt');
    mkdirSync(join(corrupt, 'cat'), { recursive: true });
    await solid(4, 4, [1, 2, 3]).png().toFile(join(corrupt, 'cat', 'a.png'));
    const bad = join(corrupt, 'cat', 'b.png');
    writeFileSync(bad, 'definitely not a PNG');
    await rejectsData(loadImageFolder(corrupt, { size: 4, channels: 3 }), bad, 'cannot decode');
    // a truncated JPEG
    const jpg = await sharp(rawRgb(64, 64, (x, y) => [x * 4, y * 4, (x * y) & 255]), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    rmSync(bad);
    const trunc = join(corrupt, 'cat', 'c.jpg');
    writeFileSync(trunc, jpg.subarray(0, Math.floor(jpg.length / 2)));
    await rejectsData(loadImageFolder(corrupt, { size: 4, channels: 3 }), trunc);
    // a truncated PNG
    rmSync(trunc);
    const png = await sharp(rawRgb(64, 64, (x, y) => [x * 4, y * 4, (x * y) & 255]), { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer();
    const truncPng = join(corrupt, 'cat', 'd.png');
    writeFileSync(truncPng, png.subarray(0, Math.floor(png.length / 2)));
    await rejectsData(loadImageFolder(corrupt, { size: 4, channels: 3 }), truncPng);
    rmSync(truncPng);
    const ok = await loadImageFolder(corrupt, { size: 4, channels: 3 });
    assert.equal(ok.labels.length, 1);

    await rejectsData(loadImageFolder(corrupt, { size: 0, channels: 3 }), 'size');
    await rejectsData(loadImageFolder(corrupt, { size: [4, 2.5], channels: 3 }), 'size');
    await rejectsData(loadImageFolder(corrupt, { size: 4, channels: 2 as 3 }), 'channels');
  });

  test('classNames fixes the class order and must match the folders', async () => {
    const ds = await loadImageFolder(dir, { size: 4, channels: 1, classNames: ['zebra', 'Ant', 'bird'] });
    assert.deepEqual(ds.classNames, ['zebra', 'Ant', 'bird']);
    assert.deepEqual(Array.from(ds.labels), [0, 0, 0, 1, 2, 2]);
    await rejectsData(loadImageFolder(dir, { size: 4, channels: 1, classNames: ['zebra', 'Ant', 'bird', 'cow'] }), '"cow"', 'not found');
    await rejectsData(loadImageFolder(dir, { size: 4, channels: 1, classNames: ['zebra', 'Ant'] }), '"bird"', 'not among');
  });

  test('a loaded folder saves and exports like any dataset', async () => {
    const ds = await loadImageFolder(dir, { size: [8, 12], channels: 3 });
    const out = join(freshDir(), 'ds');
    saveDataset(out, ds, { from: 'imagefolder' });
    const back = loadDataset(out).ds;
    assert.deepEqual(Array.from(back.images), Array.from(ds.images));
    assert.deepEqual(back.classNames, ds.classNames);
    const png = join(freshDir(), 'png');
    exportPng(ds, png);
    const again = await decodePng(join(png, '2_zebra', '3.png'));
    assert.deepEqual(Array.from(again.data), chwToHwc(ds.images.subarray(3 * 288, 4 * 288), 3, 8, 12));
    assert.equal(readFileSync(join(png, '2_zebra', '3.png')).subarray(1, 4).toString(), 'PNG');
  });
});
