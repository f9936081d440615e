// `gue demo`: the README's main job on the embedded default (Fashion-MNIST from Debian's dataset-fashion-mnist):
// protect a training subset with the shipped generator (assets/generators/; `--train` trains a fresh one,
// `--generator` takes any other), train one victim on clean and one on protected data, and print the two clean
// test accuracies side by side.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from './main.js';
import { UsageError } from './args.js';
import { DEVICE_FLAG, shippedTorchBaseOr } from './common.js';
import { FASHION_MNIST_DIR, loadIdxDataset } from '../data/index.js';
import { trainGenerator, loadGenerator, generatorSubset } from '../game/index.js';
import { poisonDataset, generatorPerturbation } from '../attacks/index.js';
import { trainVictim, scaledMilestones } from '../victim/index.js';
import { numBatches } from '../data/index.js';
import { engineInfo } from '../engine/index.js';
import { CLASSIFIERS } from '../nn/models/index.js';
import { DEMO_SHIPPED_GENERATOR, shippedGenerators } from '../protect/open.js';
import { generatorBase } from '../protect/torch-backend.js';
import type { UNet } from '../nn/models/unet.js';

export const demoCommand: Command = {
  spec: {
    name: 'demo',
    summary: 'protect Fashion-MNIST with the shipped GUE generator (or --train a fresh one) and compare victims (clean vs protected)',
    usage: 'gue demo [--train-size N] [--victim-epochs N] [--generator PATH | --train [--gen-steps N] [--eps E] [--out DIR]] [--json]',
    flags: {
      'train-size': { type: 'int', description: 'training images (seeded subset of the 60k)', default: 10000, min: 256 },
      generator: { type: 'string', description: `generator to protect with: a \`gue train\` run folder, a <base> of .safetensors + .json, or the name of a shipped one (default: ${DEMO_SHIPPED_GENERATOR}, the class-conditional 8/255 generator; fmnist-28x28-w16 is the label-free U-Net)` },
      train: { type: 'boolean', description: 'train a fresh generator on the subset first instead of using a trained one' },
      'gen-steps': { type: 'int', description: 'with --train: outer steps of the game', default: 100, min: 1 },
      surrogate: { type: 'string', description: 'with --train: surrogate classifier of the game', default: 'half-cnn', choices: Object.keys(CLASSIFIERS) },
      'victim-epochs': { type: 'int', description: 'epochs of each victim', default: 4, min: 1 },
      eps: { type: 'number', description: "with --train: L∞ budget in 1/255 units (a trained generator uses its own)", default: 8, min: 0.5, max: 255 },
      seed: { type: 'int', description: 'seed', default: 3, min: 0 },
      out: { type: 'string', description: 'with --train: keep the generator run folder here (default: a temporary folder, removed)' },
      'data-dir': { type: 'string', description: 'folder with the Fashion-MNIST IDX files', default: FASHION_MNIST_DIR },
      ...DEVICE_FLAG,
    },
  },
  run({ flags, given, out }) {
    const t0 = Date.now();
    const fresh = flags.train === true;
    if (fresh && given.has('generator')) throw new UsageError('--generator and --train exclude each other: --train trains a fresh generator');
    if (!fresh) {
      const onlyTrain = ['gen-steps', 'surrogate', 'eps', 'out'].filter((f) => given.has(f));
      if (onlyTrain.length > 0) throw new UsageError(`${onlyTrain.map((f) => `--${f}`).join(', ')} ${onlyTrain.length > 1 ? 'apply' : 'applies'} only with --train (a trained generator keeps its own settings)`);
    }
    const genFlag = flags.generator as string | undefined;
    let genPath = genFlag === undefined ? undefined : shippedTorchBaseOr(genFlag, 'the demo trains victims with libtorch');
    if (!fresh && genPath === undefined) {
      const all = shippedGenerators().filter((g) => g.torch !== undefined);
      const shipped = all.find((g) => g.name === DEMO_SHIPPED_GENERATOR) ?? all[0];
      if (!shipped) throw new UsageError('no shipped generator found in assets/generators/; pass --generator PATH or --train');
      genPath = shipped.torch!;
    }
    const dir = flags['data-dir'] as string;
    const full = loadIdxDataset('train', dir);
    const test = loadIdxDataset('test', dir);
    const n = flags['train-size'] as number;
    const seed = flags.seed as number;
    const train = n < full.labels.length ? generatorSubset(full, n / full.labels.length, seed) : full;
    const device = flags.device as string;
    const steps = flags['gen-steps'] as number;
    const batchSize = 256;
    const runDir = fresh ? ((flags.out as string | undefined) ?? join(mkdtempSync(join(tmpdir(), 'gue-demo-')), 'run')) : null;
    try {
      let gen: UNet;
      let eps: number;
      let genSteps: number | null;
      let genLabel: string;
      let genArch = 'unet';
      if (runDir !== null) {
        eps = (flags.eps as number) / 255;
        const epochs = Math.ceil(steps / numBatches(train.labels.length, { batchSize }));
        out.sink({ type: 'log', level: 'info', message: `1/4 training a GUE generator: ${steps} outer steps on ${train.labels.length} Fashion-MNIST images (U-Net width 16, ${flags.surrogate as string} surrogate, fast path)` });
        trainGenerator(train, {
          eps, epochs, maxSteps: steps, batchSize, surrogate: flags.surrogate as string, genWidth: 16, seed, device, path: 'fast', checkpointEvery: 1e9,
        }, runDir, false, out.sink);
        ({ gen } = loadGenerator(join(runDir, 'generator'), device));
        genSteps = steps;
        genLabel = `a fresh generator (${steps} steps)`;
      } else {
        let meta;
        try {
          ({ gen, meta } = loadGenerator(generatorBase(genPath!), device));
        } catch (e) {
          throw new UsageError(`cannot open the generator ${genPath}: ${(e as Error).message}`);
        }
        if (meta.channels !== train.shape[0]) {
          gen.dispose();
          throw new UsageError(`the generator ${genPath} takes ${meta.channels}-channel images; Fashion-MNIST has ${train.shape[0]}`);
        }
        eps = meta.eps;
        genSteps = typeof meta.steps === 'number' ? meta.steps : null;
        genArch = meta.arch ?? 'unet';
        const kind = genArch === 'class-templates' ? 'class-conditional: one learned pattern per class' : genArch === 'templates' ? 'template generator' : null;
        const about = [genSteps !== null ? `${genSteps} steps` : null, kind].filter((t) => t !== null);
        genLabel = `${given.has('generator') ? 'generator' : 'the shipped generator'} ${genPath}${about.length > 0 ? ` (${about.join(', ')})` : ''}`;
        out.sink({ type: 'log', level: 'info', message: `1/4 using ${genLabel}` });
      }
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
        `GUE demo — Fashion-MNIST, ${train.labels.length} training images, ε = ${+(eps * 255).toFixed(2)}/255, ${genLabel}`,
        `protected data: L∞ ${report.linf255}/255 after quantization, mean |δ| ${report.meanAbs255.toFixed(2)}/255`,
        '',
        `${pad('victim trained on', 20)}${pad('final acc', 12)}worst epoch`,
        `${pad('clean data', 20)}${pad(clean.finalTestAcc.toFixed(2) + ' %', 12)}${clean.worstTestAcc.toFixed(2)} %`,
        `${pad('protected data', 20)}${pad(pois.finalTestAcc.toFixed(2) + ' %', 12)}${pois.worstTestAcc.toFixed(2)} %`,
        '',
        `(clean Fashion-MNIST test set; small CNN victim, ${ve} epochs; ${secs.toFixed(0)} s on ${info.threads} threads)`,
        // Said from the measured gap, not assumed: on Fashion-MNIST the authors' solver has not protected at any budget we ran.
        clean.finalTestAcc - pois.finalTestAcc < 10
          ? 'The protected data did not stop this victim from learning (less than 10 points below clean). docs/study.md has what we measured and why.'
          : `The victim fit the protected data (train accuracy ${pois.epochs[pois.epochs.length - 1]!.trainAcc.toFixed(2)} %) and lost ${(clean.finalTestAcc - pois.finalTestAcc).toFixed(2)} points on clean test images. docs/study.md has how this compares (random noise, class-wise EM).`,
      ].join('\n');
      out.result({
        clean_acc: clean.finalTestAcc, poisoned_acc: pois.finalTestAcc, clean_worst: clean.worstTestAcc, poisoned_worst: pois.worstTestAcc,
        clean_curve: clean.epochs.map((e) => e.testAcc), poisoned_curve: pois.epochs.map((e) => e.testAcc),
        linf255: report.linf255, eps255: +(eps * 255).toFixed(4), train_size: train.labels.length, generator: runDir !== null ? null : genPath, generator_arch: genArch, gen_steps: genSteps, victim_epochs: ve, seconds: secs,
      }, human);
      return 0;
    } finally {
      if (runDir !== null && flags.out === undefined) rmSync(join(runDir, '..'), { recursive: true, force: true });
    }
  },
};
