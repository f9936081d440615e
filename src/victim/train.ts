// Victim training and evaluation: train a fresh classifier on (clean or protected) training data and
// report its clean test accuracy after every epoch (the curve of the paper's Fig. 2) and at the end.
// Defaults follow the paper: SGD lr 0.01, momentum 0.9, weight decay 5e-4, 100 epochs, lr ×0.1 at 75 and 90,
// random crop (padding 4) + horizontal flip; epochs and milestones scale together through options.
import { F, Generator, noGrad, scope, manualSeed } from '../engine/index.js';
import { TensorDataset, indexBatches, numBatches, augmentBatch, type ImageDataset } from '../data/index.js';
import { buildClassifier } from '../nn/models/index.js';
import type { Module } from '../nn/module.js';
import { SGD, MultiStepLR } from '../optim/index.js';
import { silent, type EventSink } from '../util/events.js';

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
  manualSeed(o.seed);
  const gen = new Generator(o.seed);
  const model = buildClassifier(o.model, { inChannels: train.shape[0], numClasses: train.numClasses, imageSize: train.shape[1], generator: gen });
  if (o.device !== 'cpu') model.to(o.device);
  const trainT = new TensorDataset(train, o.device);
  const testT = new TensorDataset(test, o.device);
  const opt = new SGD(model.parameters(), { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay });
  const sched = new MultiStepLR(opt, { milestones: o.milestones, gamma: o.gamma });
  const records: EpochRecord[] = [];
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
          const x = augmentBatch(b.x, { cropPadding: o.cropPadding, flip: o.flip }, gen);
          const logits = model.forward(x);
          const loss = F.crossEntropy(logits, b.y);
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
  };
}
