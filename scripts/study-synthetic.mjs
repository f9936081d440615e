#!/usr/bin/env node
// The synthetic protection task of test/protection.test.ts as a small study tool (issue #8, docs/study.md): train a
// GUE generator on the seeded 4-class 8×8 task (ε = 32/255, tiny CNN surrogate, U-Net width 4, batch 128, fast path,
// inner lr 1e-3), protect the training set, and train tiny-CNN victims (6 epochs) on clean, protected and random ±ε
// data. Any trainGenerator option can be changed with --set key=value (JSON values), e.g.
//   node scripts/study-synthetic.mjs --set maxSteps=450 --set resetEvery=50 --victim-seeds 1,2
// Prints one JSON line per victim seed and a summary line: mean and final clean test accuracy of each victim.
// Needs the build (npm run setup). Runs on one libtorch thread unless GUE_NUM_THREADS says otherwise.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const dist = new URL('../dist/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const { Generator, rand, randn, setNumThreads } = await load('src/engine/index.js');
const { syntheticDataset } = await load('test/helpers/synthetic.js');
const { trainGenerator, loadGenerator } = await load('src/game/index.js');
const { poisonDataset, generatorPerturbation } = await load('src/attacks/index.js');
const { trainVictim } = await load('src/victim/index.js');

const { values } = parseArgs({ options: { set: { type: 'string', multiple: true, default: [] }, 'victim-seeds': { type: 'string', default: '1,2' } } });
const extra = {};
for (const kv of values.set) {
  const i = kv.indexOf('=');
  if (i < 1) throw new Error(`--set needs key=value, got '${kv}'`);
  const v = kv.slice(i + 1);
  try {
    extra[kv.slice(0, i)] = JSON.parse(v);
  } catch {
    extra[kv.slice(0, i)] = v;
  }
}
const victimSeeds = values['victim-seeds'].split(',').map(Number);
if (!process.env.GUE_NUM_THREADS) setNumThreads(1);

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const templates = randn([4, 1, 8, 8], { generator: new Generator(123) }).sign().keep();
const train = syntheticDataset(2048, 1, templates);
const test = syntheticDataset(1024, 2, templates);
const eps = 32 / 255;
const opts = { eps, surrogate: 'tiny-cnn', genWidth: 4, batchSize: 128, epochs: 100, maxSteps: 300, seed: 1, path: 'fast', lrInner: 1e-3, checkpointEvery: 1e9, ...extra };
const dir = mkdtempSync(join(tmpdir(), 'gue-study-'));
const t0 = Date.now();
try {
  trainGenerator(train, opts, dir);
  const { gen } = loadGenerator(join(dir, 'generator'));
  const { dataset: prot } = poisonDataset(train, generatorPerturbation(gen, eps), { eps, quantization: 'round', batchSize: 512, device: 'cpu' });
  gen.dispose();
  const noiseGen = new Generator(77);
  const { dataset: noisy } = poisonDataset(train, (x) => rand(x.shape, { generator: noiseGen }).lt(0.5).to('float32').mul(2 * eps).sub(eps), { eps, quantization: 'round', batchSize: 512, device: 'cpu' });
  const rows = [];
  for (const seed of victimSeeds) {
    const vo = { model: 'tiny-cnn', epochs: 6, milestones: [], batchSize: 64, lr: 0.01, cropPadding: 0, flip: false, seed };
    const curves = Object.fromEntries([['clean', train], ['protected', prot], ['random', noisy]].map(([k, ds]) => [k, trainVictim(ds, test, vo).epochs.map((e) => +e.testAcc.toFixed(2))]));
    rows.push(curves);
    process.stdout.write(JSON.stringify({ victimSeed: seed, ...curves }) + '\n');
  }
  const summary = {};
  for (const k of ['clean', 'protected', 'random']) {
    summary[k] = { mean: +mean(rows.map((r) => mean(r[k]))).toFixed(2), final: +mean(rows.map((r) => r[k].at(-1))).toFixed(2) };
  }
  process.stdout.write(JSON.stringify({ options: extra, victimSeeds, summary, seconds: (Date.now() - t0) / 1000 }) + '\n');
} finally {
  templates.dispose();
  rmSync(dir, { recursive: true, force: true });
}
