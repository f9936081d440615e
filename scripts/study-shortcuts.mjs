#!/usr/bin/env node
// Are the perturbations shortcuts? (issue #8, docs/study.md). For each protected dataset folder (a `gue protect` /
// `gue experiment` cache folder, or its data/ subfolder), take δ = protected − clean over the same Fashion-MNIST
// training images and fit a linear classifier (784 → 10, Adam) to predict the labels from δ alone. This is the test of
// Yu et al., "Availability attacks create shortcuts" (KDD 2022): perturbations that work are nearly linearly
// separable by class. Prints one JSON line per folder: the fit (accuracy on the 80 % it was trained on) and the
// held-out accuracy (the other 20 %), and the same for a linear classifier on the clean images as the reference.
//   node scripts/study-shortcuts.mjs docs/results/cache/0416711232 docs/results/cache/8385afd156 …
// Needs the build (npm run setup). One libtorch thread unless GUE_NUM_THREADS says otherwise.
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const { tensor, F, noGrad, scope, setNumThreads, manualSeed, randperm, Generator } = await load('src/engine/index.js');
const { loadDataset, loadIdxDataset } = await load('src/data/index.js');
const { Linear } = await load('src/nn/index.js');
const { Adam } = await load('src/optim/index.js');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { epochs: { type: 'string', default: '30' }, lr: { type: 'string', default: '0.01' }, seed: { type: 'string', default: '0' }, 'data-dir': { type: 'string' } },
});
if (positionals.length === 0) {
  process.stderr.write('usage: node scripts/study-shortcuts.mjs <protected dataset folder>… [--epochs 30] [--lr 0.01] [--seed 0]\n');
  process.exit(2);
}
if (!process.env.GUE_NUM_THREADS) setNumThreads(1);
const epochs = Number(values.epochs), lr = Number(values.lr), seed = Number(values.seed);

const clean = values['data-dir'] ? loadIdxDataset('train', values['data-dir']) : loadIdxDataset('train');
const d = clean.shape[0] * clean.shape[1] * clean.shape[2];

/** Train a linear classifier on rows of x (Float32Array, n×d) and return [fit %, held-out %]. */
function linearProbe(x, labels, n) {
  manualSeed(seed);
  const perm = Array.from(randperm(n, { generator: new Generator(seed) }).toArray(), Number);
  const nTrain = Math.floor(n * 0.8);
  const take = (idx) => {
    const xs = new Float32Array(idx.length * d), ys = new Int32Array(idx.length);
    idx.forEach((j, i) => { xs.set(x.subarray(j * d, (j + 1) * d), i * d); ys[i] = labels[j]; });
    return { x: tensor(xs, { shape: [idx.length, d] }), y: tensor(ys, { shape: [idx.length] }).to('int64') };
  };
  const tr = take(perm.slice(0, nTrain)), te = take(perm.slice(nTrain));
  // Standardise each feature by the training part's scale, so that δ of any size is fitted alike.
  const [xTr, xTe] = scope(() => {
    const mu = tr.x.mean([0], true), sd = tr.x.std([0], { keepdim: true }).add(1e-6);
    return [tr.x.sub(mu).div(sd), te.x.sub(mu).div(sd)];
  });
  const model = new Linear(d, clean.numClasses, { generator: new Generator(seed) });
  const opt = new Adam(model.parameters(), { lr });
  const g = new Generator(seed + 1);
  for (let e = 0; e < epochs; e++) {
    const order = randperm(nTrain, { generator: g });
    for (let s = 0; s < nTrain; s += 256) {
      scope(() => {
        const idx = order.slice(0, s, Math.min(s + 256, nTrain));
        const loss = F.crossEntropy(model.forward(xTr.indexSelect(0, idx)), tr.y.indexSelect(0, idx));
        loss.backward();
        opt.step();
        opt.zeroGrad();
      });
    }
    order.dispose();
  }
  const acc = (xx, yy) => noGrad(() => scope(() => (100 * model.forward(xx).argmax(1).eq(yy).sum().item()) / yy.shape[0]));
  const out = [acc(xTr, tr.y), acc(xTe, te.y)];
  for (const t of [tr.x, tr.y, te.x, te.y, xTr, xTe]) t.dispose();
  return out.map((v) => +v.toFixed(2));
}

let cleanRef = null;
for (const arg of positionals) {
  const dir = existsSync(join(arg, 'data', 'dataset.json')) ? join(arg, 'data') : arg;
  const { ds } = loadDataset(dir);
  const n = ds.labels.length;
  for (let i = 0; i < n; i++) {
    if (ds.labels[i] !== clean.labels[i]) throw new Error(`${dir}: label ${i} differs from Fashion-MNIST's training image ${i}; not a protected copy of the first ${n} images`);
  }
  const info = existsSync(join(arg, 'protect.json')) ? JSON.parse(readFileSync(join(arg, 'protect.json'), 'utf8')) : {};
  const delta = new Float32Array(n * d);
  let changed = 0;
  for (let i = 0; i < n * d; i++) {
    delta[i] = (ds.images[i] - clean.images[i]) / 255;
    if (delta[i] !== 0) changed++;
  }
  if (!cleanRef || cleanRef.n !== n) {
    const xc = Float32Array.from(clean.images.subarray(0, n * d), (v) => v / 255);
    const [fit, heldOut] = linearProbe(xc, clean.labels, n);
    cleanRef = { n, fit, heldOut };
  }
  const [fit, heldOut] = linearProbe(delta, ds.labels, n);
  const row = { folder: arg, method: info.method ?? null, linf255: info.linf255 ?? null, genSteps: info.genSteps ?? null, images: n, changed: +(changed / (n * d)).toFixed(3), delta: { fit, heldOut }, cleanImages: { fit: cleanRef.fit, heldOut: cleanRef.heldOut } };
  process.stdout.write(JSON.stringify(row) + '\n');
}
