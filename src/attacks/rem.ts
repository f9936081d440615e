// REM, robust error-minimizing noise: Fu, He, Liu, Shen, Tao, "Robust Unlearnable Examples: Protecting Data
// Against Adversarial Learning", ICLR 2022.
//
// Unlearnable examples that survive adversarial training. A source model θ and sample-wise noise δ solve
//     min_θ  Σ_i  min_{‖δ_i‖∞ ≤ ε_u}  E_{t∼T}  max_{‖ρ‖∞ ≤ ε_a}  CE( f_θ( t(x_i + δ_i) + ρ ), y_i )
// where T is the victim's augmentation (random crop + flip; expectation over transformation, EOT) and ε_a
// (`adv-eps`) the adversarial-training radius the noise must withstand. The paper's CIFAR-10 setting is
// ε_u = 8/255 and ε_a = ε_u/2 = 4/255.
//
// Implementation (as the paper's Algorithm 1 and its released settings):
//   - for `train-steps` steps: draw a batch; compute its noise δ with the current model (below, from a random
//     start, as the authors do at every step); take one SGD step on θ on PGD adversarial examples (radius
//     ε_a) of t(x + δ) for one sampled augmentation t;
//   - noise for a batch: PGD *descent* on x' = x + δ in the ε_u-ball (`pgd-steps`), where the loss is the
//     EOT average over `samples` augmentations of the inner maximum. Its gradient follows Danskin's theorem:
//     for each sampled t, ρ* = PGD ascent (`adv-steps`) around t(x'), and ∇x' = tᵀ ∇ CE(f(ρ*), y) — written as
//     the gradient of ⟨t(x'), g⟩ with g fixed; t is applied differentiably (eot.ts);
//   - when training ends (or stops early), the noise of every sample is regenerated with the final model.
//   PGD (both levels) is src/attacks/pgd.ts; PGD and noise generation run the model in eval mode.
//
// Choices and simplifications:
//   - `stop-error` (default 0: off, the paper trains a fixed number of steps) adds an EM-style stop criterion:
//     stop when the model's error on the adversarial examples of the perturbed batches, over the last
//     epoch's worth of steps, falls below it;
//   - step sizes are given as fractions of their radius (the paper's 1.6/255 for ε_u = 8/255 is 0.2, and
//     0.8/255 for ε_a = 4/255 is 0.2).
import { F, Generator, Tensor, cat, enableGrad, grad, keep, noGrad, scope } from '../engine/index.js';
import { TensorDataset, indexBatches } from '../data/loader.js';
import { augmentBatch, type AugmentOptions } from '../data/augment.js';
import { CLASSIFIERS, buildClassifier } from '../nn/models/index.js';
import type { Module } from '../nn/module.js';
import { SGD } from '../optim/index.js';
import { pgdLinf } from './pgd.js';
import { applyAugmentation, isIdentityAugmentation, sampleAugmentation } from './eot.js';
import type { Attack } from './types.js';
import { storedPerturbation } from './poison.js';

interface RemSettings {
  eps: number;
  pgdSteps: number;
  pgdStep: number;
  advEps: number;
  advSteps: number;
  advStep: number;
  samples: number;
  aug: AugmentOptions;
  device: string;
}

/** ρ* = PGD ascent of CE in the ε_a-ball around `center` (`center` itself when ε_a or the steps are 0). */
function adversarial(model: Module, center: Tensor, y: Tensor, s: RemSettings, g: Generator): Tensor {
  if (s.advEps <= 0 || s.advSteps <= 0) return center.detach();
  return pgdLinf((a) => F.crossEntropy(model.forward(a), y), center, { eps: s.advEps, steps: s.advSteps, stepSize: s.advStep, randomStart: true, direction: 'max', generator: g });
}

/** x + δ for a batch: PGD descent through the EOT-averaged inner maximisation (Danskin gradient). Detached. */
function robustNoise(model: Module, x: Tensor, y: Tensor, s: RemSettings, g: Generator): Tensor {
  const identity = isIdentityAugmentation(s.aug);
  const loss = (xp: Tensor): Tensor => {
    let total: Tensor | null = null;
    for (let k = 0; k < s.samples; k++) {
      const t = identity ? xp : applyAugmentation(xp, sampleAugmentation(xp.shape, s.aug, g, s.device));
      const adv = adversarial(model, t, y, s, g).requiresGrad_(true);
      const [ga] = grad(enableGrad(() => F.crossEntropy(model.forward(adv), y)), [adv]);
      const term = t.mul(ga!.detach()).sum();
      total = total === null ? term : total.add(term);
    }
    return total!;
  };
  return pgdLinf(loss, x, { eps: s.eps, steps: s.pgdSteps, stepSize: s.pgdStep, randomStart: true, direction: 'min', generator: g });
}

export const rem: Attack = {
  name: 'rem',
  title: 'REM: robust error-minimizing noise (min-min-max with EOT), unlearnable under adversarial training',
  cite: 'Fu, He, Liu, Shen, Tao, "Robust Unlearnable Examples: Protecting Data Against Adversarial Learning", ICLR 2022',
  norms: ['linf'],
  options: {
    trainSteps: { type: 'int', description: 'source-model training steps (paper: 5000; on a CPU 20–200)', default: 5000, min: 0 },
    batchSize: { type: 'int', description: 'batch size (paper: 128)', default: 128, min: 1 },
    model: { type: 'string', description: "source model (paper: resnet18; 'tiny-cnn' or 'half-cnn' on a CPU)", default: 'resnet18', choices: Object.keys(CLASSIFIERS) },
    lr: { type: 'number', description: 'SGD learning rate (paper: 0.1)', default: 0.1, min: 0 },
    momentum: { type: 'number', description: 'SGD momentum (paper: 0.9)', default: 0.9, min: 0, max: 1 },
    weightDecay: { type: 'number', description: 'SGD weight decay (paper: 5e-4)', default: 5e-4, min: 0 },
    lrDecayRate: { type: 'number', description: 'lr factor every lr-decay-freq steps (paper: 0.1)', default: 0.1, min: 0 },
    lrDecayFreq: { type: 'int', description: 'steps between lr decays (paper: 2000)', default: 2000, min: 1 },
    pgdSteps: { type: 'int', description: 'PGD steps of the noise (outer min) (paper: 10; 2–5 on a CPU)', default: 10, min: 1 },
    pgdStepFrac: { type: 'number', description: 'noise PGD step size as a fraction of ε (paper: 1.6/255 at ε = 8/255, i.e. 0.2)', default: 0.2, min: 0 },
    advEps: { type: 'number', description: 'adversarial-training radius ε_a the noise must withstand, in [0,1] units (paper: ε/2 = 4/255; 0 gives EM with EOT)', default: 4 / 255, min: 0, max: 1 },
    advSteps: { type: 'int', description: 'PGD steps of the inner max (paper: 10; 1–3 on a CPU)', default: 10, min: 0 },
    advStepFrac: { type: 'number', description: 'inner PGD step size as a fraction of adv-eps (paper: 0.8/255 at 4/255, i.e. 0.2)', default: 0.2, min: 0 },
    samples: { type: 'int', description: 'EOT samples of the victim augmentation per noise step (paper: 5; 1 on a CPU)', default: 5, min: 1 },
    cropPadding: { type: 'int', description: 'EOT random-crop padding (paper: 4, CIFAR augmentation; 0 turns crops off)', default: 4, min: 0 },
    flip: { type: 'boolean', description: 'EOT random horizontal flips (paper: on)', default: true },
    stopError: { type: 'number', description: 'stop training early once the robust training error (last epoch of steps) is below this (0: off, as the paper)', default: 0, min: 0, max: 1 },
  },
  prepare(ctx, o) {
    const n = ctx.train.labels.length;
    const [c, h] = ctx.train.shape;
    const trainSteps = o.trainSteps as number;
    const batchSize = o.batchSize as number;
    const lr0 = o.lr as number;
    const decayRate = o.lrDecayRate as number;
    const decayFreq = o.lrDecayFreq as number;
    const stopError = o.stopError as number;
    const advEps = o.advEps as number;
    const s: RemSettings = {
      eps: ctx.eps,
      pgdSteps: o.pgdSteps as number,
      pgdStep: (o.pgdStepFrac as number) * ctx.eps,
      advEps,
      advSteps: o.advSteps as number,
      advStep: (o.advStepFrac as number) * advEps,
      samples: o.samples as number,
      aug: { cropPadding: o.cropPadding as number, flip: o.flip as boolean },
      device: ctx.device,
    };
    const g = new Generator(ctx.seed);
    const model = buildClassifier(o.model as string, { inChannels: c, numClasses: ctx.train.numClasses, imageSize: h, generator: g });
    if (ctx.device !== 'cpu') model.to(ctx.device);
    const params = model.parameters();
    const opt = new SGD(params, { lr: lr0, momentum: o.momentum as number, weightDecay: o.weightDecay as number });
    const data = new TensorDataset(ctx.train, ctx.device);
    const window = Math.ceil(n / batchSize);
    const recent: [number, number][] = [];
    let steps = 0;
    let stoppedEarly = false;
    let lastLoss = NaN;
    let table: Tensor | null = null;
    try {
      // Source-model training on adversarial examples of augmented, perturbed batches.
      let batches = indexBatches(n, { batchSize, shuffle: true, generator: g });
      while (steps < trainSteps) {
        let next = batches.next();
        if (next.done) {
          batches = indexBatches(n, { batchSize, shuffle: true, generator: g });
          next = batches.next();
        }
        const idx = next.value as Tensor;
        opt.lr = lr0 * decayRate ** Math.floor(steps / decayFreq);
        const [loss, correct, m] = scope(() => {
          const b = data.batch(idx);
          model.eval();
          const xd = robustNoise(model, b.x, b.y, s, g);
          const xt = isIdentityAugmentation(s.aug) ? xd : noGrad(() => augmentBatch(xd, s.aug, g));
          const adv = adversarial(model, xt, b.y, s, g);
          model.train();
          const logits = model.forward(adv);
          const l = F.crossEntropy(logits, b.y);
          opt.step(grad(l, params));
          return [l.item(), noGrad(() => logits.argmax(1).eq(b.y).sum().item()), b.y.shape[0]!] as const;
        });
        idx.dispose();
        steps++;
        lastLoss = loss;
        recent.push([correct, m]);
        if (recent.length > window) recent.shift();
        const seen = recent.reduce((a, r) => a + r[1], 0);
        const robustErr = 1 - recent.reduce((a, r) => a + r[0], 0) / seen;
        ctx.onEvent({ type: 'progress', task: `${ctx.task} train`, step: steps, total: trainSteps, metrics: { loss, robust_error: robustErr } });
        if (stopError > 0 && recent.length === window && robustErr < stopError) {
          stoppedEarly = true;
          break;
        }
      }
      batches.return?.(undefined);
      // The final noise of every sample, from the final model.
      model.eval();
      const parts: Tensor[] = [];
      try {
        let k = 0;
        const total = Math.ceil(n / batchSize);
        for (const idx of indexBatches(n, { batchSize })) {
          parts.push(keep(scope(() => {
            const b = data.batch(idx);
            return robustNoise(model, b.x, b.y, s, g).sub(b.x);
          })));
          idx.dispose();
          ctx.onEvent({ type: 'progress', task: `${ctx.task} noise`, step: ++k, total });
        }
        table = keep(noGrad(() => cat(parts, 0)));
      } finally {
        for (const p of parts) p.dispose();
      }
    } finally {
      opt.dispose();
      model.dispose();
      data.dispose();
    }
    const noise = table!;
    return {
      perturb: storedPerturbation(noise),
      meta: { trainSteps: steps, stoppedEarly, lastLoss, advEps },
      dispose: () => noise.dispose(),
    };
  },
};
