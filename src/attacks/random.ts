// Random noise: the control. Per-sample noise fixed by the seed: uniform U[−ε, ε] or ±ε per pixel under
// L∞, or Gaussian scaled to norm ε per image under L2. It should barely hurt a victim.
import { Generator, Tensor, rand, randint, randn, scope, keep, noGrad } from '../engine/index.js';
import type { Attack } from './types.js';
import { storedPerturbation } from './poison.js';

/** L∞ noise of the given shape: U[−ε, ε] ('uniform') or ±ε per pixel ('sign'), drawn from `g`. */
function linfNoise(shape: number[], kind: unknown, eps: number, g: Generator): Tensor {
  return kind === 'sign'
    ? randint(0, 2, shape, { generator: g }).to('float32').mul(2 * eps).sub(eps)
    : rand(shape, { generator: g }).mul(2 * eps).sub(eps);
}

export const randomNoise: Attack = {
  name: 'random',
  title: 'random noise (control): per-sample uniform or ±ε noise (L∞), or Gaussian scaled to ε (L2)',
  cite: 'the control used throughout the literature, e.g. Huang et al., "Unlearnable Examples", ICLR 2021',
  norms: ['linf', 'l2'],
  options: {
    kind: { type: 'string', description: "L∞ noise: 'uniform' (U[−ε, ε]) or 'sign' (each pixel ±ε)", default: 'uniform', choices: ['uniform', 'sign'] },
  },
  prepare(ctx, options) {
    const [c, h, w] = ctx.train.shape;
    const n = ctx.train.labels.length;
    const g = new Generator(ctx.seed);
    const table: Tensor = noGrad(() =>
      keep(
        scope(() => {
          let d: Tensor;
          if (ctx.norm === 'l2') {
            const z = randn([n, c, h, w], { generator: g });
            d = z.div(z.reshape([n, c * h * w]).norm([1]).reshape([n, 1, 1, 1]).add(1e-12)).mul(ctx.eps);
          } else {
            d = linfNoise([n, c, h, w], options.kind, ctx.eps, g);
          }
          return d.onDevice(ctx.device);
        }),
      ),
    );
    return {
      perturb: storedPerturbation(table),
      meta: { kind: ctx.norm === 'l2' ? 'gaussian' : options.kind },
      dispose: () => table.dispose(),
    };
  },
};

/**
 * Class-wise random noise: one fixed random pattern per class (U[−ε, ε] or ±ε per pixel), added to every image of
 * that class. It uses the labels. The control for class-wise perturbations (Huang et al. 2021, Table 1): a
 * class-wise pattern is a shortcut by construction, so this measures what a label-aligned δ does with no optimisation.
 */
export const randomClassNoise: Attack = {
  name: 'random-class',
  title: 'class-wise random noise (control): one fixed uniform or ±ε pattern per class (L∞; uses the labels)',
  cite: 'Huang et al., "Unlearnable Examples", ICLR 2021 (Table 1, class-wise random noise)',
  norms: ['linf'],
  options: {
    kind: { type: 'string', description: "'uniform' (U[−ε, ε]) or 'sign' (each pixel ±ε)", default: 'uniform', choices: ['uniform', 'sign'] },
  },
  prepare(ctx, options) {
    const [c, h, w] = ctx.train.shape;
    const k = ctx.train.numClasses;
    // One pattern per class, looked up by each batch's labels.
    const patterns: Tensor = noGrad(() => keep(scope(() => linfNoise([k, c, h, w], options.kind, ctx.eps, new Generator(ctx.seed)).onDevice(ctx.device))));
    return {
      perturb: (_x, _index, y) => patterns.indexSelect(0, y.onDevice(patterns.device)),
      meta: { kind: options.kind },
      dispose: () => patterns.dispose(),
    };
  },
};
