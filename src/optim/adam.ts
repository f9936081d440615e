// Adam (L2 weight decay, AMSGrad, maximize) and AdamW (decoupled weight decay): torch.optim.Adam / AdamW
// (1.13, single-tensor path).
import { scalar, zerosLike, type Tensor } from '../engine/index.js';
import { Optimizer, addScaled, checkHyper, type BaseHyper, type ParamGroup, type ParamState, type Params } from './optimizer.js';

export interface AdamHyper extends BaseHyper {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}
export type AdamOptions = Partial<AdamHyper>;

function validateAdam(h: AdamHyper): void {
  checkHyper('learning rate', h.lr, (x) => x >= 0, 'must be >= 0');
  checkHyper('epsilon', h.eps, (x) => x >= 0, 'must be >= 0');
  if (!Array.isArray(h.betas) || h.betas.length !== 2) throw new RangeError(`invalid betas: ${String(h.betas)} (expected [beta1, beta2])`);
  checkHyper('beta1 (betas[0])', h.betas[0], (x) => x >= 0 && x < 1, 'must be in [0, 1)');
  checkHyper('beta2 (betas[1])', h.betas[1], (x) => x >= 0 && x < 1, 'must be in [0, 1)');
  checkHyper('weightDecay', h.weightDecay, (x) => x >= 0, 'must be >= 0');
}

/** The shared Adam step; `decoupled` selects AdamW's weight decay (p *= 1 - lr * wd) over Adam's L2 term. */
function adamUpdate(p: Tensor, grad: Tensor, group: AdamHyper, st: ParamState, decoupled: boolean,
  buffer: (name: string, t: Tensor) => Tensor): void {
  const { lr, betas: [beta1, beta2], eps, weightDecay, amsgrad, maximize } = group;
  let g = maximize ? grad.neg() : grad;
  if (weightDecay !== 0) {
    if (decoupled) p.mul_(1 - lr * weightDecay);
    else g = addScaled(g, p, weightDecay, maximize);
  }
  const expAvg = st.buffers.get('exp_avg') ?? buffer('exp_avg', zerosLike(p));
  const expAvgSq = st.buffers.get('exp_avg_sq') ?? buffer('exp_avg_sq', zerosLike(p));
  expAvg.mul_(beta1).add_(g, 1 - beta1);
  expAvgSq.mul_(beta2).addcmul_(g, g, 1 - beta2);

  const step = st.step;
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  const stepSize = lr / biasCorrection1;
  const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);

  let second = expAvgSq;
  if (amsgrad) {
    const maxSq = st.buffers.get('max_exp_avg_sq') ?? buffer('max_exp_avg_sq', zerosLike(p));
    maxSq.maximum_(expAvgSq);
    second = maxSq;
  }
  // denom = sqrt(v) / sqrt(bias_correction2) + eps. Dividing in place by a 0-d (CPU scalar) tensor rounds exactly
  // like PyTorch's `tensor / python_float` and saves one parameter-sized temporary.
  const denom = second.sqrt();
  denom.div_(scalar(biasCorrection2Sqrt, { dtype: 'float64' })).add_(eps);
  p.addcdiv_(expAvg, denom, -stepSize);
}

/**
 * Adam, step for step as PyTorch's:
 *   g = maximize ? -grad : grad;  if weightDecay: g = g + weightDecay * p
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;  (amsgrad: vmax = max(vmax, v), used for v)
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * State: 'exp_avg', 'exp_avg_sq', and 'max_exp_avg_sq' with amsgrad.
 */
export class Adam extends Optimizer<AdamHyper> {
  readonly type: string = 'Adam';

  constructor(params: Params<AdamHyper>, opts: AdamOptions = {}) {
    super(params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ?? [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0,
      amsgrad: opts.amsgrad ?? false,
      maximize: opts.maximize ?? false,
    });
  }

  protected validateGroup(h: AdamHyper): void {
    validateAdam(h);
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup<AdamHyper>, st: ParamState): void {
    adamUpdate(p, g, group, st, false, (name, t) => this.buffer(st, name, t));
  }
}

/**
 * AdamW: Adam with decoupled weight decay (default 1e-2), as PyTorch's: p *= 1 - lr * weightDecay, then the Adam
 * step without the L2 term. Same state names as Adam.
 */
export class AdamW extends Optimizer<AdamHyper> {
  readonly type: string = 'AdamW';

  constructor(params: Params<AdamHyper>, opts: AdamOptions = {}) {
    super(params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ?? [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 1e-2,
      amsgrad: opts.amsgrad ?? false,
      maximize: opts.maximize ?? false,
    });
  }

  protected validateGroup(h: AdamHyper): void {
    validateAdam(h);
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup<AdamHyper>, st: ParamState): void {
    adamUpdate(p, g, group, st, true, (name, t) => this.buffer(st, name, t));
  }
}
