// DeepConfuse: Feng, Cai, Zhou, "Learning to Confuse: Generating Training Time Adversarial Data with
// Auto-Encoder", NeurIPS 2019.
//
// An auto-encoder g_ξ (here the repo's U-Net, δ = ε·tanh-bounded output) is trained so that a classifier
// trained on x + g_ξ(x) does badly on clean data — the bilevel problem
//     max_ξ  Σ L(f_θ*(ξ)(x), y)   s.t.  θ*(ξ) = argmin_θ Σ L(f_θ(x + g_ξ(x)), y).
// The paper approximates it by alternating: a classifier is trained on data perturbed by the current
// (frozen) generator, and its trajectory θ_0, θ_1, … is remembered; then, at each remembered state θ_t, a
// "pseudo-update" θ'_t = θ_t − α∇θ L(f_θt(x + g_ξ(x)), y) is written as a differentiable function of ξ and
// the generator takes a gradient-ascent step on the clean-data loss L(f_θ't(x), y). After the pass the updated
// generator replaces the frozen one and a fresh classifier starts the next round.
//
// Implementation (what this file does, per round r = 1..rounds):
//   - a fresh classifier f (VGG-style, `classifier`), plain SGD at `lr-cls`;
//   - for `cls-epochs` epochs, for each batch (x, y):
//       1. pseudo-update at the current state θ_t with the *learning* generator g_ξ (train-mode BN):
//          θ' = θ_t − lr-cls·∇θ CE(f_θt(clamp(x + ε·g_ξ(x))), y)   (kept in the graph, second-order)
//          ξ ← Adam-step(ξ, −∇ξ CE(f_θ'(x), y))                    (ascent on the clean-label loss)
//       2. classifier step θ_{t+1} = θ_t − lr-cls·∇θ CE(f_θt(clamp(x + ε·g_frozen(x))), y).
//     Interleaving 1 and 2 batch by batch computes exactly the paper's "record the trajectory, then replay it"
//     scheme, because the trajectory is driven by the frozen generator (the authors' code does the same);
//     the memory of classifier states therefore never has to be stored.
//   - then g_frozen ← g_ξ.
// The perturbation of an image is ε·g_frozen(x) with eval-mode BatchNorm.
//
// Simplifications and choices (vs. the paper / authors' code):
//   - the generator is the repo's U-Net (the authors' CIFAR auto-encoder is the same U-Net design; their
//     MNIST/ImageNet ones are plain conv auto-encoders);
//   - inside pseudo-updates BatchNorm uses batch statistics and updates no running statistics;
//   - the pseudo-update is one plain SGD step (as the authors' code), the classifier has no momentum;
//   - no model selection: the authors keep the generator whose scratch classifier has the lowest *test*
//     accuracy; we return the last generator (selecting on the test set would leak it);
//   - `max-steps` caps the total number of generator updates for CPU runs (no counterpart in the paper).
// Defaults are the authors' CIFAR-10 settings (train.py): ε = 0.032 by the caller, batch 256, classifier
// VGG-11 at lr 0.01, generator Adam lr 1e-4, 20 classifier epochs per round, 1000 rounds (5–7 GPU-days).
import { F, Generator, Tensor, grad, noGrad, scope } from '../engine/index.js';
import { TensorDataset, indexBatches, numBatches } from '../data/loader.js';
import { UNet } from '../nn/models/unet.js';
import { Adam, SGD } from '../optim/index.js';
import { generatorPerturbation } from './poison.js';
import { VGG_PLANS, buildVgg, forwardWith } from './unrolled.js';
import type { Attack } from './types.js';

export const deepConfuse: Attack = {
  name: 'deepconfuse',
  title: 'DeepConfuse: an auto-encoder trained against a classifier trained on its own output (unrolled pseudo-updates)',
  cite: 'Feng, Cai, Zhou, "Learning to Confuse: Generating Training Time Adversarial Data with Auto-Encoder", NeurIPS 2019',
  norms: ['linf'],
  options: {
    rounds: { type: 'int', description: 'rounds: a fresh classifier is trained for cls-epochs while the generator learns, then the generator is frozen for the next round (authors: 1000; on a CPU 1–5)', default: 1000, min: 1 },
    clsEpochs: { type: 'int', description: 'classifier epochs per round (authors: 20; on a CPU 1–3)', default: 20, min: 1 },
    batchSize: { type: 'int', description: 'batch size (authors: 256)', default: 256, min: 1 },
    lrCls: { type: 'number', description: 'SGD learning rate of the classifier and of the pseudo-update (authors: 0.01)', default: 0.01, min: 0 },
    lrGen: { type: 'number', description: 'Adam learning rate of the generator (authors: 1e-4; short CPU runs need ~1e-3)', default: 1e-4, min: 0 },
    genWidth: { type: 'int', description: 'U-Net width (authors: 64; 8–16 on a CPU)', default: 64, min: 1 },
    classifier: { type: 'string', description: "classifier trained in the loop: 'vgg11' (authors' CIFAR choice), 'small' or 'tiny' (CPU)", default: 'vgg11', choices: Object.keys(VGG_PLANS) },
    maxSteps: { type: 'int', description: 'stop after this many generator updates in total (0: no cap; bounds CPU runs)', default: 0, min: 0 },
  },
  prepare(ctx, o) {
    const eps = ctx.eps;
    const [c, h] = ctx.train.shape;
    const n = ctx.train.labels.length;
    const rounds = o.rounds as number;
    const clsEpochs = o.clsEpochs as number;
    const batchSize = o.batchSize as number;
    const lrCls = o.lrCls as number;
    const maxSteps = o.maxSteps as number;
    const g = new Generator(ctx.seed);
    const frozen = new UNet({ channels: c, width: o.genWidth as number, generator: g });
    const learner = new UNet({ channels: c, width: o.genWidth as number, generator: g });
    if (ctx.device !== 'cpu') {
      frozen.to(ctx.device);
      learner.to(ctx.device);
    }
    learner.copyFrom(frozen);
    const data = new TensorDataset(ctx.train, ctx.device);
    const genParams = learner.parameters();
    const genOpt = new Adam(genParams, { lr: o.lrGen as number });
    const perRound = clsEpochs * numBatches(n, { batchSize });
    let steps = 0;
    let roundsRun = 0;
    let last = { poisonLoss: NaN, cleanLossAfter: NaN };
    try {
      for (let r = 1; r <= rounds && !(maxSteps > 0 && steps >= maxSteps); r++) {
        const cls = buildVgg(o.classifier as string, { inChannels: c, imageSize: h, numClasses: ctx.train.numClasses, generator: g });
        if (ctx.device !== 'cpu') cls.to(ctx.device);
        const clsParams = cls.parameters();
        const clsOpt = new SGD(clsParams, { lr: lrCls });
        frozen.eval();
        learner.train();
        cls.train();
        let sumPoison = 0;
        let sumClean = 0;
        let k = 0;
        try {
          outer: for (let e = 0; e < clsEpochs; e++) {
            for (const idx of indexBatches(n, { batchSize, shuffle: true, generator: g })) {
              if (maxSteps > 0 && steps >= maxSteps) {
                idx.dispose();
                break outer;
              }
              const [lp, lc] = scope(() => {
                const b = data.batch(idx);
                // 1. pseudo-update at θ_t, differentiable in the learning generator's parameters ξ.
                const xp = b.x.add(learner.forward(b.x).mul(eps)).clamp(0, 1);
                const inner = F.crossEntropy(forwardWith(cls, new Map(), xp), b.y);
                const gs = grad(inner, clsParams, { createGraph: true });
                const subst = new Map<Tensor, Tensor>(clsParams.map((p, i) => [p, p.sub(gs[i]!.mul(lrCls))]));
                const cleanAfter = F.crossEntropy(forwardWith(cls, subst, b.x), b.y);
                genOpt.step(grad(cleanAfter.neg(), genParams));
                // 2. the remembered trajectory: a real classifier step on data perturbed by the frozen generator.
                const xa = noGrad(() => b.x.add(frozen.forward(b.x).mul(eps)).clamp(0, 1));
                const loss = F.crossEntropy(cls.forward(xa), b.y);
                clsOpt.step(grad(loss, clsParams));
                return [loss.item(), cleanAfter.item()] as const;
              });
              idx.dispose();
              steps++;
              k++;
              sumPoison += lp;
              sumClean += lc;
              ctx.onEvent({ type: 'progress', task: `${ctx.task} round ${r}/${rounds}`, step: k, total: perRound, metrics: { poison_loss: sumPoison / k, clean_loss_after: sumClean / k } });
            }
          }
        } finally {
          clsOpt.dispose();
          cls.dispose();
        }
        frozen.copyFrom(learner);
        roundsRun = r;
        last = { poisonLoss: sumPoison / Math.max(k, 1), cleanLossAfter: sumClean / Math.max(k, 1) };
        ctx.onEvent({ type: 'epoch', task: ctx.task, epoch: r, epochs: rounds, metrics: { poison_loss: last.poisonLoss, clean_loss_after: last.cleanLossAfter } });
      }
    } catch (err) {
      frozen.dispose();
      throw err;
    } finally {
      genOpt.dispose();
      learner.dispose();
      data.dispose();
    }
    frozen.eval();
    return {
      perturb: generatorPerturbation(frozen, eps),
      meta: { rounds: roundsRun, generatorSteps: steps, poisonLoss: last.poisonLoss, cleanLossAfterPseudoUpdate: last.cleanLossAfter },
      dispose: () => frozen.dispose(),
    };
  },
};
