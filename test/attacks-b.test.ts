// DeepConfuse, ShortcutGen and REM through the attack registry, on the seeded synthetic task: each respects
// its L∞ budget on the stored bytes, leaks no tensors, is reproducible from its seed, and a victim trained on
// its protected data does clearly worse on clean test data than one trained on clean data — by a wider margin
// than the random-noise control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, grad, memory, rand, scope } from '../src/engine/index.js';
import { augmentBatch } from '../src/data/augment.js';
import { applyAugmentation, sampleAugmentation } from '../src/attacks/eot.js';
import { runAttack } from '../src/attacks/index.js';
import { subsetByIndices, type ImageDataset } from '../src/data/index.js';
import { trainVictim } from '../src/victim/index.js';
import { syntheticDataset, syntheticTemplates } from './helpers/synthetic.js';

/** CPU-sized options per attack (seconds on the 8×8 synthetic task). */
export const QUICK: Readonly<Record<string, Record<string, number | string | boolean>>> = {
  deepconfuse: { rounds: 3, 'cls-epochs': 2, 'batch-size': 64, 'lr-gen': 1e-2, 'gen-width': 4, classifier: 'tiny' },
  shortcutgen: { epochs: 10, 'batch-size': 64, lr: 1e-2, 'gen-width': 4, discriminator: 'tiny-cnn' },
  rem: { 'train-steps': 15, 'batch-size': 128, model: 'tiny-cnn', lr: 0.05, 'pgd-steps': 4, 'adv-steps': 1, samples: 1, 'crop-padding': 1, flip: false },
};

/** Fewer steps for the reproducibility check (same code paths). */
const SHORT: Readonly<Record<string, Record<string, number>>> = {
  deepconfuse: { rounds: 1, 'max-steps': 2 },
  shortcutgen: { epochs: 1, 'max-steps': 2 },
  rem: { 'train-steps': 2 },
};

const EPS = 32 / 255;
const N_TRAIN = 512;
const cpu = () => { const u = process.cpuUsage(); return Math.round((u.user + u.system) / 1000); };
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const maxDiff = (a: ImageDataset, b: ImageDataset) => {
  let m = 0;
  for (let i = 0; i < a.images.length; i++) m = Math.max(m, Math.abs(a.images[i]! - b.images[i]!));
  return m;
};

test('DeepConfuse, ShortcutGen, REM: budget, no leaks, reproducible, and they lower victim accuracy', (t) => {
  const templates = syntheticTemplates(123);
  const train = syntheticDataset(N_TRAIN, 1, templates);
  const testSet = syntheticDataset(512, 2, templates);
  templates.dispose();
  const vo = { model: 'tiny-cnn', epochs: 5, milestones: [], batchSize: 32, lr: 0.05, cropPadding: 0, flip: false, seed: 1 };
  const curve = (ds: ImageDataset) => trainVictim(ds, testSet, vo).epochs.map((e) => e.testAcc);
  let t0 = cpu();
  const clean = curve(train);
  const { dataset: noisy } = runAttack('random', train, { eps: EPS, seed: 5, options: { kind: 'sign' } });
  const ctrl = curve(noisy);
  t.diagnostic(`clean ${clean.map((v) => v.toFixed(1))} | random ${ctrl.map((v) => v.toFixed(1))} (${cpu() - t0} cpu ms)`);
  assert.ok(clean[clean.length - 1]! > 85, `the clean task is learnable: ${clean}`);
  const small = subsetByIndices(train, Array.from({ length: 256 }, (_, i) => i));
  for (const name of Object.keys(QUICK)) {
    t0 = cpu();
    const before = memory().tensors;
    // In a scope: poisonDataset leaves its per-batch index tensors to the caller's scope; the attack's own
    // long-lived tensors (generators, noise tables, optimiser state) must all be freed by dispose().
    const { dataset, report } = scope(() => runAttack(name, train, { eps: EPS, seed: 3, options: QUICK[name] }));
    assert.equal(memory().tensors, before, `${name} leaks tensors`);
    const bound = Math.floor(EPS * 255 + 1e-6);
    assert.ok(report.linf255 <= bound && maxDiff(dataset, train) <= bound, `${name} exceeds the budget`);
    // Judged on the per-epoch mean over two attack seeds: a quick run of these generators varies with the seed and
    // with the CPU's float rounding (DeepConfuse, seed 3 alone: mean 61.3 where first measured, 68.5 on an AMD EPYC).
    const second = scope(() => runAttack(name, train, { eps: EPS, seed: 4, options: QUICK[name] })).dataset;
    const t1 = cpu();
    const curves = [curve(dataset), curve(second)];
    const prot = curves[0]!.map((_, i) => mean(curves.map((c) => c[i]!)));
    const msg = `${name}: clean ${clean.map((v) => v.toFixed(1))} | protected ${prot.map((v) => v.toFixed(1))} | random ${ctrl.map((v) => v.toFixed(1))}`;
    t.diagnostic(`${msg} (cpu ms: attack ${t1 - t0}, victim ${cpu() - t1}; mean |δ| of seed 3 ${report.meanAbs255.toFixed(1)}/255)`);
    // Measured (one libtorch thread, AMD EPYC with AVX-512, 2026-12-01): mean accuracy over the 5 epochs clean 75.0,
    // random 71.4, and over two attack seeds deepconfuse 62.2, shortcutgen 58.7, rem 63.6.
    assert.ok(mean(prot) <= mean(clean) - 6, `protected training is clearly worse over the run: ${msg}`);
    assert.ok(mean(prot) <= mean(ctrl) - 4, `the attack beats the random-noise control: ${msg}`);
    // Same seed → same bytes (on a subset, to keep the test short).
    const t2 = cpu();
    const a = scope(() => runAttack(name, small, { eps: EPS, seed: 9, options: { ...QUICK[name], ...SHORT[name] } }).dataset);
    const b = scope(() => runAttack(name, small, { eps: EPS, seed: 9, options: { ...QUICK[name], ...SHORT[name] } }).dataset);
    assert.deepEqual(a.images, b.images, `${name} is not reproducible from its seed`);
    t.diagnostic(`${name} reproducibility check ${cpu() - t2} cpu ms`);
  }
});

test('EOT maps (REM) reproduce the victim augmentation of augment.ts and are differentiable', () => {
  const before = memory().tensors;
  scope(() => {
    const x = rand([6, 2, 5, 5], { generator: new Generator(1) });
    const o = { cropPadding: 2, flip: true };
    const ref = augmentBatch(x, o, new Generator(4));
    const index = sampleAugmentation(x.shape, o, new Generator(4));
    const xr = x.detach().requiresGrad_(true);
    const out = applyAugmentation(xr, index);
    assert.equal(out.sub(ref).abs().max().item(), 0);
    const [gx] = grad(out.sum(), [xr]);
    // Each output pixel reads one input pixel or the zero padding: the gradient counts the reads.
    assert.equal(gx!.sum().item(), index.gt(0).sum().item());
  });
  assert.equal(memory().tensors, before);
});
