// Projected gradient descent/ascent on inputs (Madry et al., "Towards Deep Learning Models Resistant to
// Adversarial Attacks", ICLR 2018): the shared building block of adversarial training (PGD-AT, TRADES),
// robust evaluation (PGD-20), and attacks that optimise per-sample noise (EM, TAP, REM).
//   x_{k+1} = Π_{B(x0, ε)} ( x_k ± α · sign(∇_x L(x_k)) ),  clamped to [0, 1]
// Works on any differentiable loss of the input; the model's train/eval mode is the caller's choice.
import { Tensor, Generator, grad, rand, scope, noGrad, enableGrad } from '../engine/index.js';

export interface PgdOptions {
  /** L∞ radius around the centre, in [0,1] units. */
  eps: number;
  steps: number;
  /** Step size α (default ε/4). */
  stepSize?: number;
  /** Start from a uniform random point in the ball (needs a generator for reproducibility). */
  randomStart?: boolean;
  /** 'max' ascends the loss (adversarial examples), 'min' descends it (error-minimizing noise). */
  direction?: 'max' | 'min';
  /** Clamp the iterate to [0, 1] (default true). */
  clampToImage?: boolean;
  generator?: Generator | null;
}

/**
 * Returns x* in the L∞ ball of radius ε around `center` that maximises (or minimises) `loss(x*)`.
 * `init` (optional) is the starting point instead of `center` (e.g. a previous iterate); the result is
 * detached and has no graph. Every intermediate tensor is freed.
 */
export function pgdLinf(loss: (x: Tensor) => Tensor, center: Tensor, o: PgdOptions, init?: Tensor): Tensor {
  const alpha = o.stepSize ?? o.eps / 4;
  const sign = (o.direction ?? 'max') === 'max' ? 1 : -1;
  const clampImg = o.clampToImage ?? true;
  const c = center.detach();
  const project = (x: Tensor): Tensor => {
    const p = x.clamp(c.sub(o.eps), c.add(o.eps));
    return clampImg ? p.clamp(0, 1) : p;
  };
  let x = noGrad(() =>
    scope(() => {
      let s = (init ?? c).detach();
      if (o.randomStart) s = s.add(rand(c.shape, { generator: o.generator ?? null, device: c.device }).mul(2 * o.eps).sub(o.eps));
      return project(s);
    }),
  );
  for (let k = 0; k < o.steps; k++) {
    const next = scope(() => {
      const xi = x.detach().requiresGrad_(true);
      const l = enableGrad(() => loss(xi));
      const [g] = grad(l, [xi]);
      return noGrad(() => project(xi.detach().add(g!.sign().mul(sign * alpha))));
    });
    x.dispose();
    x = next;
  }
  c.dispose();
  return x;
}
