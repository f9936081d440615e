// Adversarial poisoning (TAP), Fowl, Goldblum, Chiang, Geiping, Czaja, Goldstein, "Adversarial Examples
// Make Strong Poisons", NeurIPS 2021. A classifier is trained on the clean data; then every training
// image gets an L∞ adversarial perturbation against it:
//  - targeted (the paper's strongest, default): class permutation y → (y + 1) mod K, PGD *descent* on
//    CE(f(x + δ), (y + 1) mod K), so the features of class y are made to look like class y + 1;
//  - untargeted: PGD *ascent* on CE(f(x + δ), y).
// 250 PGD steps (the paper). The authors' crafting code steps by τ·ε with τ = 0.05 and divides the step by
// 10 at 3/8, 5/8 and 7/8 of the steps; we follow that (`stepRatio`, `decay`), with a random start in the
// ball. `restarts` > 1 keeps, per image, the restart with the best final objective (the authors' code
// allows restarts; the paper's runs are single-model). Not implemented: differentiable data augmentation
// during crafting and loading a pretrained classifier (the classifier is trained here, `trainEpochs`).
import { F, Generator, Tensor, noGrad, scope, where } from '../engine/index.js';
import { indexBatches } from '../data/index.js';
import type { OptionSpec, OptionValues } from '../util/options.js';
import { pgdLinf } from './pgd.js';
import { DeltaTable, Surrogate, surrogateOptionSpecs } from './surrogate.js';
import type { Attack, AttackContext, PreparedAttack } from './types.js';
import { zeros } from '../engine/index.js';

const TAP_OPTIONS: Record<string, OptionSpec> = {
  ...surrogateOptionSpecs({ model: 'small-cnn', lr: 0.01, batchSize: 128 }),
  trainEpochs: { type: 'int', description: 'epochs of clean training for the crafting classifier (the paper uses a fully trained ResNet-18; 5–10 epochs of small-cnn reach ≈ 90 % on Fashion-MNIST)', default: 10, min: 0 },
  mode: { type: 'string', description: "'targeted' (y → (y+1) mod K, the paper's strongest) or 'untargeted' (error-maximizing)", default: 'targeted', choices: ['targeted', 'untargeted'] },
  steps: { type: 'int', description: 'PGD steps per image (paper 250; 20–50 for quick CPU runs)', default: 250, min: 1 },
  stepRatio: { type: 'number', description: 'PGD step size as a fraction of ε (authors τ = 0.05)', default: 0.05, min: 0, max: 1 },
  decay: { type: 'boolean', description: 'divide the step size by 10 at 3/8, 5/8 and 7/8 of the steps (authors’ schedule)', default: true },
  restarts: { type: 'int', description: 'random restarts per image; the best final objective is kept', default: 1, min: 1 },
  craftBatch: { type: 'int', description: 'images per PGD batch (authors 512)', default: 512, min: 1 },
};

/** Step counts and sizes of the schedule: [steps, stepSize] segments. */
function schedule(steps: number, alpha: number, decay: boolean): [number, number][] {
  if (!decay) return [[steps, alpha]];
  const cuts = [0, Math.floor((3 * steps) / 8), Math.floor((5 * steps) / 8), Math.floor((7 * steps) / 8), steps];
  const segs: [number, number][] = [];
  for (let i = 0; i < 4; i++) if (cuts[i + 1]! > cuts[i]!) segs.push([cuts[i + 1]! - cuts[i]!, alpha / 10 ** i]);
  return segs;
}

function prepareTap(ctx: AttackContext, o: OptionValues): PreparedAttack {
  const [c, h, w] = ctx.train.shape;
  const n = ctx.train.labels.length;
  const k = ctx.train.numClasses;
  const eps = ctx.eps;
  const sur = new Surrogate(ctx, { model: o.model as string, lr: o.lr as number, momentum: o.momentum as number, weightDecay: o.weightDecay as number, batchSize: o.batchSize as number }, ctx.seed + 202);
  const table = new DeltaTable(zeros([n, c, h, w], { device: ctx.device }));
  const targeted = o.mode === 'targeted';
  const segs = schedule(o.steps as number, eps * (o.stepRatio as number), o.decay as boolean);
  const restarts = o.restarts as number;
  const gen = new Generator(ctx.seed + 303);
  let cleanAcc = NaN;
  try {
    const epochs = o.trainEpochs as number;
    const perEpoch = Math.ceil(n / sur.o.batchSize);
    for (let e = 1; e <= epochs; e++) {
      const r = sur.trainSteps(perEpoch);
      ctx.onEvent({ type: 'epoch', task: `${ctx.task} classifier`, epoch: e, epochs, metrics: { train_loss: r.loss, train_acc: r.acc } });
    }
    cleanAcc = sur.accuracy();
    sur.model.eval();
    const total = Math.ceil(n / (o.craftBatch as number));
    let step = 0;
    let start = 0;
    for (const idx of indexBatches(n, { batchSize: o.craftBatch as number })) {
      const len = idx.shape[0]!;
      scope(() => {
        const b = sur.data.batch(idx);
        const target = targeted ? noGrad(() => b.y.add(1).remainder(k)) : b.y;
        const loss = (xx: Tensor) => F.crossEntropy(sur.model.forward(xx), target);
        // Per-sample objective to compare restarts: targeted → lower CE to the target is better.
        const perSample = (xx: Tensor) => noGrad(() => F.crossEntropy(sur.model.forward(xx), target, { reduction: 'none' }));
        let best: Tensor | null = null;
        let bestObj: Tensor | null = null;
        for (let r = 0; r < restarts; r++) {
          let x = pgdLinf(loss, b.x, { eps, steps: segs[0]![0], stepSize: segs[0]![1], randomStart: true, direction: targeted ? 'min' : 'max', generator: gen });
          for (const [s, a] of segs.slice(1)) {
            const nx = pgdLinf(loss, b.x, { eps, steps: s, stepSize: a, direction: targeted ? 'min' : 'max' }, x);
            x.dispose();
            x = nx;
          }
          const obj = perSample(x);
          const score = targeted ? obj.neg() : obj;
          if (best === null || bestObj === null) {
            best = x;
            bestObj = score;
          } else {
            const better = score.gt(bestObj);
            best = noGrad(() => where(better.reshape([len, 1, 1, 1]), x, best!));
            bestObj = noGrad(() => where(better, score, bestObj!));
          }
        }
        table.setRange(start, noGrad(() => best!.sub(b.x)));
      });
      start += len;
      ctx.onEvent({ type: 'progress', task: `${ctx.task} craft`, step: ++step, total });
    }
  } catch (e) {
    table.dispose();
    throw e;
  } finally {
    sur.dispose();
  }
  return {
    perturb: (_x, index) => table.rows(index.to({ device: ctx.device })),
    meta: { mode: o.mode, classifierTrainAcc: cleanAcc, schedule: segs },
    dispose: () => table.dispose(),
  };
}

export const tap: Attack = {
  name: 'tap',
  title: 'adversarial poisoning: targeted (y → y+1) or untargeted PGD against a classifier trained on clean data',
  cite: 'Fowl, Goldblum, Chiang, Geiping, Czaja, Goldstein, "Adversarial Examples Make Strong Poisons", NeurIPS 2021',
  norms: ['linf'],
  options: TAP_OPTIONS,
  prepare: prepareTap,
};
