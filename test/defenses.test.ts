// Defenses (src/defenses): the registry and option checks; data defenses keep shape and range, are
// deterministic and really change the data (JPEG quality matters, grayscale channels are equal, bit depth and
// blur behave as specified); training defenses return valid soft targets (Mixup/CutMix rows sum to 1) and
// Cutout zeroes one square; all without leaking tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, memory, oneHot, rand, randint, randperm, scope, setNumThreads, type Tensor } from '../src/engine/index.js';
import { DEFENSES, channelProblem, getDefense, resolveDefense, type DataDefense, type TrainingDefense } from '../src/defenses/index.js';
import { expandCells } from '../src/experiment/cells.js';
import { parseExperiment } from '../src/experiment/schema.js';
import { OptionError } from '../src/util/options.js';
import type { ImageDataset } from '../src/data/index.js';

setNumThreads(1);

function rgbDataset(n: number, seed: number, c = 3, s = 16): ImageDataset {
  const g = new Generator(seed);
  const t = rand([n, c, s, s], { generator: g }).mul(255).floor().to('uint8');
  const images = new Uint8Array(t.toTypedArray() as Uint8Array);
  t.dispose();
  return { images, labels: Uint8Array.from({ length: n }, (_, i) => i % 4), shape: [c, s, s], numClasses: 4, source: 'random' };
}
const data = (name: string) => getDefense(name) as DataDefense;
const training = (name: string) => getDefense(name) as TrainingDefense;
const diffCount = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + (v !== b[i] ? 1 : 0), 0);
const meanAbs = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;

test('registry: every defense is listed with a citation; unknown names and bad options are clear errors', () => {
  assert.deepEqual(Object.keys(DEFENSES).sort(), ['bitdepth', 'blur', 'cutmix', 'cutout', 'grayscale', 'jpeg', 'mixup']);
  for (const d of Object.values(DEFENSES)) assert.ok(d.cite.length > 10 && d.title.length > 5, d.name);
  assert.throws(() => getDefense('nope'), /unknown defense 'nope'; available: none, mixup/);
  assert.throws(() => getDefense('toString'), /unknown defense/);
  assert.throws(() => resolveDefense('jpeg', { quality: '0' }), (e: Error) => e instanceof OptionError && /option 'quality' of defense 'jpeg' must be at least 1/.test(e.message));
  assert.throws(() => resolveDefense('jpeg', { q: '5' }), /unknown option 'q' for defense 'jpeg'; available: quality/);
  assert.throws(() => resolveDefense('grayscale', { a: '1' }), /it takes no options/);
  assert.throws(() => resolveDefense('none', { a: '1' }), /'none' takes no options/);
  assert.equal(resolveDefense('none'), null);
  assert.equal(resolveDefense('jpeg')!.options.quality, 10);
  assert.equal(resolveDefense('bitdepth')!.options.bits, 2);
});

test('jpeg: same shape and labels, input untouched, deterministic, changes bytes, lower quality changes more', () => {
  const ds = rgbDataset(6, 1);
  const copy = ds.images.slice();
  const q10 = data('jpeg').apply(ds, resolveDefense('jpeg', { quality: '10' })!.options);
  const q10b = data('jpeg').apply(ds, resolveDefense('jpeg', { quality: '10' })!.options);
  const q95 = data('jpeg').apply(ds, resolveDefense('jpeg', { quality: '95' })!.options);
  assert.deepEqual(ds.images, copy, 'the input is not modified');
  assert.deepEqual(q10.shape, ds.shape);
  assert.equal(q10.images.length, ds.images.length);
  assert.deepEqual(q10.labels, ds.labels);
  assert.deepEqual(q10.images, q10b.images, 'deterministic');
  assert.ok(diffCount(q10.images, ds.images) > ds.images.length / 2, 'JPEG-10 changes most bytes of noise images');
  assert.ok(meanAbs(q10.images, ds.images) > meanAbs(q95.images, ds.images) + 5, `quality matters: ${meanAbs(q10.images, ds.images)} vs ${meanAbs(q95.images, ds.images)}`);
  // Single-channel images (Fashion-MNIST) work too; other channel counts are refused.
  const gray = rgbDataset(3, 2, 1, 12);
  const g10 = data('jpeg').apply(gray, resolveDefense('jpeg')!.options);
  assert.equal(g10.images.length, gray.images.length);
  assert.ok(diffCount(g10.images, gray.images) > 0);
  assert.throws(() => data('jpeg').apply(rgbDataset(2, 3, 2, 8), resolveDefense('jpeg')!.options), /1- or 3-channel/);
});

test('grayscale: three equal channels with the ITU-R 601-2 luma; refused on 1-channel data', () => {
  const ds = rgbDataset(4, 3, 3, 8);
  const out = data('grayscale').apply(ds, {});
  const hw = 64;
  for (let i = 0; i < 4; i++) {
    for (let p = 0; p < hw; p++) {
      const b = i * 3 * hw;
      const [r, g, bl] = [ds.images[b + p]!, ds.images[b + hw + p]!, ds.images[b + 2 * hw + p]!];
      const l = out.images[b + p]!;
      assert.equal(out.images[b + hw + p], l);
      assert.equal(out.images[b + 2 * hw + p], l);
      assert.ok(Math.abs(l - (0.299 * r + 0.587 * g + 0.114 * bl)) <= 0.5 + 1e-9, `pixel ${p}: ${l}`);
    }
  }
  assert.deepEqual(out.shape, ds.shape);
  assert.throws(() => data('grayscale').apply(rgbDataset(2, 4, 1, 8), {}), /already grayscale/);
});

test('bitdepth keeps the top bits; blur keeps constants and range, smooths noise, is deterministic', () => {
  const ds = rgbDataset(4, 5, 3, 8);
  const b2 = data('bitdepth').apply(ds, resolveDefense('bitdepth')!.options);
  assert.deepEqual([...new Set(b2.images)].sort((a, b) => a - b), [0, 64, 128, 192]);
  b2.images.forEach((v, i) => assert.equal(v, ds.images[i]! & 0xc0));
  const b8 = data('bitdepth').apply(ds, resolveDefense('bitdepth', { bits: '8' })!.options);
  assert.deepEqual(b8.images, ds.images);

  const opts = resolveDefense('blur', { kernel: '5', sigma: '1.5' })!.options;
  const bl = data('blur').apply(ds, opts);
  assert.deepEqual(bl.images, data('blur').apply(ds, opts).images, 'deterministic');
  assert.equal(bl.images.length, ds.images.length);
  const variance = (a: Uint8Array) => {
    const m = a.reduce((s, v) => s + v, 0) / a.length;
    return a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length;
  };
  assert.ok(variance(bl.images) < variance(ds.images) / 3, 'blur removes most of the variance of i.i.d. noise');
  const flat: ImageDataset = { ...ds, images: new Uint8Array(ds.images.length).fill(77) };
  assert.ok(data('blur').apply(flat, opts).images.every((v) => v === 77), 'a constant image is unchanged');
  assert.throws(() => resolveDefense('blur', { kernel: 'x' }), /must be a number/);
  assert.throws(() => data('blur').apply(ds, { kernel: 4, sigma: 1 }), /odd/);
});

function batch(n: number, seed: number): { x: Tensor; y: Tensor } {
  const g = new Generator(seed);
  return { x: rand([n, 3, 8, 8], { generator: g }).add(0.01).keep(), y: randint(0, 5, [n], { generator: g }).keep() };
}

test('mixup and cutmix: soft targets that sum to 1, mixing weights consistent with the images, seeded', () => {
  const { x, y } = batch(12, 6);
  const before = memory().tensors;
  for (const name of ['mixup', 'cutmix']) {
    scope(() => {
    const tf = training(name).makeTransform(resolveDefense(name)!.options);
    const a = tf(x, y, 5, new Generator(3));
    const b = tf(x, y, 5, new Generator(3));
    assert.deepEqual(a.x.shape, x.shape);
    assert.deepEqual(a.target.shape, [12, 5]);
    const sums = a.target.sum(1).toArray() as number[];
    sums.forEach((s) => assert.ok(Math.abs(s - 1) < 1e-5, `${name}: target row sums to ${s}`));
    assert.ok((a.target.min().item() as number) >= 0);
    assert.equal(a.x.sub(b.x).abs().max().item(), 0, `${name}: same seed, same batch`);
    assert.equal(a.target.sub(b.target).abs().max().item(), 0);
    assert.ok((a.x.min().item() as number) >= 0 && (a.x.max().item() as number) <= 1.01);
    // One mixing weight per batch: the own-label weight λ is shared by the samples whose partner has another label.
    const own = a.target.gather(1, y.reshape([12, 1])).reshape([12]).toArray() as number[];
    const lam = Math.min(...own);
    assert.ok(lam >= 0 && lam <= 1);
    if (name === 'mixup') {
      // Replay the draws (α = 1: λ ~ U(0,1), then π): x̃ = λx + (1−λ)x[π], ỹ = λ·onehot(y) + (1−λ)·onehot(y[π]).
      const g2 = new Generator(3);
      const l = rand([1], { generator: g2, dtype: 'float64' }).item();
      const perm = randperm(12, { generator: g2 });
      assert.ok(a.x.sub(x.mul(l).add(x.indexSelect(0, perm).mul(1 - l))).abs().max().item() < 1e-6, 'mixed images');
      const oh = oneHot(y, 5).to('float32');
      assert.ok(a.target.sub(oh.mul(l).add(oh.indexSelect(0, perm).mul(1 - l))).abs().max().item() < 1e-6, 'mixed targets');
      assert.ok(own.every((w) => w >= lam - 1e-6));
    } else {
      // CutMix pixels come from x itself or from another image of the batch, unchanged; λ' = fraction of own pixels.
      const same = a.x.eq(x).to('float32').mean().item();
      assert.ok(same >= lam - 1e-6, `kept-pixel fraction ${same} vs λ ${lam}`);
    }
    });
  }
  assert.equal(memory().tensors, before, 'no leaked tensors');
  x.dispose();
  y.dispose();
});

test('cutout zeroes one square per image (half the side by default), labels unchanged', () => {
  const { x, y } = batch(10, 7);
  const tf = training('cutout').makeTransform(resolveDefense('cutout')!.options);
  const out = tf(x, y, 5, new Generator(1));
  assert.equal(out.target.sub(y).abs().max().item(), 0);
  const vals = out.x.toArray() as number[];
  const orig = x.toArray() as number[];
  for (let i = 0; i < 10; i++) {
    // Zero pixels of image i (x > 0 everywhere, so zeros are the hole), same in every channel.
    const rows = new Set<number>();
    const cols = new Set<number>();
    let zeros = 0;
    for (let c = 0; c < 3; c++) {
      for (let r = 0; r < 8; r++) {
        for (let q = 0; q < 8; q++) {
          const k = ((i * 3 + c) * 8 + r) * 8 + q;
          if (vals[k] === 0) {
            zeros++;
            rows.add(r);
            cols.add(q);
          } else assert.equal(vals[k], orig[k]);
        }
      }
    }
    assert.ok(zeros > 0, `image ${i} has a hole`);
    assert.equal(zeros, 3 * rows.size * cols.size, `image ${i}: the hole is a rectangle in every channel`);
    assert.ok(rows.size <= 4 && cols.size <= 4, 'at most 4×4 (half of 8)');
    // Clipped only at the borders: a hole smaller than 4 touches an edge.
    if (rows.size < 4) assert.ok(rows.has(0) || rows.has(7));
    if (cols.size < 4) assert.ok(cols.has(0) || cols.has(7));
  }
  out.x.dispose();
  out.target.dispose();
  x.dispose();
  y.dispose();
});

test('channel rule: a data defense declares the channels it takes; the run and the experiment planner refuse with one message', () => {
  const gray = data('grayscale');
  const jpg = data('jpeg');
  assert.deepEqual(gray.channels, [3]);
  assert.equal(channelProblem(gray, 3, 'cifar10'), null);
  assert.equal(channelProblem(gray, 1, 'fashion-mnist'), 'the grayscale defense needs 3-channel (RGB) images; fashion-mnist has 1 channel (it is already grayscale)');
  assert.equal(channelProblem(jpg, 1, 'x'), null);
  assert.equal(channelProblem(jpg, 2, 'x'), 'the jpeg defense needs 1- or 3-channel images; x has 2 channels');
  // A defense that declares nothing takes any channel count; a new one declaring [1] is refused on RGB.
  const any: DataDefense = { kind: 'data', name: 'any', title: '', cite: '', options: {}, apply: (d) => d };
  assert.equal(channelProblem(any, 2, 'x'), null);
  assert.equal(channelProblem({ ...any, name: 'mono', channels: [1] }, 3, 'x'), 'the mono defense needs 1-channel images; x has 3 channels');
  // The run refuses with that message, before transforming anything…
  const fmnistLike = { ...rgbDataset(2, 4, 1, 8), source: 'fashion-mnist' };
  assert.throws(() => gray.apply(fmnistLike, {}), { message: channelProblem(gray, 1, 'fashion-mnist')! });
  // …and the planner finds the same problem from the dataset's name, before any cell runs.
  const spec = parseExperiment({ name: 't', figure: 'table4', dataset: { name: 'fashion-mnist' }, defaults: { protect: { method: 'clean' } }, cells: [{ id: 'g', victim: { defense: 'grayscale' } }, { id: 'j', victim: { defense: 'jpeg' } }] }, 't.json');
  const [g, j] = expandCells(spec);
  assert.deepEqual(g!.problems, [`cells[0]: victim: ${channelProblem(gray, 1, 'fashion-mnist')}`]);
  assert.deepEqual(j!.problems, []);
  const rgb = expandCells(parseExperiment({ name: 't', figure: 'table4', dataset: { name: 'cifar10' }, defaults: { protect: { method: 'clean' } }, cells: [{ id: 'g', victim: { defense: 'grayscale' } }] }, 't.json'));
  assert.deepEqual(rgb[0]!.problems, []);
  // A misspelt defense or a bad option is found when the experiment is planned, not when the cell's victim starts.
  const bad = expandCells(parseExperiment({ name: 't', figure: 'table4', dataset: { name: 'cifar10' }, defaults: { protect: { method: 'clean' } }, cells: [{ id: 'n', victim: { defense: 'jpg' } }, { id: 'q', victim: { defense: 'jpeg', defenseOptions: { quality: 101 } } }, { id: 'ok', victim: { defense: 'jpeg', defenseOptions: { quality: 10 } } }] }, 't.json'));
  assert.equal(bad[0]!.problems.length, 1);
  assert.match(bad[0]!.problems[0]!, /^cells\[0\]: victim: unknown defense 'jpg'; available: none, mixup/);
  assert.equal(bad[1]!.problems.length, 1);
  assert.match(bad[1]!.problems[0]!, /^cells\[1\]: victim: .*quality/);
  assert.deepEqual(bad[2]!.problems, []);
});
