// Registry-wide contract for availability attacks: every attack in ATTACKS, with the quick options of
// QUICK below, on a small seeded synthetic task (test/helpers/synthetic.ts):
//  (a) respects its budget on the stored uint8 bytes (L∞, and L2 where the attack supports it);
//  (b) lowers a victim's clean test accuracy clearly compared with clean training — except the `random`
//      control, which must not lower it by much. Damage is measured under the attack's primary norm
//      (attack.norms[0]: the paper's, e.g. L2 for LSP and AR);
//  (c) frees every tensor (prepare + protect + dispose leaves memory().tensors unchanged).
// A newly registered attack without a QUICK entry fails the test with a message saying so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memory, setNumThreads } from '../src/engine/index.js';
import { ATTACKS, runAttack } from '../src/attacks/index.js';
import { trainVictim } from '../src/victim/index.js';
import type { ImageDataset } from '../src/data/index.js';
import { syntheticDataset, syntheticTemplates } from './helpers/synthetic.js';

// Tiny models on 8×8 images: one libtorch thread is far faster than two on a loaded 2-core machine
// (measured: a tiny-cnn victim took 84 s with 2 threads under load, 1.9 s with 1).
setNumThreads(1);

/** Quick options per attack: seconds on 2 busy cores for the task below. */
export const QUICK: Record<string, Record<string, unknown>> = {
  random: {},
  'random-class': {},
  'em-sample': { model: 'tiny-cnn', trainSteps: 10, pgdSteps: 5, stepRatio: 0.3, maxRounds: 2, batchSize: 128 },
  'em-class': { model: 'tiny-cnn', trainSteps: 10, pgdSteps: 5, stepRatio: 0.3, maxRounds: 2, batchSize: 128 },
  tap: { model: 'tiny-cnn', trainEpochs: 4, lr: 0.05, steps: 20, stepRatio: 0.25, craftBatch: 512 },
  lsp: { patchSize: 2 },
  ar: {},
  deepconfuse: { rounds: 3, clsEpochs: 2, batchSize: 64, lrGen: 1e-2, genWidth: 4, classifier: 'tiny' },
  shortcutgen: { epochs: 10, batchSize: 64, lr: 3e-2, genWidth: 4, discriminator: 'tiny-cnn' },
  rem: { trainSteps: 15, batchSize: 128, model: 'tiny-cnn', lr: 0.05, pgdSteps: 4, advSteps: 1, samples: 1, cropPadding: 1, flip: false },
};

/**
 * Attacks whose quick run varies a lot with the attack seed (and with the CPU's float rounding) are judged on the
 * victims' mean over two attack seeds: DeepConfuse's victim got 68.8 % and 56.7 % with seeds 7 and 8 on an AMD EPYC
 * (clean 78.6 %), and 62.6 % with seed 7 on the machine the contract was first run on. ShortcutGen's victim got
 * 69.2 % with seed 7 alone on another AMD EPYC (clean 79.0 %; 2026-12-01), where it had passed on earlier machines.
 */
const DAMAGE_SEEDS: Record<string, number[]> = { deepconfuse: [7, 8], shortcutgen: [7, 8] };

// A faint template (±0.05) under σ = 0.15 noise: learnable (clean ≈ 78 % after 8 epochs) but not trivially,
// so a shortcut at the budget competes with the real features, as on real data.
const EPS = 32 / 255;
/** L2 radius 1.0: the LSP/AR papers' value; the per-pixel RMS of 32/255 on 8×8 images (32/255 · √64 ≈ 1.0). */
const EPS_L2 = 1.0;
const SIZE = { classes: 4, size: 8, amplitude: 0.05, sigma: 0.15 };
const VICTIM = { model: 'tiny-cnn', epochs: 8, milestones: [5], batchSize: 64, lr: 0.02, cropPadding: 0, flip: false };
const SEEDS = [1, 2];

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

function maxStoredL2(clean: ImageDataset, prot: ImageDataset): number {
  const per = clean.shape[0] * clean.shape[1] * clean.shape[2];
  let worst = 0;
  for (let s = 0; s < clean.labels.length; s++) {
    let ss = 0;
    for (let i = s * per; i < (s + 1) * per; i++) {
      const d = prot.images[i]! - clean.images[i]!;
      ss += d * d;
    }
    worst = Math.max(worst, ss);
  }
  return Math.sqrt(worst) / 255;
}

function maxStoredLinf255(clean: ImageDataset, prot: ImageDataset): number {
  let m = 0;
  for (let i = 0; i < clean.images.length; i++) m = Math.max(m, Math.abs(prot.images[i]! - clean.images[i]!));
  return m;
}

test('every registered attack has quick test options', () => {
  for (const name of Object.keys(ATTACKS)) {
    assert.ok(name in QUICK, `attack '${name}' is registered but has no QUICK entry in test/attacks-contract.test.ts; add quick options so the contract covers it`);
  }
});

test('attack contract: budget after quantization, victim damage, no leaks', (t) => {
  const templates = syntheticTemplates(123, SIZE);
  const train = syntheticDataset(768, 1, templates, SIZE);
  const testSet = syntheticDataset(512, 2, templates, SIZE);
  try {
    const victimAcc = (ds: ImageDataset) => mean(SEEDS.map((seed) => mean(trainVictim(ds, testSet, { ...VICTIM, seed }).epochs.slice(-3).map((e) => e.testAcc))));
    const clean = victimAcc(train);
    t.diagnostic(`clean: ${clean.toFixed(1)} %`);
    assert.ok(clean > 65, `the clean synthetic task is learnable (${clean.toFixed(1)} %)`);
    for (const [name, attack] of Object.entries(ATTACKS)) {
      const quick = QUICK[name];
      assert.ok(quick, `no QUICK entry for '${name}'`);
      // (a) L∞ budget on stored bytes, (c) no leaks.
      const before = memory().tensors;
      const r = runAttack(name, train, { eps: EPS, norm: 'linf', seed: 7, options: quick, batchSize: 256 });
      assert.equal(memory().tensors, before, `${name}: tensors leaked (${memory().tensors - before})`);
      const linf = maxStoredLinf255(train, r.dataset);
      assert.ok(linf <= 32, `${name}: stored L∞ ${linf}/255 > 32/255`);
      assert.equal(r.report.linf255, linf, `${name}: the report states the stored L∞`);
      assert.ok(r.report.changed > 0.05, `${name}: the attack changes pixels (${r.report.changed})`);
      assert.deepEqual(Array.from(r.dataset.labels), Array.from(train.labels), `${name}: labels untouched`);
      if (attack.norms.includes('l2')) {
        const b = memory().tensors;
        const r2 = runAttack(name, train, { eps: EPS_L2, norm: 'l2', seed: 7, options: quick, batchSize: 256 });
        assert.equal(memory().tensors, b, `${name} (L2): tensors leaked`);
        const l2 = maxStoredL2(train, r2.dataset);
        assert.ok(l2 <= EPS_L2, `${name}: stored L2 ${l2} > ${EPS_L2}`);
        assert.ok(Math.abs(r2.report.l2Max - l2) < 1e-9, `${name}: the report states the stored L2 (${r2.report.l2Max} vs ${l2})`);
        assert.ok(l2 > EPS_L2 * 0.8, `${name}: the L2 budget is used (${l2} of ${EPS_L2})`);
      }
      // (b) victim damage, under the attack's primary norm.
      const primary = attack.norms[0]!;
      const damaging = primary === 'linf' ? r : runAttack(name, train, { eps: EPS_L2, norm: primary, seed: 7, options: quick, batchSize: 256 });
      const extra = (DAMAGE_SEEDS[name] ?? [7]).slice(1).map((seed) => runAttack(name, train, { eps: primary === 'linf' ? EPS : EPS_L2, norm: primary, seed, options: quick, batchSize: 256 }));
      const acc = mean([damaging, ...extra].map((d) => victimAcc(d.dataset)));
      t.diagnostic(`${name} (${primary}): victim ${acc.toFixed(1)} % (clean ${clean.toFixed(1)} %) ${JSON.stringify(r.meta).slice(0, 120)}`);
      if (name === 'random') assert.ok(acc >= clean - 5, `random noise must not lower accuracy by much: ${acc.toFixed(1)} vs clean ${clean.toFixed(1)}`);
      else assert.ok(acc <= clean - 12, `${name} must lower victim accuracy clearly: ${acc.toFixed(1)} vs clean ${clean.toFixed(1)}`);
    }
  } finally {
    templates.dispose();
  }
});

test('runAttack rejects unknown attacks, unknown options, bad values and unsupported norms', () => {
  const templates = syntheticTemplates(5, SIZE);
  const train = syntheticDataset(64, 1, templates, SIZE);
  try {
    assert.throws(() => runAttack('nope', train, { eps: EPS }), /unknown attack 'nope'; available: random/);
    assert.throws(() => runAttack('em-sample', train, { eps: EPS, options: { bogus: 1 } }), /unknown option 'bogus' for attack 'em-sample'/);
    assert.throws(() => runAttack('tap', train, { eps: EPS, options: { steps: 'many' } }), /option 'steps' of attack 'tap' must be a number/);
    assert.throws(() => runAttack('tap', train, { eps: EPS, norm: 'l2' }), /supports linf, not l2/);
    assert.throws(() => runAttack('lsp', train, { eps: EPS, options: { patchSize: 8 } }), /patchSize/);
  } finally {
    templates.dispose();
  }
});

test('same seed, same protected data', () => {
  const templates = syntheticTemplates(9, SIZE);
  const train = syntheticDataset(128, 3, templates, SIZE);
  try {
    for (const name of ['lsp', 'ar', 'em-class']) {
      const a = runAttack(name, train, { eps: EPS, seed: 4, options: { ...QUICK[name], ...(name === 'em-class' ? { maxRounds: 1 } : {}) } });
      const b = runAttack(name, train, { eps: EPS, seed: 4, options: { ...QUICK[name], ...(name === 'em-class' ? { maxRounds: 1 } : {}) } });
      assert.deepEqual(a.dataset.images, b.dataset.images, name);
    }
  } finally {
    templates.dispose();
  }
});
