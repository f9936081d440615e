// Optimizer base class: parameter groups, lazily created per-parameter state, in-place no-grad updates,
// and checkpointable state (tensors + JSON hyperparameters), as torch.optim.Optimizer.
import { Tensor, keep, noGrad, scope } from '../engine/index.js';

/** A JSON value (what the `hyper` half of a state dict is made of). */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Hyperparameters every optimizer has. Subclasses extend this with their own (JSON-able) fields. */
export interface BaseHyper {
  lr: number;
}

/** A parameter group as given to a constructor: its tensors and any per-group overrides of the defaults. */
export type ParamGroupSpec<H extends BaseHyper = BaseHyper> = { params: Tensor[] } & Partial<H>;

/** What an optimizer is built from: a flat list of parameters (one group) or a list of groups. */
export type Params<H extends BaseHyper = BaseHyper> = Tensor[] | ParamGroupSpec<H>[];

/** A live parameter group. Hyperparameters (lr included) may be changed between steps. */
export type ParamGroup<H extends BaseHyper = BaseHyper> = {
  params: Tensor[];
  /** The lr the first scheduler attached to this optimizer saw (set by the schedulers, as PyTorch's initial_lr). */
  initialLr?: number;
} & H;

/** Per-parameter state: the number of updates applied and the named state tensors (owned by the optimizer). */
export interface ParamState {
  step: number;
  buffers: Map<string, Tensor>;
}

/** The JSON half of an optimizer state dict. */
export interface OptimizerHyperState {
  /** The optimizer class ('SGD', 'Adam', 'AdamW'). */
  type: string;
  /** One entry per group: its hyperparameters and how many parameters it holds. */
  groups: { [k: string]: Json }[];
  /** Update count per parameter (flat index over all groups, in order); 0 for parameters never updated. */
  steps: number[];
}

/**
 * An optimizer checkpoint. `state` maps flat names "state.<paramIndex>.<buffer>" (PyTorch's buffer names:
 * momentum_buffer, exp_avg, exp_avg_sq, max_exp_avg_sq) to tensors; `hyper` is JSON-serialisable.
 */
export interface OptimizerStateDict {
  state: Map<string, Tensor>;
  hyper: OptimizerHyperState;
}

/** Throws unless `v` is a finite number (or +Infinity where allowed) satisfying `ok`. */
export function checkHyper(name: string, v: unknown, ok: (x: number) => boolean, what: string): void {
  if (typeof v !== 'number' || Number.isNaN(v) || !ok(v)) {
    throw new RangeError(`invalid ${name}: ${String(v)} (${what})`);
  }
}

function copyHyper<T>(v: T): T {
  return (Array.isArray(v) ? [...v] : v) as T;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/**
 * Base class of the optimizers. Updates run under noGrad, in place on the parameter tensors (references
 * held elsewhere, e.g. by modules, stay valid), and free every temporary they create. State tensors are
 * kept alive by the optimizer until dispose() or loadStateDict().
 */
export abstract class Optimizer<H extends BaseHyper = BaseHyper> {
  /** The parameter groups, in order. Change `lr` (or other hyperparameters) here for per-group control. */
  readonly paramGroups: ParamGroup<H>[] = [];
  /** The defaults new groups are filled from. */
  readonly defaults: Readonly<H>;
  /** Per-parameter state, by flat parameter index over all groups. */
  protected readonly state: (ParamState | undefined)[] = [];
  /** The class tag written to state dicts. */
  abstract readonly type: string;

  protected constructor(params: Params<H>, defaults: H) {
    this.defaults = Object.freeze({ ...defaults });
    if (!Array.isArray(params) || params.length === 0) throw new Error('optimizer got an empty parameter list');
    const specs: ParamGroupSpec<H>[] = params[0] instanceof Tensor
      ? [{ params: params as Tensor[] } as ParamGroupSpec<H>]
      : (params as ParamGroupSpec<H>[]);
    for (const s of specs) this.addParamGroup(s);
  }

  /** Checks a group's hyperparameters; throws a RangeError naming the bad one. */
  protected abstract validateGroup(group: H): void;

  /**
   * Applies one update to parameter `p` with gradient `g`. Runs inside noGrad and a scope (temporaries are freed
   * afterwards; create state with this.buffer()). `st.step` has already been incremented. Must not modify `g`.
   */
  protected abstract update(p: Tensor, g: Tensor, group: ParamGroup<H>, st: ParamState): void;

  /** Appends a parameter group (its missing hyperparameters come from the defaults). */
  addParamGroup(spec: ParamGroupSpec<H>): void {
    if (spec === null || typeof spec !== 'object' || !Array.isArray(spec.params)) {
      throw new Error('a parameter group must be an object with a params array');
    }
    if (spec.params.length === 0) throw new Error('optimizer got a parameter group with no parameters');
    const group = {} as Record<string, unknown>;
    for (const [k, v] of Object.entries(this.defaults)) group[k] = copyHyper(v);
    for (const [k, v] of Object.entries(spec)) {
      if (k !== 'params' && v !== undefined) group[k] = copyHyper(v);
    }
    const seen = new Set(this.params);
    for (const p of spec.params) {
      if (!(p instanceof Tensor)) throw new Error('optimizer parameters must be Tensors');
      if (p.isDisposed) throw new Error('optimizer got a disposed parameter tensor');
      if (seen.has(p)) throw new Error('a parameter appears more than once across the optimizer\'s parameter groups');
      seen.add(p);
    }
    group.params = [...spec.params];
    this.validateGroup(group as unknown as H);
    this.paramGroups.push(group as unknown as ParamGroup<H>);
  }

  /** All parameters, in flat-index order (group by group). */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** The learning rate of group 0. */
  get lr(): number {
    return this.paramGroups[0]!.lr;
  }
  /** Sets the learning rate of group 0 only (use paramGroups[i].lr for the others). */
  set lr(v: number) {
    checkHyper('learning rate', v, (x) => x >= 0, 'must be >= 0');
    this.paramGroups[0]!.lr = v;
  }

  /**
   * One optimisation step. With `grads` (one entry per parameter, in flat order over all groups), those are the
   * gradients; otherwise each parameter's `.grad` is used. Null entries (or a missing .grad) skip that parameter,
   * its state included. The given gradients are neither modified nor freed.
   */
  step(grads?: readonly (Tensor | null | undefined)[]): void {
    const n = this.paramGroups.reduce((a, g) => a + g.params.length, 0);
    if (grads !== undefined && grads.length !== n) {
      throw new Error(`step(grads): expected ${n} gradients (one per parameter), got ${grads.length}`);
    }
    for (const g of this.paramGroups) this.validateGroup(g);
    noGrad(() => scope(() => {
      // Gather and check every gradient first, so a bad one leaves all parameters untouched.
      const all = this.paramGroups.flatMap((group) => group.params.map((p) => ({ p, group })));
      const gs = all.map(({ p }, i) => {
        const g = grads !== undefined ? grads[i] : p.grad;
        if (g === null || g === undefined) return null;
        if (g.isDisposed) throw new Error(`step: gradient ${i} was already disposed`);
        if (!sameShape(g.shape, p.shape)) {
          throw new Error(`step: gradient ${i} has shape [${g.shape.join(', ')}] but its parameter has shape [${p.shape.join(', ')}]`);
        }
        return g;
      });
      all.forEach(({ p, group }, i) => {
        const g = gs[i];
        if (g === null || g === undefined) return;
        const st = this.state[i] ?? (this.state[i] = { step: 0, buffers: new Map() });
        st.step += 1;
        scope(() => this.update(p, g, group, st));
      });
    }));
  }

  /** Stores `t` as state buffer `name` (kept alive, owned by the optimizer) and returns it. */
  protected buffer(st: ParamState, name: string, t: Tensor): Tensor {
    const old = st.buffers.get(name);
    if (old !== undefined && old !== t) old.dispose();
    st.buffers.set(name, keep(t));
    return t;
  }

  /** Clears the gradients: sets `.grad` to null on every parameter. */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** Update count of parameter `index` (flat over groups); 0 before its first update. */
  stepCount(index = 0): number {
    return this.state[index]?.step ?? 0;
  }

  /**
   * A checkpoint. The state tensors are fresh handles onto the optimizer's own buffers (no copy): the caller owns
   * the handles (dispose them, or let a scope do it) but their contents change with later steps; clone() them for
   * a snapshot.
   */
  stateDict(): OptimizerStateDict {
    const state = new Map<string, Tensor>();
    const steps: number[] = [];
    const n = this.paramGroups.reduce((a, g) => a + g.params.length, 0);
    for (let i = 0; i < n; i++) {
      const st = this.state[i];
      steps.push(st?.step ?? 0);
      if (st) for (const [name, t] of st.buffers) state.set(`state.${i}.${name}`, t.detach());
    }
    const groups = this.paramGroups.map((g) => {
      const o: { [k: string]: Json } = {};
      for (const [k, v] of Object.entries(g)) {
        if (k !== 'params' && v !== undefined) o[k] = copyHyper(v) as Json;
      }
      o.numParams = g.params.length;
      return o;
    });
    return { state, hyper: { type: this.type, groups, steps } };
  }

  /**
   * Restores a checkpoint taken with stateDict() from an optimizer of the same class over parameters of the same
   * shapes and grouping. Group hyperparameters (lr included) and all state are replaced; the tensors are copied
   * (to each parameter's dtype and device), so the caller may free its dict afterwards. Validates everything
   * before changing anything.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const { hyper, state } = sd;
    if (hyper.type !== this.type) throw new Error(`loadStateDict: checkpoint is for ${hyper.type}, not ${this.type}`);
    if (hyper.groups.length !== this.paramGroups.length) {
      throw new Error(`loadStateDict: checkpoint has ${hyper.groups.length} parameter groups, optimizer has ${this.paramGroups.length}`);
    }
    const params = this.params;
    const newGroups = hyper.groups.map((saved, gi) => {
      const group = this.paramGroups[gi]!;
      if (saved.numParams !== group.params.length) {
        throw new Error(`loadStateDict: group ${gi} has ${String(saved.numParams)} parameters in the checkpoint, ${group.params.length} here`);
      }
      const next: Record<string, unknown> = { ...(group as unknown as Record<string, unknown>) };
      for (const [k, v] of Object.entries(saved)) if (k !== 'numParams' && k !== 'params') next[k] = copyHyper(v);
      this.validateGroup(next as unknown as H);
      return next;
    });
    if (!Array.isArray(hyper.steps) || hyper.steps.length !== params.length) {
      throw new Error(`loadStateDict: checkpoint has step counts for ${hyper.steps?.length ?? 0} parameters, optimizer has ${params.length}`);
    }
    hyper.steps.forEach((s, i) => {
      if (!Number.isInteger(s) || s < 0) throw new Error(`loadStateDict: invalid step count ${String(s)} for parameter ${i}`);
    });
    const parsed: { index: number; name: string; t: Tensor }[] = [];
    for (const [key, t] of state) {
      const m = /^state\.(\d+)\.(.+)$/.exec(key);
      if (m === null) throw new Error(`loadStateDict: unexpected state key '${key}'`);
      const index = Number(m[1]);
      const p = params[index];
      if (p === undefined) throw new Error(`loadStateDict: state key '${key}' names parameter ${index}, but there are ${params.length}`);
      if (!sameShape(t.shape, p.shape)) {
        throw new Error(`loadStateDict: '${key}' has shape [${t.shape.join(', ')}], parameter ${index} has [${p.shape.join(', ')}]`);
      }
      parsed.push({ index, name: m[2]!, t });
    }
    // Apply.
    newGroups.forEach((next, gi) => {
      Object.assign(this.paramGroups[gi]!, next);
    });
    this.disposeState();
    hyper.steps.forEach((s, i) => {
      if (s > 0) this.state[i] = { step: s, buffers: new Map() };
    });
    noGrad(() => {
      for (const { index, name, t } of parsed) {
        const p = params[index]!;
        let st = this.state[index];
        if (st === undefined) {
          st = { step: 0, buffers: new Map() };
          this.state[index] = st;
        }
        st.buffers.set(name, keep(t.to({ dtype: p.dtype, device: p.device, copy: true })));
      }
    });
  }

  private disposeState(): void {
    for (const st of this.state) if (st) for (const t of st.buffers.values()) t.dispose();
    this.state.length = 0;
  }

  /** Frees all state tensors (a later step starts from fresh state). Parameters are not touched. */
  dispose(): void {
    this.disposeState();
  }
}

/**
 * `a + alpha * b` as a new tensor, with torch.add(a, b, alpha=...)'s fused rounding. When `owned`, `a` is a
 * temporary of the caller and is updated in place instead of copied.
 */
export function addScaled(a: Tensor, b: Tensor, alpha: number, owned: boolean): Tensor {
  return (owned ? a : a.clone()).add_(b, alpha);
}
