// Cutout (DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with Cutout", 2017):
// each image gets one square hole of side `size`, zero-filled, centred at a uniformly random pixel and clipped
// at the borders (so the hole may be partly outside). Labels are unchanged (hard targets).
// The paper's CIFAR-10 size is 16 on 32×32 images; the default here (size 0 = auto) scales it to half of
// the image's shorter side, e.g. 14 on 28×28 Fashion-MNIST, 16 on CIFAR.
import { arange, noGrad, randint, scope, where, zerosLike } from '../engine/index.js';
import type { TrainingDefense } from './types.js';

export const cutout: TrainingDefense = {
  kind: 'training',
  name: 'cutout',
  title: 'Cutout: a zeroed square at a random position in every image',
  cite: 'DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with Cutout", arXiv:1708.04552, 2017',
  options: {
    size: { type: 'int', description: 'side of the square hole in pixels (0 = half the shorter image side: 16 on 32×32 as in the paper)', default: 0, min: 0 },
  },
  makeTransform(options) {
    const given = options.size as number;
    return (x, y, _numClasses, g) =>
      noGrad(() =>
        scope(() => {
          const [n, , h, w] = x.shape as [number, number, number, number];
          const s = given > 0 ? given : Math.max(1, Math.floor(Math.min(h, w) / 2));
          const cy = randint(0, h, [n, 1, 1, 1], { generator: g }).to({ device: x.device });
          const cx = randint(0, w, [n, 1, 1, 1], { generator: g }).to({ device: x.device });
          const lo = Math.floor(s / 2);
          const rows = arange(h, undefined, 1, { dtype: 'int64', device: x.device }).reshape([1, 1, h, 1]);
          const cols = arange(w, undefined, 1, { dtype: 'int64', device: x.device }).reshape([1, 1, 1, w]);
          const inRows = rows.ge(cy.sub(lo)).logicalAnd(rows.lt(cy.sub(lo).add(s)));
          const inCols = cols.ge(cx.sub(lo)).logicalAnd(cols.lt(cx.sub(lo).add(s)));
          const hole = inRows.logicalAnd(inCols);
          return { x: where(hole, zerosLike(x), x), target: y.clone() };
        }),
      );
  },
};
