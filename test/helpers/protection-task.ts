// The synthetic protection task shared by test/protection.test.ts and scripts/study-synthetic.mjs: a GUE generator
// trained on a seeded 4-class 8×8 task (ε = 32/255, tiny CNN surrogate, U-Net width 4, batch 128, fast path, inner
// lr 1e-3; `generator` options override), its protected training set, a random ±ε control, and tiny-CNN victims
// (6 epochs) trained on clean, protected and random data, one per victim seed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, rand, randn } from '../../src/engine/index.js';
import { trainGenerator, loadGenerator, type TrainOptions } from '../../src/game/index.js';
import { poisonDataset, generatorPerturbation } from '../../src/attacks/index.js';
import { trainVictim } from '../../src/victim/index.js';
import type { ImageDataset } from '../../src/data/index.js';
import { syntheticDataset } from './synthetic.js';

export interface ProtectionTaskResult {
  /** L∞ of the protected set on its stored bytes, in 1/255. */
  linf255: number;
  /** Per victim seed, the test accuracy after every epoch. */
  clean: number[][];
  protected: number[][];
  random: number[][];
}

export function runProtectionTask(generator: Partial<TrainOptions> = {}, victimSeeds: number[] = [1, 2]): ProtectionTaskResult {
  const templates = randn([4, 1, 8, 8], { generator: new Generator(123) }).sign().keep();
  const train = syntheticDataset(2048, 1, templates);
  const test = syntheticDataset(1024, 2, templates);
  // The budget the generator trains at is the budget the data is protected at, and the random control's:
  // `generator.eps` (the study script's --set eps=…) overrides all three.
  const eps = generator.eps ?? 32 / 255;
  const dir = mkdtempSync(join(tmpdir(), 'gue-protect-'));
  try {
    trainGenerator(train, { eps, surrogate: 'tiny-cnn', genWidth: 4, batchSize: 128, epochs: 100, maxSteps: 300, seed: 1, path: 'fast', lrInner: 1e-3, checkpointEvery: 1e9, ...generator }, dir);
    const { gen } = loadGenerator(join(dir, 'generator'));
    const { dataset: prot, report } = poisonDataset(train, generatorPerturbation(gen, eps), { eps, quantization: 'round', batchSize: 512, device: 'cpu' });
    gen.dispose();
    const noiseGen = new Generator(77);
    const { dataset: noisy } = poisonDataset(train, (x) => rand(x.shape, { generator: noiseGen }).lt(0.5).to('float32').mul(2 * eps).sub(eps), { eps, quantization: 'round', batchSize: 512, device: 'cpu' });
    const r: ProtectionTaskResult = { linf255: report.linf255, clean: [], protected: [], random: [] };
    for (const seed of victimSeeds) {
      const curve = (ds: ImageDataset) => trainVictim(ds, test, { model: 'tiny-cnn', epochs: 6, milestones: [], batchSize: 64, lr: 0.01, cropPadding: 0, flip: false, seed }).epochs.map((e) => e.testAcc);
      r.clean.push(curve(train));
      r.protected.push(curve(prot));
      r.random.push(curve(noisy));
    }
    return r;
  } finally {
    templates.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
