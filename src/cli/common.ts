// Flags and helpers shared by commands: dataset selection, game options, victim options.
import type { FlagSpec, FlagValues } from './args.js';
import { UsageError } from './args.js';
import { FASHION_MNIST_DIR, loadCifar10, loadCifar100, loadIdxDataset, loadDataset, isStoredDataset, type ImageDataset } from '../data/index.js';
import { PAYOFFS, type GameOptions } from '../game/index.js';
import { CLASSIFIERS } from '../nn/models/index.js';
import { scaledMilestones, type VictimOptions } from '../victim/index.js';

export const DATASETS = ['fashion-mnist', 'cifar10', 'cifar100'] as const;

export const DATA_FLAGS: Record<string, FlagSpec> = {
  dataset: { type: 'string', description: 'dataset', default: 'fashion-mnist', choices: DATASETS },
  'data-dir': { type: 'string', description: `folder with the dataset files (Fashion-MNIST default: ${FASHION_MNIST_DIR})` },
  'train-size': { type: 'int', description: 'use only the first N training images (0 = all)', default: 0, min: 0 },
};

export function loadSplit(flags: FlagValues, split: 'train' | 'test'): ImageDataset {
  const name = flags.dataset as string;
  const dir = flags['data-dir'] as string | undefined;
  let ds: ImageDataset;
  switch (name) {
    case 'fashion-mnist': ds = loadIdxDataset(split, dir ?? FASHION_MNIST_DIR); break;
    case 'cifar10':
      if (!dir) throw new UsageError('--dataset cifar10 needs --data-dir (the folder with cifar-10-batches-bin; it cannot be downloaded here)');
      ds = loadCifar10(split, dir); break;
    case 'cifar100':
      if (!dir) throw new UsageError('--dataset cifar100 needs --data-dir (the folder with cifar-100-binary)');
      ds = loadCifar100(split, dir); break;
    default: throw new UsageError(`unknown dataset '${name}'`);
  }
  const n = (flags['train-size'] as number | undefined) ?? 0;
  if (split === 'train' && n > 0 && n < ds.labels.length) {
    const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
    ds = { ...ds, images: ds.images.slice(0, n * per), labels: ds.labels.slice(0, n), source: `${ds.source}[:${n}]` };
  }
  return ds;
}

/** A training set given either as a stored (protected) dataset folder or as a named dataset. */
export function loadTrainingSet(flags: FlagValues, dataPath: string | undefined): { ds: ImageDataset; meta: Record<string, unknown> | null } {
  if (dataPath !== undefined) {
    if (!isStoredDataset(dataPath)) throw new UsageError(`${dataPath} is not a dataset written by 'gue poison' (dataset.json + dataset.safetensors)`);
    const { ds, meta } = loadDataset(dataPath);
    return { ds, meta };
  }
  return { ds: loadSplit(flags, 'train'), meta: null };
}

export const GAME_FLAGS: Record<string, FlagSpec> = {
  eps: { type: 'number', description: 'L∞ budget in 1/255 units', default: 8, min: 0.5, max: 255 },
  'inner-steps': { type: 'int', description: 'inner Adam steps T', default: 10, min: 1 },
  eta: { type: 'number', description: 'dynamic-barrier η (ρ)', default: 1.5, min: 0 },
  'lr-cls': { type: 'number', description: 'classifier SGD lr', default: 0.01, min: 0 },
  'lr-gen': { type: 'number', description: 'generator SGD lr', default: 0.1, min: 0 },
  'lr-inner': { type: 'number', description: 'inner Adam lr (authors 1e-4; paper text 1e-3)', default: 1e-4, min: 0 },
  'gen-momentum': { type: 'number', description: 'generator SGD momentum (GUE-AT uses 0.9)', default: 0, min: 0, max: 1 },
  'gen-weight-decay': { type: 'number', description: 'generator SGD weight decay', default: 0, min: 0 },
  payoff: { type: 'string', description: 'attacker payoff', default: 'surrogate', choices: PAYOFFS },
  'clip-norm': { type: 'number', description: '‖∇θ J_a‖ clip for payoff ce-clip', default: 10, min: 0 },
  path: { type: 'string', description: "solver path: 'exact' (authors' algorithm) or 'fast' (one generator forward per step, same gradients)", default: 'exact', choices: ['exact', 'fast'] },
};

export function gameOptions(flags: FlagValues): Partial<GameOptions> {
  return {
    eps: (flags.eps as number) / 255,
    innerSteps: flags['inner-steps'] as number,
    eta: flags.eta as number,
    lrCls: flags['lr-cls'] as number,
    lrGen: flags['lr-gen'] as number,
    lrInner: flags['lr-inner'] as number,
    genMomentum: flags['gen-momentum'] as number,
    genWeightDecay: flags['gen-weight-decay'] as number,
    payoff: flags.payoff as GameOptions['payoff'],
    clipNorm: flags['clip-norm'] as number,
    path: flags.path as GameOptions['path'],
  };
}

export const VICTIM_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', description: 'victim architecture', default: 'small-cnn', choices: Object.keys(CLASSIFIERS) },
  epochs: { type: 'int', description: 'victim epochs (milestones at 75 % and 90 % unless --milestones)', default: 10, min: 1 },
  milestones: { type: 'list', description: 'epochs at which lr ×0.1 (comma list; "none" for a constant lr)' },
  'batch-size': { type: 'int', description: 'victim batch size', default: 256, min: 1 },
  lr: { type: 'number', description: 'victim SGD lr', default: 0.01, min: 0 },
  momentum: { type: 'number', description: 'victim SGD momentum', default: 0.9, min: 0, max: 1 },
  'weight-decay': { type: 'number', description: 'victim weight decay', default: 5e-4, min: 0 },
  'crop-padding': { type: 'int', description: 'random-crop padding (0 = off)', default: 4, min: 0 },
  flip: { type: 'boolean', description: 'random horizontal flip (--no-flip to disable)', default: true },
  'victim-seed': { type: 'int', description: 'victim seed', default: 1, min: 0 },
};

export function victimOptions(flags: FlagValues): Partial<VictimOptions> {
  const epochs = flags.epochs as number;
  const ms = flags.milestones as string[] | undefined;
  let milestones: number[];
  if (ms === undefined) milestones = scaledMilestones(epochs);
  else if (ms.length === 1 && ms[0] === 'none') milestones = [];
  else {
    milestones = ms.map((s) => {
      const v = Number(s);
      if (!Number.isInteger(v) || v < 1) throw new UsageError(`--milestones must be positive integers; got '${s}'`);
      return v;
    });
  }
  return {
    model: flags.model as string,
    epochs,
    milestones,
    batchSize: flags['batch-size'] as number,
    lr: flags.lr as number,
    momentum: flags.momentum as number,
    weightDecay: flags['weight-decay'] as number,
    cropPadding: flags['crop-padding'] as number,
    flip: flags.flip as boolean,
    seed: flags['victim-seed'] as number,
    device: (flags.device as string | undefined) ?? 'cpu',
  };
}

export const DEVICE_FLAG: Record<string, FlagSpec> = {
  device: { type: 'string', description: 'cpu, cuda or cuda:N', default: 'cpu' },
};
