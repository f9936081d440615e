// Attacker payoffs J_a (the upper-level objective f, minimised over θ) and the victim loss J_c.
// GUE paper Eq. 3; ablation of Fig. 5. All are mini-batch means.
import { Tensor, F, oneHot, where, fullLike } from '../engine/index.js';

export type PayoffName = 'surrogate' | 'ce' | 'ce-clip';
export const PAYOFFS: readonly PayoffName[] = ['surrogate', 'ce', 'ce-clip'];

/**
 * The surrogate payoff f = mean_i max_{k≠y_i} CE(F(x_i), k)  (= −L_sur of the paper, Eq. 3).
 * Since CE(z, k) = logsumexp(z) − z_k, the max over wrong labels is logsumexp(z) − min_{k≠y} z_k.
 * Minimising it pushes the classifier towards a uniform prediction over the wrong labels.
 */
export function surrogatePayoff(logits: Tensor, y: Tensor): Tensor {
  const k = logits.shape[1]!;
  const mask = oneHot(y, k).to('bool');
  const big = fullLike(logits, Number.POSITIVE_INFINITY);
  const wrong = where(mask, big, logits);
  const minWrong = wrong.amin(1);
  const lse = logits.logsumexp(1);
  const out = lse.sub(minWrong).mean();
  for (const t of [mask, big, wrong, minWrong, lse]) t.dispose();
  return out;
}

/** The plain CE payoff of the ablation: f = −CE(F(x), y) (the attacker maximises the clean loss). */
export function cePayoff(logits: Tensor, y: Tensor): Tensor {
  const ce = F.crossEntropy(logits, y);
  const out = ce.neg();
  ce.dispose();
  return out;
}

/** f for a payoff name. 'ce-clip' has the same value as 'ce'; the solver clips its θ-gradient. */
export function payoff(name: PayoffName, logits: Tensor, y: Tensor): Tensor {
  switch (name) {
    case 'surrogate': return surrogatePayoff(logits, y);
    case 'ce': case 'ce-clip': return cePayoff(logits, y);
  }
}
