// Mixup (Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", ICLR 2018):
// one λ ~ Beta(α, α) per batch, x̃ = λ·x + (1−λ)·x[π], ỹ = λ·onehot(y) + (1−λ)·onehot(y[π]) for a random
// permutation π of the batch. α = 1 as in the paper's CIFAR-10 experiments (and the GUE/ISS/APBench defense tables).
import { noGrad, oneHot, randperm, scope } from '../engine/index.js';
import type { TrainingDefense } from './types.js';
import { betaSymmetric } from './sampling.js';

export const mixup: TrainingDefense = {
  kind: 'training',
  name: 'mixup',
  title: 'Mixup: convex combinations of image pairs and of their one-hot labels',
  cite: 'Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018',
  options: {
    alpha: { type: 'number', description: 'Beta(α, α) parameter of the mixing weight λ', default: 1, min: 1e-6 },
  },
  makeTransform(options) {
    const alpha = options.alpha as number;
    return (x, y, numClasses, g) =>
      noGrad(() =>
        scope(() => {
          const lam = betaSymmetric(alpha, g);
          const perm = randperm(x.shape[0]!, { generator: g }).to({ device: x.device });
          const t = oneHot(y, numClasses).to('float32');
          return {
            x: x.mul(lam).add(x.indexSelect(0, perm).mul(1 - lam)),
            target: t.mul(lam).add(t.indexSelect(0, perm).mul(1 - lam)),
          };
        }),
      );
  },
};
