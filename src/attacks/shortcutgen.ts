// ShortcutGen: van Vlijmen, Kolmus, Liu, Zhao, Larson, "Generative Poisoning Using Random Discriminators",
// ECML-PKDD 2022.
//
// A generator learns sample-wise, error-minimizing perturbations against a *fixed, randomly initialised*
// classifier (the "random discriminator"): the random network supplies spurious features that the
// generator can push each class towards, so the perturbations become easy shortcuts that a victim learns
// instead of the real features. After training, one forward pass of the generator protects an image; the
// generator sees no label at that point.
//
// Objective implemented here (D frozen at its random initialisation, eval-mode BatchNorm, never updated):
//     min_φ  E_(x,y) CE( D( clamp(x + ε·G_φ(x), 0, 1) ), y ),        G_φ(x) ∈ (−1, 1) (U-Net, tanh head)
// i.e. the perturbed image must be classified as its own label by the random network. Gradients are taken
// with respect to φ only. The perturbation of an image is ε·G_φ(x) with eval-mode BatchNorm.
//
// Simplifications and choices:
//   - generator: the repo's U-Net (the DeepConfuse-style auto-encoder the paper builds on); discriminator: any
//     classifier of the model registry (paper: a ResNet-18);
//   - the paper's augmentation variant (ShortcutGen trained with augmented inputs) is not implemented;
//   - the generator's optimiser settings and epoch count were not available to us from the paper: the
//     defaults (Adam 1e-4 as DeepConfuse's generator, batch 128, 10 epochs) are our choice;
//   - `max-steps` caps the number of generator updates for CPU runs.
import { F, Generator, grad, scope } from '../engine/index.js';
import { TensorDataset, indexBatches, numBatches } from '../data/loader.js';
import { CLASSIFIERS, buildClassifier } from '../nn/models/index.js';
import { UNet } from '../nn/models/unet.js';
import { Adam } from '../optim/index.js';
import { generatorPerturbation } from './poison.js';
import type { Attack } from './types.js';

export const shortcutGen: Attack = {
  name: 'shortcutgen',
  title: 'ShortcutGen: a generator of error-minimizing noise against a fixed, randomly initialised classifier',
  cite: 'van Vlijmen, Kolmus, Liu, Zhao, Larson, "Generative Poisoning Using Random Discriminators", ECML-PKDD 2022',
  norms: ['linf'],
  options: {
    epochs: { type: 'int', description: 'generator training epochs (our default; 1–5 on a CPU)', default: 10, min: 1 },
    batchSize: { type: 'int', description: 'batch size', default: 128, min: 1 },
    lr: { type: 'number', description: 'Adam learning rate of the generator (short CPU runs need ~1e-3)', default: 1e-4, min: 0 },
    genWidth: { type: 'int', description: 'U-Net width (64 as DeepConfuse; 8–16 on a CPU)', default: 64, min: 1 },
    discriminator: { type: 'string', description: "the fixed random classifier (paper: a ResNet-18; 'tiny-cnn' or 'half-cnn' on a CPU)", default: 'resnet18', choices: Object.keys(CLASSIFIERS) },
    maxSteps: { type: 'int', description: 'stop after this many generator updates (0: no cap; bounds CPU runs)', default: 0, min: 0 },
  },
  prepare(ctx, o) {
    const eps = ctx.eps;
    const [c, h] = ctx.train.shape;
    const n = ctx.train.labels.length;
    const epochs = o.epochs as number;
    const batchSize = o.batchSize as number;
    const maxSteps = o.maxSteps as number;
    const g = new Generator(ctx.seed);
    const disc = buildClassifier(o.discriminator as string, { inChannels: c, numClasses: ctx.train.numClasses, imageSize: h, generator: g });
    const gen = new UNet({ channels: c, width: o.genWidth as number, generator: g });
    if (ctx.device !== 'cpu') {
      disc.to(ctx.device);
      gen.to(ctx.device);
    }
    disc.eval();
    const data = new TensorDataset(ctx.train, ctx.device);
    const params = gen.parameters();
    const opt = new Adam(params, { lr: o.lr as number });
    const total = numBatches(n, { batchSize });
    let steps = 0;
    let epochsRun = 0;
    let last = { loss: NaN, acc: NaN };
    try {
      gen.train();
      for (let e = 1; e <= epochs && !(maxSteps > 0 && steps >= maxSteps); e++) {
        let sumLoss = 0;
        let correct = 0;
        let seen = 0;
        let k = 0;
        for (const idx of indexBatches(n, { batchSize, shuffle: true, generator: g })) {
          if (maxSteps > 0 && steps >= maxSteps) {
            idx.dispose();
            break;
          }
          const [l, cor, m] = scope(() => {
            const b = data.batch(idx);
            const logits = disc.forward(b.x.add(gen.forward(b.x).mul(eps)).clamp(0, 1));
            const loss = F.crossEntropy(logits, b.y);
            opt.step(grad(loss, params));
            return [loss.item(), logits.detach().argmax(1).eq(b.y).sum().item(), b.y.shape[0]!] as const;
          });
          idx.dispose();
          steps++;
          k++;
          sumLoss += l * m;
          correct += cor;
          seen += m;
          ctx.onEvent({ type: 'progress', task: `${ctx.task} ${e}/${epochs}`, step: k, total, metrics: { loss: sumLoss / seen, disc_acc: correct / seen } });
        }
        epochsRun = e;
        last = { loss: sumLoss / Math.max(seen, 1), acc: correct / Math.max(seen, 1) };
        ctx.onEvent({ type: 'epoch', task: ctx.task, epoch: e, epochs, metrics: { loss: last.loss, disc_acc: last.acc } });
      }
    } catch (err) {
      gen.dispose();
      throw err;
    } finally {
      opt.dispose();
      disc.dispose();
      data.dispose();
    }
    gen.eval();
    return {
      perturb: generatorPerturbation(gen, eps),
      meta: { epochs: epochsRun, generatorSteps: steps, loss: last.loss, discriminatorAccuracy: last.acc },
      dispose: () => gen.dispose(),
    };
  },
};
