// Error-minimizing noise (EM), Huang, Ma, Erfani, Bailey, Wang, "Unlearnable Examples: Making Personal
// Data Unexploitable", ICLR 2021. The min-min bi-level problem
//     min_θ  E_(x,y) [ min_{‖δ‖∞ ≤ ε}  L(f_θ(x + δ), y) ]
// is solved by alternation: M SGD steps of the model on the perturbed data (M = 10), then PGD *descent*
// on δ for every training sample (20 steps of ε/10, started from the current δ, model in eval mode),
// until the model's accuracy on the perturbed training set exceeds the authors' threshold (99 %), or
// after `maxRounds` rounds. δ starts uniform in [−ε, ε].
//  - em-sample: one δ per training image.
//  - em-class:  one δ per class. Each batch runs the same PGD from x + δ_y; δ_c is then set to the mean,
//    over the batch's samples of class c, of their optimised per-sample noise (clipped to ε), as the
//    authors' class-wise ("universal") variant does batch by batch.
import { Generator, noGrad, rand, scope, oneHot, F, where } from '../engine/index.js';
import { indexBatches } from '../data/index.js';
import type { OptionSpec, OptionValues } from '../util/options.js';
import { pgdLinf } from './pgd.js';
import { DeltaTable, Surrogate, surrogateOptionSpecs, type SurrogateOptions } from './surrogate.js';
import type { Attack, AttackContext, PreparedAttack } from './types.js';
import type { PerturbFn } from './poison.js';

const EM_OPTIONS: Record<string, OptionSpec> = {
  ...surrogateOptionSpecs({ model: 'small-cnn', lr: 0.1, batchSize: 128 }),
  trainSteps: { type: 'int', description: 'M: surrogate SGD steps per round (paper 10)', default: 10, min: 0 },
  pgdSteps: { type: 'int', description: 'PGD descent steps on δ per round (paper 20; 5–10 for quick CPU runs)', default: 20, min: 1 },
  stepRatio: { type: 'number', description: 'PGD step size as a fraction of ε (paper ε/10 = 0.1)', default: 0.1, min: 0, max: 1 },
  stopAcc: { type: 'number', description: 'stop when the surrogate’s accuracy on the perturbed training set exceeds this % (paper 99)', default: 99, min: 0, max: 100 },
  maxRounds: { type: 'int', description: 'stop after this many rounds even if the accuracy threshold is not reached (each round perturbs the whole set; 3–5 for quick CPU runs)', default: 20, min: 1 },
};

function surrogateOpts(o: OptionValues): SurrogateOptions {
  return { model: o.model as string, lr: o.lr as number, momentum: o.momentum as number, weightDecay: o.weightDecay as number, batchSize: o.batchSize as number };
}

function prepareEm(ctx: AttackContext, o: OptionValues, granularity: 'sample' | 'class'): PreparedAttack {
  const [c, h, w] = ctx.train.shape;
  const n = ctx.train.labels.length;
  const k = ctx.train.numClasses;
  const eps = ctx.eps;
  const rows = granularity === 'sample' ? n : k;
  const table = new DeltaTable(noGrad(() => scope(() => rand([rows, c, h, w], { generator: new Generator(ctx.seed) }).mul(2 * eps).sub(eps).to({ device: ctx.device }))));
  const lookup: PerturbFn = granularity === 'sample'
    ? (_x, index) => table.rows(index.to({ device: ctx.device }))
    : (_x, _index, y) => table.rows(y.to({ device: ctx.device }));
  const sur = new Surrogate(ctx, surrogateOpts(o), ctx.seed + 101);
  const maxRounds = o.maxRounds as number;
  const pgd = { eps, steps: o.pgdSteps as number, stepSize: eps * (o.stepRatio as number), direction: 'min' as const };
  let rounds = 0;
  let acc = 0;
  let trainLoss = NaN;
  try {
    for (let r = 1; r <= maxRounds; r++) {
      if ((o.trainSteps as number) > 0) trainLoss = sur.trainSteps(o.trainSteps as number, lookup).loss;
      sur.model.eval();
      let start = 0;
      const total = Math.ceil(n / sur.o.batchSize);
      let step = 0;
      for (const idx of indexBatches(n, { batchSize: sur.o.batchSize })) {
        const len = idx.shape[0]!;
        scope(() => {
          const b = sur.data.batch(idx);
          const d0 = lookup(b.x, idx, b.y);
          const init = noGrad(() => b.x.add(d0).clamp(0, 1));
          const adv = pgdLinf((xx) => F.crossEntropy(sur.model.forward(xx), b.y), b.x, pgd, init);
          const eta = noGrad(() => adv.sub(b.x));
          if (granularity === 'sample') {
            table.setRange(start, eta);
          } else {
            noGrad(() => {
              const oh = oneHot(b.y, k).to('float32');
              const sums = oh.transpose(0, 1).matmul(eta.reshape([len, c * h * w]));
              const cnt = oh.sum([0]).reshape([k, 1]);
              const mean = sums.div(cnt.clamp(1, null)).clamp(-eps, eps).reshape([k, c, h, w]);
              const next = where(cnt.gt(0).reshape([k, 1, 1, 1]), mean, table.t);
              table.setRange(0, next);
            });
          }
        });
        start += len;
        ctx.onEvent({ type: 'progress', task: `${ctx.task} round ${r}`, step: ++step, total });
      }
      rounds = r;
      acc = sur.accuracy(lookup);
      ctx.onEvent({ type: 'epoch', task: ctx.task, epoch: r, epochs: maxRounds, metrics: { perturbed_train_acc: acc, train_loss: trainLoss } });
      if (acc > (o.stopAcc as number)) break;
    }
  } catch (e) {
    table.dispose();
    throw e;
  } finally {
    sur.dispose();
  }
  return {
    perturb: lookup,
    meta: { granularity, rounds, perturbedTrainAcc: acc, stopped: acc > (o.stopAcc as number) ? 'accuracy threshold' : 'max rounds' },
    dispose: () => table.dispose(),
  };
}

const CITE = 'Huang, Ma, Erfani, Bailey, Wang, "Unlearnable Examples: Making Personal Data Unexploitable", ICLR 2021';

export const emSample: Attack = {
  name: 'em-sample',
  title: 'error-minimizing noise, sample-wise (min-min: surrogate SGD steps alternated with PGD descent on δ)',
  cite: CITE,
  norms: ['linf'],
  options: EM_OPTIONS,
  prepare: (ctx, o) => prepareEm(ctx, o, 'sample'),
};

export const emClass: Attack = {
  name: 'em-class',
  title: 'error-minimizing noise, class-wise (one δ per class, updated from batch PGD descent)',
  cite: CITE,
  norms: ['linf'],
  options: EM_OPTIONS,
  prepare: (ctx, o) => prepareEm(ctx, o, 'class'),
};
