// End to end on a small seeded synthetic task: a GUE generator trained by our solver protects its training
// set — a victim trained on the protected data does clearly worse on clean test data than one trained on
// clean data — while random ±ε noise (the control) does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, rand, randn } from '../src/engine/index.js';
import { syntheticDataset } from './helpers/synthetic.js';
import { trainGenerator, loadGenerator } from '../src/game/index.js';
import { poisonDataset, generatorPerturbation } from '../src/attacks/index.js';
import { trainVictim } from '../src/victim/index.js';
import type { ImageDataset } from '../src/data/index.js';

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

test('GUE protection lowers victim accuracy on a seeded synthetic task; random noise does not', (t) => {
  const templates = randn([4, 1, 8, 8], { generator: new Generator(123) }).sign().keep();
  const train = syntheticDataset(2048, 1, templates);
  const test = syntheticDataset(1024, 2, templates);
  const eps = 32 / 255;
  const dir = mkdtempSync(join(tmpdir(), 'gue-protect-'));
  try {
    trainGenerator(train, { eps, surrogate: 'tiny-cnn', genWidth: 4, batchSize: 128, epochs: 100, maxSteps: 450, seed: 1, path: 'fast', lrInner: 1e-3, checkpointEvery: 1e9 }, dir);
    const { gen } = loadGenerator(join(dir, 'generator'));
    const { dataset: protectedSet, report } = poisonDataset(train, generatorPerturbation(gen, eps), { eps, quantization: 'round', batchSize: 512, device: 'cpu' });
    gen.dispose();
    assert.ok(report.linf255 <= 32);
    const noiseGen = new Generator(77);
    const { dataset: noisy } = poisonDataset(train, (x) => rand(x.shape, { generator: noiseGen }).lt(0.5).to('float32').mul(2 * eps).sub(eps), { eps, quantization: 'round', batchSize: 512, device: 'cpu' });

    // Per-epoch accuracy averaged over two victim seeds (one victim's curve is noisy).
    const curve = (ds: ImageDataset) => {
      const runs = [1, 2].map((seed) => trainVictim(ds, test, { model: 'tiny-cnn', epochs: 6, milestones: [], batchSize: 64, lr: 0.01, cropPadding: 0, flip: false, seed }).epochs.map((e) => e.testAcc));
      return runs[0]!.map((_, i) => mean(runs.map((r) => r[i]!)));
    };
    const clean = curve(train);
    const prot = curve(protectedSet);
    const ctrl = curve(noisy);
    const msg = `clean ${clean.map((v) => v.toFixed(1))} | protected ${prot.map((v) => v.toFixed(1))} | random noise ${ctrl.map((v) => v.toFixed(1))}`;
    t.diagnostic(msg);
    assert.ok(clean[clean.length - 1]! > 90, `the clean task is learnable: ${msg}`);
    // Measured (450 steps, AMD EPYC, 2026-11-30): mean gap 11.2 points, final gap 6.1; with 300 steps the final gap
    // was 2 points on that CPU (and 8 on the machine this test was written on): the generator's strength varies
    // with the CPU's float rounding, hence the longer run and the two victim seeds.
    assert.ok(mean(prot) <= mean(clean) - 6, `protected training is clearly worse over the run: ${msg}`);
    assert.ok(prot[prot.length - 1]! <= clean[clean.length - 1]! - 3, `protected training is worse at the end: ${msg}`);
    // Measured: random noise costs ≈ 2 points on average, GUE ≈ 11.
    assert.ok(mean(clean) - mean(ctrl) <= (mean(clean) - mean(prot)) / 2, `random ±ε noise hurts at most half as much as GUE: ${msg}`);
    assert.ok(mean(prot) <= mean(ctrl) - 5, `GUE beats the random-noise control: ${msg}`);
  } finally {
    templates.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
