// Learning-rate schedulers, stepped once per epoch: StepLR, MultiStepLR, CosineAnnealingLR.
// Values follow torch.optim.lr_scheduler (1.13): constructing a scheduler performs step 0 (lastEpoch becomes 0,
// the lr stays at its initial value) and each step() computes the next epoch's lr from the current group lrs
// with PyTorch's own (chainable) recurrences, so the per-epoch values are PyTorch's.
import type { BaseHyper, Json, Optimizer } from './optimizer.js';

/** The JSON state of a scheduler (the optimizer's own state is saved separately). */
export interface SchedulerState {
  type: string;
  lastEpoch: number;
  stepCount: number;
  baseLrs: number[];
  lastLr: number[];
  config: { [k: string]: Json };
}

function pyMod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

export abstract class LRScheduler {
  /** The epoch of the last step(): 0 right after construction. */
  lastEpoch = -1;
  /** The lrs at epoch 0, per group (PyTorch's base_lrs / initial_lr). */
  baseLrs: number[];
  protected lastLr: number[] = [];
  protected stepCount = 0;
  abstract readonly type: string;

  constructor(readonly optimizer: Optimizer<BaseHyper>) {
    // As PyTorch: the first scheduler on an optimizer records each group's initial lr; later ones reuse it.
    this.baseLrs = optimizer.paramGroups.map((g) => {
      if (g.initialLr === undefined) g.initialLr = g.lr;
      return g.initialLr;
    });
  }

  /** The lrs for epoch this.lastEpoch, from the current group lrs (PyTorch's get_lr). */
  protected abstract computeLr(): number[];
  /** The hyperparameters saved in stateDict(). */
  protected abstract config(): { [k: string]: Json };
  /** Restores and validates hyperparameters from stateDict().config. */
  protected abstract setConfig(c: { [k: string]: Json }): void;

  /** Subclasses call this at the end of their constructor (PyTorch's initial self.step()). */
  protected init(): void {
    this.step();
  }

  private groupLrs(): number[] {
    const groups = this.optimizer.paramGroups;
    if (groups.length !== this.baseLrs.length) {
      throw new Error(`${this.type}: the optimizer has ${groups.length} parameter groups but the scheduler was built for ${this.baseLrs.length}`);
    }
    return groups.map((g) => g.lr);
  }
  /** The current lrs of the optimizer's groups. */
  protected currentLrs(): number[] {
    return this.groupLrs();
  }

  /** Advances one epoch and sets the optimizer's group lrs. */
  step(): void {
    this.groupLrs();
    this.stepCount += 1;
    this.lastEpoch += 1;
    const lrs = this.computeLr();
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = lrs[i]!;
    });
    this.lastLr = lrs.slice();
  }

  /** The lrs set by the last step(), per group. */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  stateDict(): SchedulerState {
    return {
      type: this.type,
      lastEpoch: this.lastEpoch,
      stepCount: this.stepCount,
      baseLrs: this.baseLrs.slice(),
      lastLr: this.lastLr.slice(),
      config: this.config(),
    };
  }

  /** Restores a stateDict() of the same scheduler class (restore the optimizer's state dict too). */
  loadStateDict(s: SchedulerState): void {
    if (s.type !== this.type) throw new Error(`loadStateDict: checkpoint is for ${s.type}, not ${this.type}`);
    if (!Number.isInteger(s.lastEpoch) || s.lastEpoch < -1) throw new Error(`loadStateDict: invalid lastEpoch ${String(s.lastEpoch)}`);
    if (!Array.isArray(s.baseLrs) || s.baseLrs.length !== this.optimizer.paramGroups.length) {
      throw new Error(`loadStateDict: checkpoint has ${s.baseLrs?.length ?? 0} base lrs, the optimizer has ${this.optimizer.paramGroups.length} groups`);
    }
    this.setConfig(s.config);
    this.lastEpoch = s.lastEpoch;
    this.stepCount = s.stepCount;
    this.baseLrs = s.baseLrs.slice();
    this.lastLr = s.lastLr.slice();
  }
}

function checkGamma(gamma: unknown, who: string): number {
  if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma < 0) throw new RangeError(`${who}: gamma must be a finite number >= 0, got ${String(gamma)}`);
  return gamma;
}

/** lr = baseLr * gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  readonly type = 'StepLR';
  private stepSize: number;
  private gamma: number;

  constructor(optimizer: Optimizer<BaseHyper>, opts: { stepSize: number; gamma?: number }) {
    super(optimizer);
    this.stepSize = StepLR.checkStepSize(opts?.stepSize);
    this.gamma = checkGamma(opts.gamma ?? 0.1, 'StepLR');
    this.init();
  }
  private static checkStepSize(v: unknown): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`StepLR: stepSize must be a positive integer, got ${String(v)}`);
    return v;
  }
  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }
  protected config(): { [k: string]: Json } {
    return { stepSize: this.stepSize, gamma: this.gamma };
  }
  protected setConfig(c: { [k: string]: Json }): void {
    this.stepSize = StepLR.checkStepSize(c.stepSize);
    this.gamma = checkGamma(c.gamma, 'StepLR');
  }
}

/** lr = baseLr * gamma^(number of milestones <= epoch). Repeated milestones count repeatedly, as in PyTorch. */
export class MultiStepLR extends LRScheduler {
  readonly type = 'MultiStepLR';
  private milestones: number[];
  private gamma: number;

  constructor(optimizer: Optimizer<BaseHyper>, opts: { milestones: number[]; gamma?: number }) {
    super(optimizer);
    this.milestones = MultiStepLR.checkMilestones(opts?.milestones);
    this.gamma = checkGamma(opts.gamma ?? 0.1, 'MultiStepLR');
    this.init();
  }
  private static checkMilestones(m: unknown): number[] {
    if (!Array.isArray(m) || !m.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
      throw new RangeError(`MultiStepLR: milestones must be an array of non-negative integers, got ${JSON.stringify(m)}`);
    }
    return (m as number[]).slice().sort((a, b) => a - b);
  }
  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    const hits = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (hits === 0) return lrs;
    return lrs.map((lr) => lr * this.gamma ** hits);
  }
  protected config(): { [k: string]: Json } {
    return { milestones: this.milestones.slice(), gamma: this.gamma };
  }
  protected setConfig(c: { [k: string]: Json }): void {
    this.milestones = MultiStepLR.checkMilestones(c.milestones);
    this.gamma = checkGamma(c.gamma, 'MultiStepLR');
  }
}

/**
 * Cosine annealing from the base lr to etaMin over tMax epochs (without restarts):
 * lr(t) = etaMin + (baseLr - etaMin) * (1 + cos(pi * t / tMax)) / 2, computed with PyTorch's recurrence.
 * Past tMax it continues along the cosine (rising again), as PyTorch does.
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly type = 'CosineAnnealingLR';
  private tMax: number;
  private etaMin: number;

  constructor(optimizer: Optimizer<BaseHyper>, opts: { tMax: number; etaMin?: number }) {
    super(optimizer);
    this.tMax = CosineAnnealingLR.checkTMax(opts?.tMax);
    this.etaMin = CosineAnnealingLR.checkEtaMin(opts.etaMin ?? 0);
    this.init();
  }
  private static checkTMax(v: unknown): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`CosineAnnealingLR: tMax must be a positive integer, got ${String(v)}`);
    return v;
  }
  private static checkEtaMin(v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`CosineAnnealingLR: etaMin must be a finite number >= 0, got ${String(v)}`);
    return v;
  }
  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    const { lastEpoch: t, tMax, etaMin } = this;
    if (t === 0) return lrs;
    if (pyMod(t - 1 - tMax, 2 * tMax) === 0) {
      return lrs.map((lr, i) => lr + ((this.baseLrs[i]! - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    return lrs.map((lr) => ((1 + Math.cos((Math.PI * t) / tMax)) / (1 + Math.cos((Math.PI * (t - 1)) / tMax))) * (lr - etaMin) + etaMin);
  }
  /** The closed-form lr of epoch `t` for a base lr (what the recurrence tracks). */
  closedFormLr(t: number, baseLr: number): number {
    return this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * t) / this.tMax))) / 2;
  }
  protected config(): { [k: string]: Json } {
    return { tMax: this.tMax, etaMin: this.etaMin };
  }
  protected setConfig(c: { [k: string]: Json }): void {
    this.tMax = CosineAnnealingLR.checkTMax(c.tMax);
    this.etaMin = CosineAnnealingLR.checkEtaMin(c.etaMin);
  }
}
