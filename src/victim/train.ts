// Victim training and evaluation: train a fresh classifier on (clean or protected) training data and
// report its clean test accuracy after every epoch (the curve of the paper's Fig. 2) and at the end.
// Defaults follow the paper: SGD lr 0.01, momentum 0.9, weight decay 5e-4, 100 epochs, lr ×0.1 at 75 and 90,
// random crop (padding 4) + horizontal flip; epochs and milestones scale together through options.
// Options beyond plain training (all off by default, so the default run is the paper's standard training):
//  - adversarial training (at.ts): 'pgd' (Madry et al. 2018) or 'trades' (Zhang et al. 2019) at radius atEps.
//    The adversarial examples are crafted with the model in eval mode (BN running statistics, as the GUE
//    authors' adv_loss and Zhang et al.'s TRADES code do) and the training forward runs in train mode.
//  - robustEval: PGD-20 accuracy on the clean test set after the last epoch (eval mode), at robustEps.
//  - defense (src/defenses): a data defense transforms the training set once before training; a training
//    defense (Mixup/Cutout/CutMix) transforms every batch after the crop/flip augmentation, and the loss is the
//    soft-target CE. Training accuracy is always measured against the original labels.
// AT, training defenses and robust evaluation draw from their own seeded generators, so turning them on does
// not change the shuffle or the augmentation of a run.
import { F, Generator, noGrad, scope, manualSeed, type Tensor } from '../engine/index.js';
import { TensorDataset, indexBatches, numBatches, augmentBatch, type ImageDataset } from '../data/index.js';
import { buildClassifier } from '../nn/models/index.js';
import type { Module } from '../nn/module.js';
import { SGD, MultiStepLR } from '../optim/index.js';
import { silent, type EventSink } from '../util/events.js';
import type { OptionValues } from '../util/options.js';
import { channelProblem, resolveDefense, type BatchTransform } from '../defenses/index.js';
import { AT_KINDS, pgdAtLoss, robustAccuracy, tradesLoss, type AtKind, type AtLossOptions } from './at.js';

export interface VictimOptions {
  model: string;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Epochs after which lr is multiplied by gamma. */
  milestones: number[];
  gamma: number;
  cropPadding: number;
  flip: boolean;
  seed: number;
  device: string;
  evalBatchSize: number;
  /** Adversarial training: 'none' (standard), 'pgd' (PGD-AT, Madry et al. 2018) or 'trades' (Zhang et al. 2019). */
  at: AtKind;
  /** AT radius ε_a (L∞, [0,1] units); the paper's AT evaluation uses 2/255 and 4/255. */
  atEps: number;
  /** PGD steps while training (10). */
  atSteps: number;
  /** PGD step size (null = ε_a/4). */
  atStepSize: number | null;
  /** TRADES β (1/λ in Zhang et al.): 6 is their CIFAR-10 setting; the GUE authors' game uses 1. */
  tradesBeta: number;
  /** Report PGD robust accuracy on the clean test set after the last epoch. */
  robustEval: boolean;
  /** Robust-evaluation radius (null = atEps). */
  robustEps: number | null;
  /** Robust-evaluation PGD steps (20; step size ε/4, random start). */
  robustSteps: number;
  /** A defense from src/defenses ('none' = no defense). */
  defense: string;
  /** The defense's options (validated against its option table; strings are converted). */
  defenseOptions: Record<string, unknown>;
}

export const VICTIM_DEFAULTS: Readonly<VictimOptions> = Object.freeze({
  model: 'resnet18',
  epochs: 100,
  batchSize: 256,
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 5e-4,
  milestones: [75, 90],
  gamma: 0.1,
  cropPadding: 4,
  flip: true,
  seed: 1,
  device: 'cpu',
  evalBatchSize: 1000,
  at: 'none',
  atEps: 4 / 255,
  atSteps: 10,
  atStepSize: null,
  tradesBeta: 6,
  robustEval: false,
  robustEps: null,
  robustSteps: 20,
  defense: 'none',
  defenseOptions: {},
});

/** The paper's milestones (75 %, 90 % of the epochs) for a scaled epoch count. */
export function scaledMilestones(epochs: number): number[] {
  return [Math.round(epochs * 0.75), Math.round(epochs * 0.9)].filter((m, i, a) => m > 0 && m < epochs && a.indexOf(m) === i);
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  testAcc: number;
  lr: number;
}

export interface VictimResult {
  epochs: EpochRecord[];
  /** Clean test accuracy (%) after the last epoch. */
  finalTestAcc: number;
  /** Lowest and highest per-epoch clean test accuracy (%). */
  worstTestAcc: number;
  bestTestAcc: number;
  /** PGD robust accuracy (%) on the clean test set after the last epoch (null unless robustEval). */
  robustAcc: number | null;
  /** The attack behind robustAcc (null unless robustEval). */
  robust: { eps: number; steps: number; stepSize: number } | null;
  /** Adversarial training used (null for standard training). */
  adversarialTraining: { kind: AtKind; eps: number; steps: number; stepSize: number; beta?: number } | null;
  /** The defense used, with its resolved options (null for none). */
  defense: { name: string; kind: 'data' | 'training'; options: OptionValues } | null;
}

/** Checks the AT/robust-eval options; throws a clear error. */
export function validateVictimOptions(o: VictimOptions): void {
  if (!AT_KINDS.includes(o.at)) throw new Error(`adversarial training must be one of ${AT_KINDS.join(', ')}; got '${String(o.at)}'`);
  const inUnit = (v: number) => Number.isFinite(v) && v > 0 && v <= 1;
  if ((o.at !== 'none' || (o.robustEval && o.robustEps === null)) && !inUnit(o.atEps)) throw new Error(`the AT radius atEps must be in (0, 1] ([0,1] units); got ${o.atEps}`);
  if (!Number.isInteger(o.atSteps) || o.atSteps < 1) throw new Error(`atSteps must be a positive integer; got ${o.atSteps}`);
  if (o.atStepSize !== null && !inUnit(o.atStepSize)) throw new Error(`atStepSize must be in (0, 1]; got ${o.atStepSize}`);
  if (!(Number.isFinite(o.tradesBeta) && o.tradesBeta >= 0)) throw new Error(`tradesBeta must be >= 0; got ${o.tradesBeta}`);
  if (o.robustEps !== null && !inUnit(o.robustEps)) throw new Error(`robustEps must be in (0, 1]; got ${o.robustEps}`);
  if (!Number.isInteger(o.robustSteps) || o.robustSteps < 1) throw new Error(`robustSteps must be a positive integer; got ${o.robustSteps}`);
}

/** Top-1 accuracy (%) of a model in eval mode over a dataset. */
export function evaluateAccuracy(model: Module, data: TensorDataset, batchSize = 1000): number {
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  noGrad(() => {
    for (const idx of indexBatches(data.size, { batchSize })) {
      correct += scope(() => {
        const b = data.batch(idx);
        return model.forward(b.x).argmax(1).eq(b.y).sum().item();
      });
    }
  });
  model.train(wasTraining);
  return (100 * correct) / data.size;
}

/** Trains a fresh victim on `train` and reports clean accuracy on `test` after every epoch. */
export function trainVictim(train: ImageDataset, test: ImageDataset, opts: Partial<VictimOptions> = {}, onEvent: EventSink = silent, task = 'victim'): VictimResult {
  const o: VictimOptions = { ...VICTIM_DEFAULTS, ...opts };
  if (train.shape.join() !== test.shape.join()) throw new Error(`train images [${train.shape.join(', ')}] and test images [${test.shape.join(', ')}] differ in shape`);
  validateVictimOptions(o);
  const def = resolveDefense(o.defense, o.defenseOptions);
  if (def?.defense.kind === 'data') {
    const problem = channelProblem(def.defense, train.shape[0], train.source);
    if (problem) throw new Error(problem);
    onEvent({ type: 'log', level: 'info', message: `applying defense '${def.defense.name}' to ${train.labels.length} training images` });
    train = def.defense.apply(train, def.options);
  }
  const transform: BatchTransform | null = def?.defense.kind === 'training' ? def.defense.makeTransform(def.options) : null;
  const atOpts: AtLossOptions = {
    eps: o.atEps, steps: o.atSteps, stepSize: o.atStepSize ?? o.atEps / 4, beta: o.tradesBeta, startSigma: 0.001,
    craftMode: 'eval', generator: new Generator(o.seed + 1_000_003),
  };
  const defenseGen = new Generator(o.seed + 2_000_003);
  manualSeed(o.seed);
  const gen = new Generator(o.seed);
  const model = buildClassifier(o.model, { inChannels: train.shape[0], numClasses: train.numClasses, imageSize: train.shape[1], generator: gen });
  if (o.device !== 'cpu') model.to(o.device);
  const trainT = new TensorDataset(train, o.device);
  const testT = new TensorDataset(test, o.device);
  const opt = new SGD(model.parameters(), { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay });
  const sched = new MultiStepLR(opt, { milestones: o.milestones, gamma: o.gamma });
  const records: EpochRecord[] = [];
  let robustAcc: number | null = null;
  let robust: VictimResult['robust'] = null;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      model.train();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let step = 0;
      const total = numBatches(trainT.size, { batchSize: o.batchSize });
      const lr = opt.lr;
      for (const idx of indexBatches(trainT.size, { batchSize: o.batchSize, shuffle: true, generator: gen })) {
        const [l, c, n] = scope(() => {
          const b = trainT.batch(idx);
          let x = augmentBatch(b.x, { cropPadding: o.cropPadding, flip: o.flip }, gen);
          let target: Tensor = b.y;
          if (transform) ({ x, target } = transform(x, b.y, train.numClasses, defenseGen));
          let logits: Tensor;
          let loss: Tensor;
          if (o.at === 'pgd') ({ loss, logits } = pgdAtLoss(model, x, target, atOpts));
          else if (o.at === 'trades') ({ loss, logits } = tradesLoss(model, x, target, atOpts));
          else {
            logits = model.forward(x);
            loss = F.crossEntropy(logits, target);
          }
          loss.backward();
          opt.step();
          opt.zeroGrad();
          const n = b.y.shape[0]!;
          return [loss.item() * n, noGrad(() => logits.argmax(1).eq(b.y).sum().item()), n] as const;
        });
        lossSum += l;
        correct += c;
        seen += n;
        step++;
        onEvent({ type: 'progress', task: `${task} ${epoch}/${o.epochs}`, step, total, metrics: { loss: lossSum / seen } });
      }
      sched.step();
      const testAcc = evaluateAccuracy(model, testT, o.evalBatchSize);
      const rec = { epoch, trainLoss: lossSum / seen, trainAcc: (100 * correct) / seen, testAcc, lr };
      records.push(rec);
      onEvent({ type: 'epoch', task, epoch, epochs: o.epochs, metrics: { train_loss: rec.trainLoss, train_acc: rec.trainAcc, test_acc: testAcc } });
    }
    if (o.robustEval) {
      const eps = o.robustEps ?? o.atEps;
      robust = { eps, steps: o.robustSteps, stepSize: eps / 4 };
      onEvent({ type: 'log', level: 'info', message: `${task}: PGD-${o.robustSteps} robust accuracy at ε = ${(eps * 255).toFixed(2)}/255` });
      robustAcc = robustAccuracy(model, testT, { ...robust, batchSize: o.evalBatchSize, generator: new Generator(o.seed + 3_000_017) });
      onEvent({ type: 'log', level: 'info', message: `${task}: robust accuracy ${robustAcc.toFixed(2)} %` });
    }
  } finally {
    opt.dispose();
    model.dispose();
    trainT.dispose();
    testT.dispose();
  }
  const accs = records.map((r) => r.testAcc);
  return {
    epochs: records,
    finalTestAcc: accs[accs.length - 1] ?? NaN,
    worstTestAcc: Math.min(...accs),
    bestTestAcc: Math.max(...accs),
    robustAcc,
    robust,
    adversarialTraining: o.at === 'none' ? null : { kind: o.at, eps: o.atEps, steps: o.atSteps, stepSize: atOpts.stepSize!, ...(o.at === 'trades' ? { beta: o.tradesBeta } : {}) },
    defense: def ? { name: def.defense.name, kind: def.defense.kind, options: def.options } : null,
  };
}
