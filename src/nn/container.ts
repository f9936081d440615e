// Containers: Sequential (a chain of modules) and ModuleList (a list of submodules with no forward of its own).
import type { Tensor } from '../engine/index.js';
import { Module } from './module.js';

/**
 * Runs its children in order; they are named "0", "1", ... as in PyTorch.
 * Intermediate outputs are disposed as soon as the next module has consumed them (autograd keeps what it needs),
 * so only the final output is left to the caller's scope. The input is never disposed.
 */
export class Sequential extends Module {
  private readonly list: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }
  append(m: Module): this {
    this.registerModule(String(this.list.length), m);
    this.list.push(m);
    return this;
  }
  get length(): number {
    return this.list.length;
  }
  /** The i-th module (negative counts from the end). */
  at<M extends Module = Module>(i: number): M {
    const m = this.list.at(i);
    if (m === undefined) throw new Error(`Sequential: index ${i} is out of range for ${this.list.length} modules`);
    return m as M;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.list[Symbol.iterator]();
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.list) {
      const y = m.forward(h);
      if (h !== x && h !== y && !h.kept) h.dispose();
      h = y;
    }
    return h;
  }
}

/** Holds submodules (named "0", "1", ...) for models that call them explicitly. It has no forward(). */
export class ModuleList extends Module {
  private readonly list: Module[] = [];

  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  append(m: Module): this {
    this.registerModule(String(this.list.length), m);
    this.list.push(m);
    return this;
  }
  get length(): number {
    return this.list.length;
  }
  at<M extends Module = Module>(i: number): M {
    const m = this.list.at(i);
    if (m === undefined) throw new Error(`ModuleList: index ${i} is out of range for ${this.list.length} modules`);
    return m as M;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.list[Symbol.iterator]();
  }
  forward(_x: Tensor): Tensor {
    throw new Error('ModuleList has no forward(); call its modules explicitly');
  }
}
