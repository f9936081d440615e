// CutMix (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable Features",
// ICCV 2019): with probability `prob`, one λ ~ Beta(α, α) per batch; a box of area ≈ (1−λ)·H·W at a uniformly
// random centre (clipped at the borders) is pasted from x[π] into x; the label weight is the exact kept area
// λ' = 1 − box/(H·W): ỹ = λ'·onehot(y) + (1−λ')·onehot(y[π]). α = 1 and prob 1 as the paper's CIFAR setting.
import { arange, noGrad, oneHot, randperm, scope, where } from '../engine/index.js';
import type { TrainingDefense } from './types.js';
import { betaSymmetric, uniforms } from './sampling.js';

export const cutmix: TrainingDefense = {
  kind: 'training',
  name: 'cutmix',
  title: 'CutMix: a random box pasted from another image of the batch, labels mixed by area',
  cite: 'Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable Features", ICCV 2019',
  options: {
    alpha: { type: 'number', description: 'Beta(α, α) parameter of the area ratio λ', default: 1, min: 1e-6 },
    prob: { type: 'number', description: 'probability of applying CutMix to a batch', default: 1, min: 0, max: 1 },
  },
  makeTransform(options) {
    const alpha = options.alpha as number;
    const prob = options.prob as number;
    return (x, y, numClasses, g) =>
      noGrad(() =>
        scope(() => {
          const t = oneHot(y, numClasses).to('float32');
          const [n, , h, w] = x.shape as [number, number, number, number];
          const [u] = uniforms(1, g);
          if (u! >= prob) return { x: x.clone(), target: t };
          const lam = betaSymmetric(alpha, g);
          const perm = randperm(n, { generator: g }).to({ device: x.device });
          const r = Math.sqrt(1 - lam);
          const cutH = Math.floor(h * r);
          const cutW = Math.floor(w * r);
          const [uy, ux] = uniforms(2, g);
          const cy = Math.min(h - 1, Math.floor(uy! * h));
          const cx = Math.min(w - 1, Math.floor(ux! * w));
          const y1 = Math.max(0, cy - Math.floor(cutH / 2)), y2 = Math.min(h, cy + Math.floor(cutH / 2));
          const x1 = Math.max(0, cx - Math.floor(cutW / 2)), x2 = Math.min(w, cx + Math.floor(cutW / 2));
          const kept = 1 - ((y2 - y1) * (x2 - x1)) / (h * w);
          const rows = arange(h, undefined, 1, { dtype: 'int64', device: x.device }).reshape([1, 1, h, 1]);
          const cols = arange(w, undefined, 1, { dtype: 'int64', device: x.device }).reshape([1, 1, 1, w]);
          const box = rows.ge(y1).logicalAnd(rows.lt(y2)).logicalAnd(cols.ge(x1).logicalAnd(cols.lt(x2)));
          return {
            x: where(box, x.indexSelect(0, perm), x),
            target: t.mul(kept).add(t.indexSelect(0, perm).mul(1 - kept)),
          };
        }),
      );
  },
};
