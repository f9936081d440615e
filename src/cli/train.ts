// `gue train`: trains a GUE generator by solving the attacker–victim game; writes a resumable run folder.
// `--game at` switches on the GUE-AT defaults of the authors' gue_adv.py (TRADES lower loss, β = 1, ε_a = 4/255,
// generator SGD momentum 0.9 and weight decay 5e-4, 150 epochs, seed 1, both lrs ×0.1 at epochs 120 and 140;
// with --epochs N the milestones scale to 80 % and 93 % of N). Flags given explicitly override the preset.
import type { Command } from './main.js';
import { UsageError } from './args.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_FLAGS, DEVICE_FLAG, GAME_FLAGS, checkGameFlags, gameOptions, loadSplit, parseMilestones } from './common.js';
import { GENERATOR_ARCHS, trainGenerator, type GeneratorArch } from '../game/index.js';
import { CLASSIFIERS } from '../nn/models/index.js';

// Option name → flag name, for the resume check.
const FLAG_OF: Record<string, string> = {
  eps: 'eps', innerSteps: 'inner-steps', eta: 'eta', lrCls: 'lr-cls', lrGen: 'lr-gen', lrInner: 'lr-inner', genMomentum: 'gen-momentum',
  genWeightDecay: 'gen-weight-decay', payoff: 'payoff', clipNorm: 'clip-norm', path: 'path', batchSize: 'batch-size', surrogate: 'surrogate',
  genWidth: 'gen-width', genArch: 'gen-arch', fraction: 'fraction', seed: 'seed', epochs: 'epochs', lowerLoss: 'lower-loss', atEps: 'at-eps', atSteps: 'at-steps',
  tradesBeta: 'trades-beta', genMilestones: 'gen-milestones', clsMilestones: 'cls-milestones', resetEvery: 'reset-every', genGrad: 'gen-grad', clsGrad: 'cls-grad', routeWeight: 'route-weight', genOptim: 'gen-optim', gameAugment: 'game-augment',
  proxyEvery: 'proxy-every', proxyTrainSize: 'proxy-train-size', proxyEpochs: 'proxy-epochs', proxyModel: 'proxy-model',
};

/** The GUE-AT preset (authors' gue_adv.py), as flag values. */
function gameAtPreset(epochs: number | undefined): Record<string, string | number | string[]> {
  const e = epochs ?? 150;
  const ms = e === 150 ? [120, 140] : [Math.round(e * 0.8), Math.round((e * 14) / 15)].filter((m, i, a) => m >= 1 && m < e && a.indexOf(m) === i);
  const list = ms.length ? ms.map(String) : ['none'];
  return {
    'lower-loss': 'trades', 'trades-beta': 1, 'at-eps': 4, 'gen-momentum': 0.9, 'gen-weight-decay': 5e-4, epochs: e, seed: 1,
    'gen-milestones': list, 'cls-milestones': list,
  };
}

export const trainCommand: Command = {
  spec: {
    name: 'train',
    summary: 'train a GUE generator (BOME solver of the attacker–victim game); resumable',
    usage: 'gue train --out <run-dir> [--dataset fashion-mnist] [--epochs N] [--resume] [game flags]',
    flags: {
      out: { type: 'string', description: 'run folder (created; must be new unless --resume)' },
      resume: { type: 'boolean', description: 'continue the run in --out from its checkpoint' },
      ...DATA_FLAGS,
      game: { type: 'string', description: "preset: 'standard' (GUE) or 'at' (GUE-AT as the authors: trades, β 1, ε_a 4, momentum 0.9, wd 5e-4, 150 epochs, lr ×0.1 at 120/140)", default: 'standard', choices: ['standard', 'at'] },
      ...GAME_FLAGS,
      epochs: { type: 'int', description: 'passes over the generator’s training data (authors 50)', default: 50, min: 1 },
      'batch-size': { type: 'int', description: 'batch size (authors 256)', default: 256, min: 1 },
      surrogate: { type: 'string', description: 'surrogate classifier architecture', default: 'small-cnn', choices: Object.keys(CLASSIFIERS) },
      'gen-width': { type: 'int', description: 'U-Net width (paper 64; 16 for CPU); the encoder width with --gen-arch templates', default: 16, min: 1 },
      'gen-arch': { type: 'string', description: "generator: 'unet' (the paper's), 'templates' (ours: an encoder picks a mixture of K learned full-image patterns) or 'class-templates' (ours: one learned pattern per class, picked by the label; protects labelled datasets only); docs/study.md", default: 'unet', choices: GENERATOR_ARCHS },
      fraction: { type: 'number', description: 'fraction of the training set the generator sees (seeded subset)', default: 1, min: 0.001, max: 1 },
      'max-steps': { type: 'int', description: 'stop after N outer steps in this invocation (0 = to the end)', default: 0, min: 0 },
      'checkpoint-every': { type: 'number', description: 'seconds between checkpoints', default: 300, min: 1 },
      seed: { type: 'int', description: 'seed (authors 3)', default: 3, min: 0 },
      'reset-every': { type: 'int', description: 'surrogate warm restarts: re-initialise the classifier θ every N outer steps (ours, not the authors’; 0 = never)', default: 0, min: 0 },
      'proxy-every': { type: 'int', description: 'every N outer steps, train a short proxy victim on the current protection (eval-mode BN) and log its clean test accuracy to proxy.jsonl (0 = off)', default: 0, min: 0 },
      'proxy-train-size': { type: 'int', description: 'training images of the proxy victim (a fixed seeded subset)', default: 5000, min: 10 },
      'proxy-epochs': { type: 'int', description: 'proxy victim epochs', default: 3, min: 1 },
      'proxy-model': { type: 'string', description: 'proxy victim architecture', default: 'small-cnn', choices: Object.keys(CLASSIFIERS) },
      ...DEVICE_FLAG,
    },
  },
  run({ flags, given: givenFlags, out }) {
    // The preset fills every flag the user did not give; those count as given (they differ from the defaults).
    const given = new Set(givenFlags);
    if (flags.game === 'at') {
      for (const [k, v] of Object.entries(gameAtPreset(givenFlags.has('epochs') ? (flags.epochs as number) : undefined))) {
        if (!givenFlags.has(k)) {
          flags[k] = v;
          given.add(k);
        }
      }
      if (flags['lower-loss'] === 'ce') throw new UsageError('--game at needs an adversarial lower loss (--lower-loss pgd-at or trades)');
    }
    checkGameFlags(flags, flags.game === 'at' ? givenFlags : given);
    const dir = flags.out as string | undefined;
    if (!dir) throw new UsageError('--out <run-dir> is required (the run folder)');
    const resume = flags.resume === true;
    // On resume the dataset flags default to the run's own (options.json), so the same data is used.
    // The run's proxy victims (options.proxyEvery) need the clean test set on resume too.
    let prevProxyEvery = 0;
    if (resume && existsSync(join(dir, 'options.json'))) {
      const prev = JSON.parse(readFileSync(join(dir, 'options.json'), 'utf8')) as { data?: Record<string, unknown> | null; options?: { proxyEvery?: unknown } };
      for (const k of ['dataset', 'data-dir', 'train-size']) {
        if (!given.has(k) && prev.data && prev.data[k] !== undefined && prev.data[k] !== null) flags[k] = prev.data[k] as string | number;
      }
      if (typeof prev.options?.proxyEvery === 'number') prevProxyEvery = prev.options.proxyEvery;
    }
    const train = loadSplit(flags, 'train');
    const opts = {
      ...gameOptions(flags),
      epochs: flags.epochs as number,
      batchSize: flags['batch-size'] as number,
      surrogate: flags.surrogate as string,
      genWidth: flags['gen-width'] as number,
      genArch: flags['gen-arch'] as GeneratorArch,
      fraction: flags.fraction as number,
      maxSteps: flags['max-steps'] as number,
      checkpointEvery: flags['checkpoint-every'] as number,
      seed: flags.seed as number,
      device: flags.device as string,
      genMilestones: flags['gen-milestones'] === undefined ? [] : parseMilestones('gen-milestones', flags['gen-milestones'] as string[]),
      clsMilestones: flags['cls-milestones'] === undefined ? [] : parseMilestones('cls-milestones', flags['cls-milestones'] as string[]),
      resetEvery: flags['reset-every'] as number,
      proxyEvery: flags['proxy-every'] as number,
      proxyTrainSize: flags['proxy-train-size'] as number,
      proxyEpochs: flags['proxy-epochs'] as number,
      proxyModel: flags['proxy-model'] as string,
    };
    for (const [k, ms] of [['gen-milestones', opts.genMilestones], ['cls-milestones', opts.clsMilestones]] as const) {
      const late = ms.find((m) => m >= opts.epochs);
      if (late !== undefined) throw new UsageError(`--${k} ${late} is not before the last epoch (--epochs ${opts.epochs})`);
    }
    // On resume only explicitly given flags are compared with the run's options.
    const effective = resume ? Object.fromEntries(Object.entries(opts).filter(([k]) => given.has(FLAG_OF[k] ?? k) || ['maxSteps', 'checkpointEvery', 'device'].includes(k))) : opts;
    const proxyEvery = resume && !given.has('proxy-every') ? prevProxyEvery : opts.proxyEvery;
    const proxyTest = proxyEvery > 0 ? loadSplit(flags, 'test') : undefined;
    const dataSpec = { dataset: flags.dataset, 'data-dir': flags['data-dir'] ?? null, 'train-size': flags['train-size'] };
    const r = trainGenerator(train, effective, dir, resume, out.sink, dataSpec, proxyTest);
    out.result(
      { run: r.runDir, steps: r.steps, total_steps: r.totalSteps, finished: r.finished, ...(r.last ?? {}) },
      `${r.finished ? 'finished' : 'stopped'} at step ${r.steps}/${r.totalSteps}; generator: ${r.runDir}/generator.safetensors` +
        (r.finished ? '' : ` (continue with: gue train --out ${r.runDir} --resume)`),
    );
    return 0;
  },
};
