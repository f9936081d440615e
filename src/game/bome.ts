// The GUE game solver: BOME (Liu et al. 2022) with the dynamic barrier, as the GUE authors run it
// (paper Algorithm 1; reference notes §2). One outer step on a mini-batch (x, y):
//   1. θ^T: copy the classifier θ (parameters and BN buffers) into a scratch copy and take T Adam steps
//      on the poisoned loss g(w, ·) on this same batch (fresh Adam state every outer step).
//   2. a = ∇_θ f(θ), f the attacker payoff on the clean batch (surrogate L_sur by default).
//   3. q(w, θ) = g(w, θ) − g(w, θ^T) with θ^T constant;  b = (∇_w q, ∇_θ q).
//   4. λ = max(0, (η‖b‖² − ⟨a, b_θ⟩) / (‖b‖² + 1e-8)), the norm over (w, θ).
//   5. generator ← SGD(λ b_w);  classifier ← SGD(a + λ b_θ)  (both from the pre-update gradients).
// g(w, θ) = CE(F_θ(P_w(x)), y) with P_w(x) = clamp(x + ε·G_w(x), 0, 1).
//
// path 'exact' recomputes P_w(x) for every inner step and for both terms of q, and backpropagates into
// the generator inside the inner loop (discarded), exactly as the authors' code does.
// path 'fast' computes P_w(x) once per outer step: detached for the inner loop, with its graph for q.
// The gradients are identical (train-mode BN on the same batch gives the same output); only the
// generator's BN running statistics are updated once instead of T + 2 times. 'fast' is the default (measured
// on Fashion-MNIST: same protection as 'exact'; README "Solver path"); 'exact' stays available.
//
// GUE-AT (lowerLoss 'pgd-at' or 'trades'): the victim's loss J_c = g becomes an adversarial-training loss of
// the poisoned batch, everywhere g appears (the T inner steps and both terms of q):
//   pgd-at:  g(w, θ) = CE(F_θ(P_w(x) + ρ), y),                         ρ = PGD-CE(θ, P_w(x))
//   trades:  g(w, θ) = CE(F_θ(P_w(x)), y) + β·KL(p_θ(P_w(x)) ‖ p_θ(P_w(x) + ρ)),  ρ = PGD-KL(θ, P_w(x))
// ρ is crafted on the detached P_w(x) against the classifier of that term (θ^t in the inner loop, θ and θ^T in q)
// and then held constant, so ∇_w q flows through P_w(x) only (Danskin's envelope gradient of the inner max;
// the authors' gue_adv.py detaches ρ the same way), never through the PGD iterates. ∇_θ q is the ordinary
// gradient of the AT loss at fixed ρ. As the authors: PGD-10 with step ε_a/4, the classifier's BN in train mode
// while crafting, TRADES from P_w(x) + 0.01·N(0,1) with one forward of [P_w(x); P_w(x)+ρ]. The random starts
// come from the solver's own seeded generator (atSeed), drawn in the same order on both paths, so 'exact' and
// 'fast' give the same gradients.
import { F, Generator, Tensor, cat, grad, scope } from '../engine/index.js';
import type { Module } from '../nn/module.js';
import { Adam, SGD } from '../optim/index.js';
import { payoff, type PayoffName } from './payoffs.js';
import { pgdAtLoss, tradesLoss, type AtLossOptions } from '../victim/at.js';
import { applyAugmentation, sampleAugmentation } from '../attacks/eot.js';

export type LowerLoss = 'ce' | 'pgd-at' | 'trades';
export const LOWER_LOSSES: readonly LowerLoss[] = ['ce', 'pgd-at', 'trades'];
/** The generator's direction: λ∇_w q (BOME, the authors) or λ∇_w g(w, θ) (the value-function term dropped; ours). */
export type GenGrad = 'q' | 'g';
export const GEN_GRADS: readonly GenGrad[] = ['q', 'g'];
/**
 * The classifier's direction: ∇_θ f + λ∇_θ q (BOME, the authors; the optimistic bilevel problem, θ helps the attacker),
 * ∇_θ g (a victim's ERM step; ours), or 'pessimistic' (ours): the paper's Eq. 4 takes the sup of the attacker's payoff over
 * the victim's near-best responses, so θ ascends f under the barrier, −∇_θ f + λ∇_θ q with
 * λ = max(0, (η‖∇_θ q‖² + ⟨∇_θ f, ∇_θ q⟩)/‖∇_θ q‖²), and the generator ascends λ∇_w q (the envelope gradient of
 * min_w max_{θ: q ≤ 0} f, which is −λ∇_w q since f does not depend on w). Needs a payoff bounded above over θ ('ce').
 */
export type ClsGrad = 'bome' | 'erm' | 'pessimistic';
export const CLS_GRADS: readonly ClsGrad[] = ['bome', 'erm', 'pessimistic'];

export interface GameOptions {
  /** L∞ budget ε (in [0,1] units, e.g. 8/255). */
  eps: number;
  /** Inner steps T. */
  innerSteps: number;
  /** η (ρ in the paper) of the dynamic barrier. */
  eta: number;
  /** Classifier (θ) SGD learning rate. */
  lrCls: number;
  /** Generator (w) SGD learning rate. */
  lrGen: number;
  /** Inner Adam learning rate (authors' code 1e-4; the paper's text says 1e-3). */
  lrInner: number;
  /** Generator SGD momentum and weight decay (0 in the standard game; GUE-AT uses 0.9 / 5e-4). */
  genMomentum: number;
  genWeightDecay: number;
  payoff: PayoffName;
  /** ‖∇_θ J_a‖ clip for payoff 'ce-clip' (Fig. 5 uses 10). */
  clipNorm: number;
  path: 'exact' | 'fast';
  /** The victim's loss L_c in the game: 'ce' (GUE) or an AT loss (GUE-AT; the authors use 'trades'). */
  lowerLoss: LowerLoss;
  /** GUE-AT radius ε_a ([0,1] units; authors 4/255). */
  atEps: number;
  /** GUE-AT PGD steps (authors 10; step ε_a/4). */
  atSteps: number;
  /** TRADES β in the game (authors 1). */
  tradesBeta: number;
  /** Seed of the PGD random starts. */
  atSeed: number;
  /** Generator direction (see GenGrad); 'q' is the authors'. */
  genGrad: GenGrad;
  /** Classifier direction (see ClsGrad); 'bome' is the authors'. */
  clsGrad: ClsGrad;
  /**
   * Supervised routing (ours; 0 = off, the authors' game): for a generator with a router (`--gen-arch templates`), the
   * generator also descends routeWeight·CE(router(x), y) on the clean batch, so it learns to pick pattern y for an
   * image of class y. Without it the router collapses onto one or two patterns (docs/study.md, "A template generator").
   */
  routeWeight: number;
  /**
   * The generator's optimizer: 'sgd' (the authors: SGD with genMomentum / genWeightDecay) or 'adam' (ours: Adam with
   * lr lrGen and weight decay genWeightDecay; per-parameter normalised steps, as EM's signed PGD steps on δ).
   */
  genOptim: GenOptim;
  /**
   * The victim's augmentation inside the game (ours; 'none' = the authors): with 'crop-flip' the lower-level loss g
   * sees the poisoned batch through one random crop (padding 4) and horizontal flip per sample, drawn once per outer
   * step and shared by the inner steps and both terms of q, as a victim trained with RandomCrop + Flip sees it
   * (expectation over transformation, as REM does). f stays on the clean, unaugmented batch.
   */
  gameAugment: GameAugment;
}

export type GameAugment = 'none' | 'crop-flip';
export const GAME_AUGMENTS: readonly GameAugment[] = ['none', 'crop-flip'];

export type GenOptim = 'sgd' | 'adam';
export const GEN_OPTIMS: readonly GenOptim[] = ['sgd', 'adam'];

/** A generator whose forward mixes patterns chosen by a router (src/nn/models/template-gen.ts). */
interface RoutedGenerator extends Module {
  routeLogits(x: Tensor): Tensor;
}
function isRouted(m: Module): m is RoutedGenerator {
  const r = m as unknown as { routeLogits?: unknown; routing?: unknown };
  return typeof r.routeLogits === 'function' && r.routing !== 'label';
}

export const GAME_DEFAULTS: Readonly<GameOptions> = Object.freeze({
  eps: 8 / 255,
  innerSteps: 10,
  eta: 1.5,
  lrCls: 0.01,
  lrGen: 0.1,
  lrInner: 1e-4,
  genMomentum: 0,
  genWeightDecay: 0,
  payoff: 'surrogate',
  clipNorm: 10,
  path: 'fast',
  lowerLoss: 'ce',
  atEps: 4 / 255,
  atSteps: 10,
  tradesBeta: 1,
  atSeed: 0,
  genGrad: 'q',
  clsGrad: 'bome',
  routeWeight: 0,
  genOptim: 'sgd',
  gameAugment: 'none',
});

export interface StepMetrics {
  /** Attacker payoff f(θ) on the clean batch. */
  f: number;
  /** g(w, θ): the lower-level loss (CE, or the AT loss for GUE-AT) of the classifier on the poisoned batch. */
  g: number;
  /** g(w, θ^T) after the inner steps. */
  gInner: number;
  /** q = g(w, θ) − g(w, θ^T). */
  q: number;
  lambda: number;
  /** ‖∇q‖ over (w, θ). */
  gradQNorm: number;
  /** ⟨∇_θ f, ∇_θ q⟩. */
  dot: number;
  /** ‖∇_θ J_a‖ (before any clipping). */
  gradFNorm: number;
  /** ‖∇_w q‖. */
  gradQwNorm: number;
  /** With routeWeight > 0: the router's CE on the clean batch and its accuracy there. */
  routeLoss?: number;
  routeAcc?: number;
}

/** P_w(x) = clamp(x + ε·G_w(x), 0, 1). `y` reaches generators that take labels (class-templates); others ignore it. */
export function poisonBatch(gen: Module, x: Tensor, eps: number, y?: Tensor): Tensor {
  return scope(() => x.add((gen as unknown as { forward(x: Tensor, y?: Tensor): Tensor }).forward(x, y).mul(eps)).clamp(0, 1));
}

function sumSquares(ts: Tensor[]): number {
  return scope(() => cat(ts.map((t) => t.square().sum().reshape([1]))).sum().item());
}
function sumDots(a: Tensor[], b: Tensor[]): number {
  return scope(() => cat(a.map((t, i) => t.mul(b[i]!).sum().reshape([1]))).sum().item());
}

/** The dynamic barrier's multiplier: λ = max(0, (η‖∇q‖² − ⟨∇f, ∇q⟩) / (‖∇q‖² + 1e-8)). */
export function dynamicBarrierLambda(eta: number, gradQNormSq: number, dot: number): number {
  return Math.max(0, (eta * gradQNormSq - dot) / (gradQNormSq + 1e-8));
}

/** Throws a user-readable error for game options the solver cannot run (called before a run writes anything). */
export function checkGameOptions(o: GameOptions): void {
  if (!(o.eps > 0 && o.eps <= 1)) throw new Error(`eps must be in (0, 1], got ${o.eps}`);
  if (!Number.isInteger(o.innerSteps) || o.innerSteps < 1) throw new Error(`innerSteps must be a positive integer, got ${o.innerSteps}`);
  if (!(o.eta >= 0)) throw new Error(`eta must be >= 0, got ${o.eta}`);
  if (!LOWER_LOSSES.includes(o.lowerLoss)) throw new Error(`lowerLoss must be one of ${LOWER_LOSSES.join(', ')}, got '${String(o.lowerLoss)}'`);
  if (o.lowerLoss !== 'ce') {
    if (!(o.atEps > 0 && o.atEps <= 1)) throw new Error(`atEps must be in (0, 1], got ${o.atEps}`);
    if (!Number.isInteger(o.atSteps) || o.atSteps < 1) throw new Error(`atSteps must be a positive integer, got ${o.atSteps}`);
    if (!(o.tradesBeta >= 0)) throw new Error(`tradesBeta must be >= 0, got ${o.tradesBeta}`);
  }
  if (!GEN_GRADS.includes(o.genGrad)) throw new Error(`genGrad must be one of ${GEN_GRADS.join(', ')}, got '${String(o.genGrad)}'`);
  if (!CLS_GRADS.includes(o.clsGrad)) throw new Error(`clsGrad must be one of ${CLS_GRADS.join(', ')}, got '${String(o.clsGrad)}'`);
  if (!GAME_AUGMENTS.includes(o.gameAugment)) throw new Error(`gameAugment must be one of ${GAME_AUGMENTS.join(', ')}, got '${String(o.gameAugment)}'`);
  if (!GEN_OPTIMS.includes(o.genOptim)) throw new Error(`genOptim must be one of ${GEN_OPTIMS.join(', ')}, got '${String(o.genOptim)}'`);
  if (o.genOptim === 'adam' && o.genMomentum !== 0) throw new Error("genMomentum applies to genOptim 'sgd' (Adam has its own moments)");
  if (!(typeof o.routeWeight === 'number' && o.routeWeight >= 0)) throw new Error(`routeWeight must be a number >= 0, got ${String(o.routeWeight)}`);
  if (o.clsGrad === 'pessimistic' && o.payoff === 'surrogate') {
    throw new Error("clsGrad 'pessimistic' maximises the payoff over θ, and the surrogate payoff is unbounded above there; use payoff 'ce' (--payoff ce)");
  }
}

export class GameSolver {
  readonly opts: GameOptions;
  readonly genOpt: SGD | Adam;
  readonly clfOpt: SGD;
  private readonly genParams: Tensor[];
  private readonly clfParams: Tensor[];
  private readonly tmpParams: Tensor[];
  /** Source of the PGD random starts (GUE-AT); its state is saved in checkpoints. */
  readonly rng: Generator;

  /**
   * gen: the generator G_w; clf: the surrogate classifier F_θ; scratch: a second instance of clf's architecture
   * used for θ^T (its weights are overwritten every step).
   */
  constructor(readonly gen: Module, readonly clf: Module, readonly scratch: Module, opts: Partial<GameOptions> = {}) {
    this.opts = { ...GAME_DEFAULTS, ...opts };
    const o = this.opts;
    checkGameOptions(o);
    this.rng = new Generator(o.atSeed);
    this.genParams = gen.parameters();
    this.clfParams = clf.parameters();
    this.tmpParams = scratch.parameters();
    if (o.routeWeight > 0 && !isRouted(gen)) throw new Error('routeWeight needs a generator with a router (--gen-arch templates); the U-Net and class-templates have none');
    if (this.tmpParams.length !== this.clfParams.length) throw new Error('the scratch classifier must have the same architecture as the classifier');
    this.genOpt = o.genOptim === 'adam'
      ? new Adam(this.genParams, { lr: o.lrGen, weightDecay: o.genWeightDecay })
      : new SGD(this.genParams, { lr: o.lrGen, momentum: o.genMomentum, weightDecay: o.genWeightDecay });
    this.clfOpt = new SGD(this.clfParams, { lr: o.lrCls });
  }

  /** The lower-level loss g of `model` on the poisoned batch `xp` (CE, or an AT loss with ρ held constant). */
  lowerLoss(model: Module, xp: Tensor, y: Tensor): Tensor {
    const o = this.opts;
    if (o.lowerLoss === 'ce') return F.crossEntropy(model.forward(xp), y);
    const at: AtLossOptions = {
      eps: o.atEps, steps: o.atSteps, stepSize: o.atEps / 4, beta: o.tradesBeta, generator: this.rng,
      craftMode: 'keep', startSigma: 0.01, concat: true,
    };
    return scope(() => (o.lowerLoss === 'pgd-at' ? pgdAtLoss(model, xp, y, at) : tradesLoss(model, xp, y, at)).loss);
  }

  /**
   * θ^T: T Adam steps from θ on g(w, ·) with this batch. `xp` is the detached (augmented) poisoned batch on the fast
   * path, or null: then `poisoned()` recomputes it with the generator's graph at every step, as the authors do.
   */
  private innerSolve(y: Tensor, xp: Tensor | null, poisoned: () => Tensor): void {
    const o = this.opts;
    this.scratch.copyFrom(this.clf);
    this.scratch.train();
    const inner = new Adam(this.tmpParams, { lr: o.lrInner });
    try {
      for (let t = 0; t < o.innerSteps; t++) {
        scope(() => {
          if (xp !== null) {
            const loss = this.lowerLoss(this.scratch, xp, y);
            inner.step(grad(loss, this.tmpParams));
          } else {
            // The authors' loop: the generator runs forward (and backward) at every inner step.
            const loss = this.lowerLoss(this.scratch, poisoned(), y);
            const gs = grad(loss, [...this.tmpParams, ...this.genParams], { allowUnused: true });
            inner.step(gs.slice(0, this.tmpParams.length));
          }
        });
      }
    } finally {
      inner.dispose();
    }
  }

  /** One outer step of the game on (x, y). Updates the generator and the classifier in place. */
  step(x: Tensor, y: Tensor): StepMetrics {
    const o = this.opts;
    return scope(() => {
      this.gen.train();
      this.clf.train();
      const fast = o.path === 'fast';
      // gameAugment: one crop/flip draw per outer step, applied wherever g sees the poisoned batch.
      const augMap = o.gameAugment === 'crop-flip' ? sampleAugmentation(x.shape, { cropPadding: 4, flip: true }, this.rng, x.device) : null;
      const poisoned = (): Tensor => {
        const xp = poisonBatch(this.gen, x, o.eps, y);
        return augMap === null ? xp : applyAugmentation(xp, augMap);
      };
      const xpShared = fast ? poisoned() : null;
      const xpDetached = xpShared ? xpShared.detach() : null;
      this.innerSolve(y, xpDetached, poisoned);

      // a = ∇_θ f on the clean batch
      const f = payoff(o.payoff, this.clf.forward(x), y);
      let a = grad(f, this.clfParams) as Tensor[];
      const gradFNorm = Math.sqrt(sumSquares(a));
      if (o.payoff === 'ce-clip' && gradFNorm > o.clipNorm) {
        const s = o.clipNorm / (gradFNorm + 1e-6);
        a = a.map((t) => t.mul(s));
      }

      // q = g(w, θ) − g(w, θ^T)
      const xp1 = xpShared ?? poisoned();
      const loss1 = this.lowerLoss(this.clf, xp1, y);
      const xp2 = xpShared ?? poisoned();
      const loss2 = this.lowerLoss(this.scratch, xp2, y);
      const q = loss1.sub(loss2);
      const nG = this.genParams.length;
      // genGrad 'g': the generator descends g(w, θ) alone (the value-function term −∇_w g(w, θ^T) dropped).
      const bwG = o.genGrad === 'g' ? grad(loss1, this.genParams, { retainGraph: true, allowUnused: true }).map((t, i) => t ?? this.genParams[i]!.mul(0)) : null;
      const b = grad(q, [...this.genParams, ...this.clfParams], { allowUnused: true }).map((t, i) =>
        t ?? (i < nG ? this.genParams[i]! : this.clfParams[i - nG]!).mul(0),
      );
      const bt = b.slice(nG);
      const bw = bwG ?? b.slice(0, nG);

      const normSq = sumSquares(b);
      const dot = sumDots(a, bt);
      const pess = o.clsGrad === 'pessimistic';
      // clsGrad 'pessimistic': θ ascends f inside the barrier, so λ comes from θ's own constraint gradient:
      // λ = max(0, (η‖∇_θ q‖² + ⟨∇_θ f, ∇_θ q⟩) / ‖∇_θ q‖²).
      const lambda = pess ? dynamicBarrierLambda(o.eta, sumSquares(bt), -dot) : dynamicBarrierLambda(o.eta, normSq, dot);

      // pessimistic: the generator ascends λ∇_w q (envelope gradient of min_w max_{θ: q ≤ 0} f).
      let genStep = bw.map((t) => t.mul(pess ? -lambda : lambda));
      let route: { routeLoss: number; routeAcc: number } | null = null;
      if (o.routeWeight > 0 && isRouted(this.gen)) {
        const logits = this.gen.routeLogits(x);
        const rl = F.crossEntropy(logits, y);
        const gr = grad(rl.mul(o.routeWeight), this.genParams, { allowUnused: true });
        genStep = genStep.map((t, i) => (gr[i] ? t.add(gr[i]!) : t));
        route = { routeLoss: rl.item(), routeAcc: logits.argmax(1).eq(y).to('float32').mean().item() };
      }
      this.genOpt.step(genStep);
      // clsGrad 'erm': θ takes the victim's step on the poisoned batch (∇_θ q = ∇_θ g(w, θ) since θ^T is constant).
      this.clfOpt.step(
        o.clsGrad === 'bome' ? a.map((t, i) => t.add(bt[i]!.mul(lambda)))
          : pess ? a.map((t, i) => bt[i]!.mul(lambda).sub(t)) : bt,
      );

      return {
        f: f.item(),
        g: loss1.item(),
        gInner: loss2.item(),
        q: q.item(),
        lambda,
        gradQNorm: Math.sqrt(normSq),
        dot,
        gradFNorm,
        gradQwNorm: Math.sqrt(sumSquares(b.slice(0, nG))),
        ...(route ?? {}),
      };
    });
  }

  dispose(): void {
    this.genOpt.dispose();
    this.clfOpt.dispose();
  }
}
