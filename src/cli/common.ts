// Flags and helpers shared by commands: dataset selection, game options, victim options.
import type { FlagSpec, FlagValues } from './args.js';
import { UsageError } from './args.js';
import { FASHION_MNIST_DIR, loadCifar10, loadCifar100, loadIdxDataset, loadDataset, isStoredDataset, type ImageDataset } from '../data/index.js';
import { PAYOFFS, LOWER_LOSSES, GEN_GRADS, GEN_OPTIMS, GAME_AUGMENTS, CLS_GRADS, type GameOptions } from '../game/index.js';
import { CLASSIFIERS } from '../nn/models/index.js';
import { AT_KINDS, VICTIM_DEFAULTS, scaledMilestones, type AtKind, type VictimOptions } from '../victim/index.js';
import { DEFENSES, resolveDefense } from '../defenses/index.js';
import { parseKeyValues } from '../util/options.js';
import { shippedByName } from '../protect/open.js';

/** A milestone list flag: positive integers, or 'none' for no milestones. */
export function parseMilestones(flag: string, ms: string[]): number[] {
  if (ms.length === 1 && ms[0] === 'none') return [];
  return ms.map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${flag} must be positive integers (or 'none'); got '${s}'`);
    return v;
  });
}

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
  path: { type: 'string', description: "solver path: 'fast' (one generator forward per step, same gradients as the authors') or 'exact' (the authors' step, op for op)", default: 'fast', choices: ['fast', 'exact'] },
  'lower-loss': { type: 'string', description: "victim loss L_c in the game: 'ce' (GUE) or an AT loss (GUE-AT; authors 'trades')", default: 'ce', choices: LOWER_LOSSES },
  'at-eps': { type: 'number', description: 'GUE-AT radius ε_a in 1/255 units (authors 4)', default: 4, min: 0.01, max: 255 },
  'at-steps': { type: 'int', description: 'GUE-AT PGD steps (step ε_a/4)', default: 10, min: 1 },
  'trades-beta': { type: 'number', description: 'TRADES β in the game (authors 1)', default: 1, min: 0 },
  'gen-grad': { type: 'string', description: "generator direction: 'q' = λ∇w q (BOME, the authors) or 'g' = λ∇w g(w,θ), the value-function term dropped (ours; docs/study.md)", default: 'q', choices: GEN_GRADS },
  'cls-grad': { type: 'string', description: "classifier direction: 'bome' = ∇θ f + λ∇θ q (the authors), 'erm' = ∇θ g, a victim's step on the protected batch, or 'pessimistic' = θ ascends f under the barrier and the generator ascends λ∇w q (the paper's sup over best responses; needs --payoff ce) (ours; docs/study.md)", default: 'bome', choices: CLS_GRADS },
  'route-weight': { type: 'number', description: "supervised routing (ours; 0 = off): with --gen-arch templates, the generator's router also learns CE(router(x), y), weight w, so each image gets its class's pattern (docs/study.md)", default: 0, min: 0 },
  'gen-optim': { type: 'string', description: "generator optimizer: 'sgd' (the authors) or 'adam' (ours; lr --lr-gen, e.g. 1e-3; docs/study.md)", default: 'sgd', choices: GEN_OPTIMS },
  'game-augment': { type: 'string', description: "the victim's augmentation inside the game: 'none' (the authors) or 'crop-flip' (ours: g sees the poisoned batch through a random crop, padding 4, and flip, as a victim does; docs/study.md)", default: 'none', choices: GAME_AUGMENTS },
  'gen-milestones': { type: 'list', description: "epochs at which the generator lr ×0.1 (comma list; 'none')" },
  'cls-milestones': { type: 'list', description: "epochs at which the classifier lr ×0.1 (comma list; 'none')" },
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
    lowerLoss: flags['lower-loss'] as GameOptions['lowerLoss'],
    atEps: (flags['at-eps'] as number) / 255,
    atSteps: flags['at-steps'] as number,
    tradesBeta: flags['trades-beta'] as number,
    genGrad: flags['gen-grad'] as GameOptions['genGrad'],
    clsGrad: flags['cls-grad'] as GameOptions['clsGrad'],
    routeWeight: flags['route-weight'] as number,
    genOptim: flags['gen-optim'] as GameOptions['genOptim'],
    gameAugment: flags['game-augment'] as GameOptions['gameAugment'],
  };
}

/** Refuses GUE-AT flags that have no effect with the chosen lower loss. */
export function checkGameFlags(flags: FlagValues, given: ReadonlySet<string>): void {
  const ll = flags['lower-loss'] as string;
  if (ll === 'ce') {
    for (const f of ['at-eps', 'at-steps', 'trades-beta']) {
      if (given.has(f)) throw new UsageError(`--${f} needs an adversarial lower loss (--lower-loss pgd-at or trades, or --game at)`);
    }
  }
  if (ll === 'pgd-at' && given.has('trades-beta')) throw new UsageError('--trades-beta applies to --lower-loss trades, not pgd-at');
  if (flags['cls-grad'] === 'pessimistic' && flags.payoff === 'surrogate') {
    throw new UsageError('--cls-grad pessimistic needs --payoff ce (or ce-clip): θ maximises the payoff there, and the surrogate payoff is unbounded above');
  }
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
  defense: { type: 'string', description: 'defense used by the victim', default: 'none', choices: ['none', ...Object.keys(DEFENSES)] },
  'defense-opt': { type: 'list', description: 'defense options k=v,... (e.g. quality=10 for jpeg)' },
  at: { type: 'string', description: 'adversarial training of the victim', default: 'none', choices: AT_KINDS },
  'at-eps': { type: 'number', description: 'AT radius ε_a in 1/255 units (default 4; the paper uses 2 and 4)', min: 0.01, max: 255 },
  'at-steps': { type: 'int', description: 'AT PGD steps (default 10)', min: 1 },
  'at-step-size': { type: 'number', description: 'AT PGD step in 1/255 units (default ε_a/4)', min: 0.001, max: 255 },
  'trades-beta': { type: 'number', description: 'TRADES β (default 6, Zhang et al.)', min: 0 },
  'robust-eval': { type: 'boolean', description: 'also report PGD robust test accuracy after the last epoch' },
  'robust-eps': { type: 'number', description: 'robust-eval radius in 1/255 units (default: --at-eps, else 4)', min: 0.01, max: 255 },
  'robust-steps': { type: 'int', description: 'robust-eval PGD steps (default 20)', min: 1 },
};

export function victimOptions(flags: FlagValues): Partial<VictimOptions> {
  const epochs = flags.epochs as number;
  const ms = flags.milestones as string[] | undefined;
  const milestones = ms === undefined ? scaledMilestones(epochs) : parseMilestones('milestones', ms);
  // Adversarial training and robust evaluation: flags that would have no effect are refused.
  const at = ((flags.at as string | undefined) ?? 'none') as AtKind;
  const robustEval = flags['robust-eval'] === true;
  const num = (k: string) => flags[k] as number | undefined;
  if (at === 'none') {
    for (const k of ['at-steps', 'at-step-size', 'trades-beta']) if (num(k) !== undefined) throw new UsageError(`--${k} needs --at pgd or --at trades`);
    if (num('at-eps') !== undefined && !robustEval) throw new UsageError('--at-eps needs --at pgd|trades or --robust-eval');
  }
  if (at === 'pgd' && num('trades-beta') !== undefined) throw new UsageError('--trades-beta applies to --at trades, not pgd');
  if (!robustEval) for (const k of ['robust-eps', 'robust-steps']) if (num(k) !== undefined) throw new UsageError(`--${k} needs --robust-eval`);
  const atEps = (num('at-eps') ?? VICTIM_DEFAULTS.atEps * 255) / 255;
  const atStep = num('at-step-size');
  if (atStep !== undefined && atStep / 255 > atEps) throw new UsageError(`--at-step-size ${atStep} is larger than --at-eps ${atEps * 255}`);
  // The defense and its options are checked here, before any data is loaded.
  const defense = (flags.defense as string | undefined) ?? 'none';
  const optItems = (flags['defense-opt'] as string[] | undefined) ?? [];
  if (defense === 'none' && optItems.length > 0) throw new UsageError('--defense-opt needs --defense <name>');
  let defenseOptions: Record<string, string>;
  try {
    defenseOptions = parseKeyValues(optItems);
    resolveDefense(defense, defenseOptions);
  } catch (e) {
    throw new UsageError(`--defense-opt: ${(e as Error).message}`);
  }
  return {
    at,
    atEps,
    atSteps: num('at-steps') ?? VICTIM_DEFAULTS.atSteps,
    atStepSize: atStep === undefined ? null : atStep / 255,
    tradesBeta: num('trades-beta') ?? VICTIM_DEFAULTS.tradesBeta,
    robustEval,
    robustEps: num('robust-eps') === undefined ? null : num('robust-eps')! / 255,
    robustSteps: num('robust-steps') ?? VICTIM_DEFAULTS.robustSteps,
    defense,
    defenseOptions,
    
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

/**
 * `--generator` for commands that run a libtorch generator (demo, poison): the shipped generator's libtorch base when
 * `given` names one (and is not a path), else `given` unchanged. A shipped generator without libtorch weights is a
 * usage error; `why` says what needs them.
 */
export function shippedTorchBaseOr(given: string, why: string): string {
  const named = shippedByName(given);
  if (!named) return given;
  if (!named.torch) throw new UsageError(`the shipped generator ${given} has no libtorch weights (.safetensors); ${why}`);
  return named.torch;
}
