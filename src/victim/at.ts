// Adversarial-training losses and robust evaluation, on top of the shared PGD (src/attacks/pgd.ts):
//  - PGD-AT (Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018):
//      L = CE(F(x + ρ), y),  ρ = argmax_{‖ρ‖∞ ≤ ε_a, x+ρ ∈ [0,1]} CE(F(x + ρ), y) by PGD from a uniform random start.
//  - TRADES (Zhang et al., "Theoretically Principled Trade-off between Robustness and Accuracy", ICML 2019):
//      L = CE(F(x), y) + β · KL(p(x) ‖ p(x + ρ))  (batchmean),  ρ by sign-PGD on the KL from x + σ·N(0, 1),
//      σ = 0.001 as Zhang et al. (the GUE authors' game uses 0.01).
// ρ is always computed on the detached input and then treated as a constant: the returned loss is the AT loss
// at x + ρ, differentiable in the model's parameters and in x (Danskin's envelope gradient of the inner max).
// That is what GUE-AT needs: x = P_w(x₀) carries the generator's graph, the PGD iterates do not.
import { F, Generator, Tensor, cat, noGrad, randn, scope } from '../engine/index.js';
import { pgdLinf } from '../attacks/pgd.js';
import { indexBatches, type TensorDataset } from '../data/index.js';
import type { Module } from '../nn/module.js';

export type AtKind = 'none' | 'pgd' | 'trades';
export const AT_KINDS: readonly AtKind[] = ['none', 'pgd', 'trades'];

/** BN mode while crafting ρ: 'eval' (the standard AT codes), 'train' or 'keep' (the model's current mode). */
export type CraftMode = 'eval' | 'train' | 'keep';

export interface AtLossOptions {
  /** L∞ radius ε_a in [0,1] units. */
  eps: number;
  steps: number;
  /** PGD step (default ε_a/4). */
  stepSize?: number;
  /** Source of the random start (seeded by the caller). */
  generator: Generator;
  craftMode: CraftMode;
  /** TRADES weight β. */
  beta?: number;
  /** TRADES start noise σ (default 0.001). */
  startSigma?: number;
  /** TRADES: one forward of the concatenated batch [x; x+ρ] (BN statistics shared; the GUE authors' choice). */
  concat?: boolean;
}

export interface AtLoss {
  loss: Tensor;
  /** The logits the training accuracy is read from: adversarial ones for PGD-AT, clean ones for TRADES. */
  logits: Tensor;
}

function withMode<T>(m: Module, mode: CraftMode, fn: () => T): T {
  if (mode === 'keep') return fn();
  const was = m.training;
  m.train(mode === 'train');
  try {
    return fn();
  } finally {
    m.train(was);
  }
}

/** ρ (detached) that maximises CE(F(x+ρ), target) in the ε_a-ball, by PGD with a uniform random start. */
export function pgdPerturbation(model: Module, x: Tensor, target: Tensor, o: AtLossOptions): Tensor {
  return withMode(model, o.craftMode, () =>
    scope(() => {
      const xd = x.detach();
      const adv = pgdLinf((xx) => F.crossEntropy(model.forward(xx), target), xd, { eps: o.eps, steps: o.steps, stepSize: o.stepSize ?? o.eps / 4, randomStart: true, generator: o.generator });
      return adv.sub(xd);
    }),
  );
}

/** ρ (detached) that maximises KL(p(x) ‖ p(x+ρ)) in the ε_a-ball, by sign-PGD from x + σ·N(0,1) (TRADES). */
export function tradesPerturbation(model: Module, x: Tensor, o: AtLossOptions): Tensor {
  return withMode(model, o.craftMode, () =>
    scope(() => {
      const xd = x.detach();
      const pNat = noGrad(() => model.forward(xd).softmax(1));
      const init = noGrad(() => xd.add(randn(xd.shape, { generator: o.generator, device: xd.device }).mul(o.startSigma ?? 0.001)));
      const adv = pgdLinf((xx) => F.klDiv(model.forward(xx).logSoftmax(1), pNat, { reduction: 'sum' }), xd, { eps: o.eps, steps: o.steps, stepSize: o.stepSize ?? o.eps / 4, randomStart: false }, init);
      return adv.sub(xd);
    }),
  );
}

/** PGD-AT loss CE(F(x + ρ), target), ρ constant (target: labels or soft targets). */
export function pgdAtLoss(model: Module, x: Tensor, target: Tensor, o: AtLossOptions): AtLoss {
  return scope(() => {
    const rho = pgdPerturbation(model, x, target, o);
    const logits = model.forward(x.add(rho));
    return { loss: F.crossEntropy(logits, target), logits };
  });
}

/** TRADES loss CE(F(x), target) + β·KL(p(x) ‖ p(x+ρ)) (batchmean), ρ constant; gradients flow through both logits. */
export function tradesLoss(model: Module, x: Tensor, target: Tensor, o: AtLossOptions): AtLoss {
  return scope(() => {
    const rho = tradesPerturbation(model, x, o);
    let nat: Tensor;
    let adv: Tensor;
    if (o.concat) {
      const n = x.shape[0]!;
      const both = model.forward(cat([x, x.add(rho)], 0));
      nat = both.narrow(0, 0, n);
      adv = both.narrow(0, n, n);
    } else {
      nat = model.forward(x);
      adv = model.forward(x.add(rho));
    }
    const kl = F.klDiv(adv.logSoftmax(1), nat.softmax(1), { reduction: 'batchmean' });
    return { loss: F.crossEntropy(nat, target).add(kl.mul(o.beta ?? 6)), logits: nat };
  });
}

export interface RobustEvalOptions {
  eps: number;
  steps: number;
  stepSize?: number;
  batchSize: number;
  generator: Generator;
}

/** Top-1 accuracy (%) under PGD (L∞, CE, uniform random start), crafted and measured in eval mode. */
export function robustAccuracy(model: Module, data: TensorDataset, o: RobustEvalOptions): number {
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  try {
    for (const idx of indexBatches(data.size, { batchSize: o.batchSize })) {
      correct += scope(() => {
        const b = data.batch(idx);
        const adv = pgdLinf((xx) => F.crossEntropy(model.forward(xx), b.y), b.x, { eps: o.eps, steps: o.steps, stepSize: o.stepSize ?? o.eps / 4, randomStart: true, generator: o.generator });
        return noGrad(() => model.forward(adv).argmax(1).eq(b.y).sum().item());
      });
      idx.dispose(); // indexBatches yields views that the caller owns
    }
  } finally {
    model.train(wasTraining);
  }
  return (100 * correct) / data.size;
}
