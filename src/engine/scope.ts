// Deterministic tensor lifetimes. libtorch memory is freed when a scope ends, not when V8's GC
// gets around to it: every tensor created inside scope(fn) is freed at its end unless it is
// returned (found inside the return value: a Tensor, or arrays / plain objects / Maps of them)
// or marked with keep().
import type { Tensor } from './tensor.js';
import { native } from './native.js';

type Frame = Tensor[];
const frames: Frame[] = [];

/** @internal Called by every Tensor constructor. */
export function track(t: Tensor): void {
  const f = frames[frames.length - 1];
  if (f !== undefined) f.push(t);
}

/** Marks tensors as long-lived: no scope will free them (dispose() still does). Returns its argument. */
export function keep<T extends Tensor | Tensor[]>(t: T): T {
  if (Array.isArray(t)) for (const x of t) x.kept = true;
  else t.kept = true;
  return t;
}

function collect(v: unknown, out: Set<Tensor>, seen: Set<unknown>, isTensor: (x: unknown) => x is Tensor): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (isTensor(v)) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) {
    for (const x of v) collect(x, out, seen, isTensor);
  } else if (v instanceof Map) {
    for (const x of v.values()) collect(x, out, seen, isTensor);
  } else if (Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v as Record<string, unknown>)) collect(x, out, seen, isTensor);
  }
}

let tensorCheck: ((x: unknown) => x is Tensor) | null = null;
/** @internal */
export function registerTensorClass(check: (x: unknown) => x is Tensor): void {
  tensorCheck = check;
}

function endFrame(frame: Frame, result: unknown): void {
  const returned = new Set<Tensor>();
  if (tensorCheck) collect(result, returned, new Set(), tensorCheck);
  const parent = frames[frames.length - 1];
  const handles: unknown[] = [];
  for (const t of frame) {
    if (t.kept || t.handleOrNull === null) continue;
    if (returned.has(t)) {
      if (parent !== undefined) parent.push(t);
      continue;
    }
    handles.push(t.handleOrNull);
    t.markFreed();
  }
  if (handles.length > 0) native().freeMany(handles);
}

/**
 * Runs fn and frees every tensor it created that it does not return or keep().
 * Returned tensors move to the enclosing scope. fn must be synchronous; see scopeAsync.
 */
export function scope<T>(fn: () => T): T {
  const frame: Frame = [];
  frames.push(frame);
  let result: T | undefined;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('scope(fn): fn returned a Promise; use scopeAsync for async code');
    return result;
  } finally {
    frames.pop();
    endFrame(frame, result);
  }
}

/**
 * Async variant of scope. Tensors created while the promise is pending are attributed to this scope,
 * so do not interleave other tensor work concurrently.
 */
export async function scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
  const frame: Frame = [];
  frames.push(frame);
  const depth = frames.length;
  let result: T | undefined;
  try {
    result = await fn();
    return result;
  } finally {
    if (frames.length !== depth || frames[depth - 1] !== frame) {
      // Restore the stack even if the caller interleaved scopes incorrectly.
      const idx = frames.lastIndexOf(frame);
      if (idx >= 0) frames.splice(idx, 1);
    } else {
      frames.pop();
    }
    endFrame(frame, result);
  }
}

/** Live tensor handles and the bytes they reference (views counted at their own size). */
export function memory(): { tensors: number; bytes: number } {
  return native().memory() as { tensors: number; bytes: number };
}
