// Autograd: explicit gradients of outputs with respect to any list of inputs.
import { native, type Handle } from './native.js';
import { Tensor } from './tensor.js';

export interface GradOptions {
  /** Gradients of the outputs (default: ones, for scalar outputs). */
  gradOutputs?: Tensor[] | null;
  /** Keep the graph for another backward (default: same as createGraph). */
  retainGraph?: boolean;
  /** Build a graph of the gradient computation itself (higher-order derivatives). */
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on instead of throwing. */
  allowUnused?: boolean;
}

/**
 * d(sum of outputs)/d(inputs), like torch.autograd.grad. Does not touch .grad.
 * Returns one tensor per input (null for unused inputs with allowUnused).
 */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const res = native().grad(
    outs.map((t) => t.handle),
    inputs.map((t) => t.handle),
    opts.gradOutputs ? opts.gradOutputs.map((t) => t.handle) : null,
    opts.retainGraph ?? null,
    opts.createGraph ?? false,
    opts.allowUnused ?? false,
  ) as (Handle | null)[];
  return res.map((h) => (h === null ? null : Tensor.wrap(h)));
}

/** Like grad() but every input must be used; returns non-null tensors. */
export function gradStrict(outputs: Tensor | Tensor[], inputs: Tensor[], opts: Omit<GradOptions, 'allowUnused'> = {}): Tensor[] {
  return grad(outputs, inputs, { ...opts, allowUnused: false }) as Tensor[];
}

/** Runs fn with gradient recording off (like torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const n = native();
  const prev = n.isGradEnabled() as boolean;
  n.setGradEnabled(false);
  try {
    return fn();
  } finally {
    n.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording on (inside a noGrad region). */
export function enableGrad<T>(fn: () => T): T {
  const n = native();
  const prev = n.isGradEnabled() as boolean;
  n.setGradEnabled(true);
  try {
    return fn();
  } finally {
    n.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native().isGradEnabled() as boolean;
}
