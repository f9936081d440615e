// `gue demo`: the README's main job on the embedded default (Fashion-MNIST from Debian's dataset-fashion-mnist):
// train a GUE generator on a subset, protect that training set, train one victim on clean and one on protected
// data, and print the two clean test accuracies side by side.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from './main.js';
import { DEVICE_FLAG } from './common.js';
import { FASHION_MNIST_DIR, loadIdxDataset } from '../data/index.js';
import { trainGenerator, loadGenerator, generatorSubset } from '../game/index.js';
import { poisonDataset, generatorPerturbation } from '../attacks/index.js';
import { trainVictim, scaledMilestones } from '../victim/index.js';
import { numBatches } from '../data/index.js';
import { engineInfo } from '../engine/index.js';
import { CLASSIFIERS } from '../nn/models/index.js';

export const demoCommand: Command = {
  spec: {
    name: 'demo',
    summary: 'train a GUE generator on Fashion-MNIST, protect the data, and compare victims (clean vs protected)',
    usage: 'gue demo [--train-size N] [--gen-steps N] [--victim-epochs N] [--out DIR] [--json]',
    flags: {
      'train-size': { type: 'int', description: 'training images (seeded subset of the 60k)', default: 10000, min: 256 },
      'gen-steps': { type: 'int', description: 'outer steps of the game', default: 100, min: 1 },
      surrogate: { type: 'string', description: 'surrogate classifier of the game', default: 'half-cnn', choices: Object.keys(CLASSIFIERS) },
      'victim-epochs': { type: 'int', description: 'epochs of each victim', default: 4, min: 1 },
      eps: { type: 'number', description: 'L∞ budget in 1/255 units', default: 8, min: 0.5, max: 255 },
      seed: { type: 'int', description: 'seed', default: 3, min: 0 },
      out: { type: 'string', description: 'keep the generator run folder here (default: a temporary folder, removed)' },
      'data-dir': { type: 'string', description: 'folder with the Fashion-MNIST IDX files', default: FASHION_MNIST_DIR },
      ...DEVICE_FLAG,
    },
  },
  run({ flags, out }) {
    const t0 = Date.now();
    const dir = flags['data-dir'] as string;
    const full = loadIdxDataset('train', dir);
    const test = loadIdxDataset('test', dir);
    const n = flags['train-size'] as number;
    const seed = flags.seed as number;
    const train = n < full.labels.length ? generatorSubset(full, n / full.labels.length, seed) : full;
    const eps = (flags.eps as number) / 255;
    const device = flags.device as string;
    const steps = flags['gen-steps'] as number;
    const batchSize = 256;
    const epochs = Math.ceil(steps / numBatches(train.labels.length, { batchSize }));
    const runDir = (flags.out as string | undefined) ?? join(mkdtempSync(join(tmpdir(), 'gue-demo-')), 'run');
    out.sink({ type: 'log', level: 'info', message: `1/4 training a GUE generator: ${steps} outer steps on ${train.labels.length} Fashion-MNIST images (U-Net width 16, ${flags.surrogate as string} surrogate, fast path)` });
    try {
      trainGenerator(train, {
        eps, epochs, maxSteps: steps, batchSize, surrogate: flags.surrogate as string, genWidth: 16, seed, device, path: 'fast', checkpointEvery: 1e9,
      }, runDir, false, out.sink);
      const { gen } = loadGenerator(join(runDir, 'generator'), device);
      out.sink({ type: 'log', level: 'info', message: '2/4 protecting the training set' });
      let protectedSet;
      let report;
      try {
        ({ dataset: protectedSet, report } = poisonDataset(train, generatorPerturbation(gen, eps), { eps, quantization: 'round', batchSize: 500, device }, out.sink));
      } finally {
        gen.dispose();
      }
      const ve = flags['victim-epochs'] as number;
      const vo = { model: 'small-cnn', epochs: ve, milestones: scaledMilestones(ve), batchSize: 128, lr: 0.01, cropPadding: 2, flip: true, seed: 1, device };
      out.sink({ type: 'log', level: 'info', message: `3/4 training a victim on clean data (${ve} epochs)` });
      const clean = trainVictim(train, test, vo, out.sink, 'clean victim');
      out.sink({ type: 'log', level: 'info', message: `4/4 training a victim on protected data (${ve} epochs)` });
      const pois = trainVictim(protectedSet, test, vo, out.sink, 'protected victim');
      const secs = (Date.now() - t0) / 1000;
      const info = engineInfo();
      const pad = (s: string, k: number) => s.padEnd(k);
      const human = [
        '',
        `GUE demo — Fashion-MNIST, ${train.labels.length} training images, ε = ${flags.eps as number}/255, generator ${steps} steps`,
        `protected data: L∞ ${report.linf255}/255 after quantization, mean |δ| ${report.meanAbs255.toFixed(2)}/255`,
        '',
        `${pad('victim trained on', 20)}${pad('final acc', 12)}worst epoch`,
        `${pad('clean data', 20)}${pad(clean.finalTestAcc.toFixed(2) + ' %', 12)}${clean.worstTestAcc.toFixed(2)} %`,
        `${pad('protected data', 20)}${pad(pois.finalTestAcc.toFixed(2) + ' %', 12)}${pois.worstTestAcc.toFixed(2)} %`,
        '',
        `(clean Fashion-MNIST test set; small CNN victim, ${ve} epochs; ${secs.toFixed(0)} s on ${info.threads} threads)`,
        steps < 2000 ? 'A short game barely protects; the paper’s budget is ~9,800 outer steps. Use --gen-steps or `gue train` for longer runs.' : '',
      ].join('\n');
      out.result({
        clean_acc: clean.finalTestAcc, poisoned_acc: pois.finalTestAcc, clean_worst: clean.worstTestAcc, poisoned_worst: pois.worstTestAcc,
        clean_curve: clean.epochs.map((e) => e.testAcc), poisoned_curve: pois.epochs.map((e) => e.testAcc),
        linf255: report.linf255, train_size: train.labels.length, gen_steps: steps, victim_epochs: ve, seconds: secs,
      }, human);
      return 0;
    } finally {
      if (flags.out === undefined) rmSync(join(runDir, '..'), { recursive: true, force: true });
    }
  },
};
