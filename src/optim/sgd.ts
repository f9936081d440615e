// SGD with momentum, dampening, Nesterov, L2 weight decay and maximize: torch.optim.SGD (1.13, single-tensor path).
import type { Tensor } from '../engine/index.js';
import { Optimizer, addScaled, checkHyper, type BaseHyper, type ParamGroup, type ParamState, type Params } from './optimizer.js';

export interface SGDHyper extends BaseHyper {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  maximize: boolean;
}
/** SGD options: lr is required, the rest default to 0 / false as in PyTorch. */
export type SGDOptions = Partial<SGDHyper> & { lr: number };

/**
 * Stochastic gradient descent, step for step as PyTorch's:
 *   g = maximize ? -grad : grad;  if weightDecay: g = g + weightDecay * p
 *   if momentum: buf = (first step) clone(g) | momentum * buf + (1 - dampening) * g
 *                g = nesterov ? g + momentum * buf : buf
 *   p -= lr * g
 * State: 'momentum_buffer' (only with momentum).
 */
export class SGD extends Optimizer<SGDHyper> {
  readonly type = 'SGD';

  constructor(params: Params<SGDHyper>, opts: SGDOptions) {
    if (opts === undefined || opts === null || opts.lr === undefined) throw new Error('SGD: a learning rate (lr) is required');
    super(params, {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      nesterov: opts.nesterov ?? false,
      weightDecay: opts.weightDecay ?? 0,
      maximize: opts.maximize ?? false,
    });
  }

  protected validateGroup(h: SGDHyper): void {
    checkHyper('learning rate', h.lr, (x) => x >= 0, 'must be >= 0');
    checkHyper('momentum', h.momentum, (x) => x >= 0, 'must be >= 0');
    checkHyper('dampening', h.dampening, (x) => Number.isFinite(x), 'must be a finite number');
    checkHyper('weightDecay', h.weightDecay, (x) => x >= 0, 'must be >= 0');
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new RangeError('Nesterov momentum requires a momentum > 0 and zero dampening');
    }
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup<SGDHyper>, st: ParamState): void {
    const { lr, momentum, dampening, nesterov, weightDecay, maximize } = group;
    // `owned`: d is a temporary of this step, so it may be updated in place.
    let d = maximize ? grad.neg() : grad;
    let owned = maximize;
    if (weightDecay !== 0) {
      d = addScaled(d, p, weightDecay, owned);
      owned = true;
    }
    if (momentum !== 0) {
      let buf = st.buffers.get('momentum_buffer');
      if (buf === undefined) {
        buf = this.buffer(st, 'momentum_buffer', owned ? d : d.clone());
        owned = false; // d is now the buffer itself
      } else {
        buf.mul_(momentum).add_(d, 1 - dampening);
      }
      if (nesterov) {
        d = addScaled(d, buf, momentum, owned);
        owned = true;
      } else {
        d = buf;
      }
    }
    p.add_(d, -lr);
  }
}
