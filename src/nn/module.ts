// Module: the base class of every layer and model, modelled on torch.nn.Module.
//
// A module owns named parameters (trainable, requiresGrad), buffers (state such as BatchNorm's running
// statistics) and submodules. Everything it owns is keep()-ed, so scopes never free it; dispose() does.
//
// Tensors live in maps, never in plain fields: subclasses read them through accessors
// (`get weight() { return this.param('weight'); }`), so forward() always sees the current tensors,
// even after to() has replaced them.
import { Tensor, noGrad, isFloating, type DType } from '../engine/index.js';

export type StateDict = Map<string, Tensor>;

export interface LoadStateDictOptions {
  /** Throw on missing or unexpected keys (default true). Shape mismatches always throw. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** A target for Module.to(): a device string ('cpu', 'cuda', 'cuda:1') or a device and/or floating dtype. */
export type ModuleTarget = string | { device?: string; dtype?: DType; memoryFormat?: 'contiguous' | 'channelsLast' };

const shapeStr = (s: number[]): string => `[${s.join(', ')}]`;
const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const join = (prefix: string, name: string): string => (prefix === '' ? name : `${prefix}.${name}`);

export abstract class Module {
  /** Train mode (the default) or eval mode; see train() / eval(). */
  training = true;

  private readonly paramMap = new Map<string, Tensor>();
  private readonly bufferMap = new Map<string, Tensor>();
  private readonly moduleMap = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  // ------------------------------------------------------------------ registration
  private checkName(kind: string, name: string): void {
    if (name === '' || name.includes('.')) throw new Error(`${this.typeName}: ${kind} name '${name}' must be non-empty and contain no '.'`);
    const clash =
      (kind !== 'parameter' && this.paramMap.has(name) && 'parameter') ||
      (kind !== 'buffer' && this.bufferMap.has(name) && 'buffer') ||
      (kind !== 'module' && this.moduleMap.has(name) && 'module');
    if (clash) throw new Error(`${this.typeName}: cannot register ${kind} '${name}': a ${clash} of that name exists`);
  }

  /**
   * Registers a trainable parameter: marks it kept and requiresGrad, and returns it.
   * It must be a leaf of the autograd graph (anything made by a creation function is).
   * Registering an existing name replaces the tensor (the old one is not disposed) and keeps its position.
   */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.checkName('parameter', name);
    if (!t.isLeaf) throw new Error(`${this.typeName}: parameter '${name}' is not a leaf of the autograd graph; register t.detach() instead`);
    if (!isFloating(t.dtype)) throw new Error(`${this.typeName}: parameter '${name}' must have a floating dtype, got ${t.dtype}`);
    t.keep();
    t.requiresGrad = true;
    this.paramMap.set(name, t);
    return t;
  }

  /** Registers a buffer (module state saved in the state dict but not trained): marks it kept, without grad. */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName('buffer', name);
    t.keep();
    if (t.requiresGrad) t.requiresGrad = false;
    this.bufferMap.set(name, t);
    return t;
  }

  /** Registers a submodule; its parameters and buffers are named `name.<theirs>`. */
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName('module', name);
    if (m === (this as Module)) throw new Error(`${this.typeName}: a module cannot be its own child`);
    this.moduleMap.set(name, m);
    return m;
  }

  /** This module's own parameter (for subclass accessors). Throws if it was never registered. */
  protected param(name: string): Tensor {
    const t = this.paramMap.get(name);
    if (t === undefined) throw new Error(`${this.typeName} has no parameter '${name}'`);
    return t;
  }
  protected paramOrNull(name: string): Tensor | null {
    return this.paramMap.get(name) ?? null;
  }
  /** This module's own buffer (for subclass accessors). Throws if it was never registered. */
  protected buffer(name: string): Tensor {
    const t = this.bufferMap.get(name);
    if (t === undefined) throw new Error(`${this.typeName} has no buffer '${name}'`);
    return t;
  }
  protected bufferOrNull(name: string): Tensor | null {
    return this.bufferMap.get(name) ?? null;
  }
  /** This module's own child (for subclass accessors). */
  protected child<M extends Module = Module>(name: string): M {
    const m = this.moduleMap.get(name);
    if (m === undefined) throw new Error(`${this.typeName} has no submodule '${name}'`);
    return m as M;
  }

  /** Local state names that may be absent from a loaded state dict (BatchNorm's num_batches_tracked, as PyTorch). */
  protected optionalStateKeys(): readonly string[] {
    return [];
  }

  // ------------------------------------------------------------------ traversal
  /** The class name, used in messages and toString(). */
  get typeName(): string {
    return this.constructor.name;
  }

  /** Direct submodules. */
  children(): Module[] {
    return [...this.moduleMap.values()];
  }
  namedChildren(): [string, Module][] {
    return [...this.moduleMap.entries()];
  }

  /** This module ('' name) and all descendants, pre-order, each module once (as PyTorch named_modules). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, p: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [n, c] of m.moduleMap) walk(c, join(p, n));
    };
    walk(this, prefix);
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Parameters named with dotted paths, in PyTorch order (own first, then children's); shared tensors once. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [mp, m] of this.namedModules()) {
      for (const [n, t] of m.paramMap) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([join(mp, n), t]);
      }
    }
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [mp, m] of this.namedModules()) {
      for (const [n, t] of m.bufferMap) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([join(mp, n), t]);
      }
    }
    return out;
  }
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }
  /** Total number of parameter elements (shared parameters counted once). */
  numParameters(onlyTrainable = false): number {
    let n = 0;
    for (const p of this.parameters()) if (!onlyTrainable || p.requiresGrad) n += p.numel;
    return n;
  }

  /** A parameter, buffer or submodule by dotted path ('features.0.weight'). */
  getSubmodule(path: string): Module {
    if (path === '') return this;
    let m: Module = this;
    for (const part of path.split('.')) {
      const c = m.moduleMap.get(part);
      if (c === undefined) throw new Error(`${this.typeName}: no submodule '${path}' (${m.typeName} has no child '${part}')`);
      m = c;
    }
    return m;
  }
  getParameter(path: string): Tensor {
    const i = path.lastIndexOf('.');
    const owner = this.getSubmodule(i < 0 ? '' : path.slice(0, i));
    const t = owner.paramMap.get(path.slice(i + 1));
    if (t === undefined) throw new Error(`${this.typeName}: no parameter '${path}'`);
    return t;
  }
  getBuffer(path: string): Tensor {
    const i = path.lastIndexOf('.');
    const owner = this.getSubmodule(i < 0 ? '' : path.slice(0, i));
    const t = owner.bufferMap.get(path.slice(i + 1));
    if (t === undefined) throw new Error(`${this.typeName}: no buffer '${path}'`);
    return t;
  }

  /** Calls fn on every submodule (post-order, as PyTorch) and then on this module. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.moduleMap.values()) c.apply(fn);
    fn(this);
    return this;
  }

  // ------------------------------------------------------------------ modes
  /** Sets train mode (or eval mode with false) on this module and all descendants. */
  train(mode = true): this {
    this.training = mode;
    for (const c of this.moduleMap.values()) c.train(mode);
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Sets requiresGrad on every parameter (false freezes the module). */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }
  /** Clears every parameter's .grad (set to null, as PyTorch's default set_to_none). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  // ------------------------------------------------------------------ state
  /**
   * Parameters then buffers of each module, recursively, keyed by dotted path in PyTorch order.
   * The values are the live tensors, not copies.
   */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    const save = (m: Module, prefix: string): void => {
      for (const [n, t] of m.paramMap) out.set(join(prefix, n), t);
      for (const [n, t] of m.bufferMap) out.set(join(prefix, n), t);
      for (const [n, c] of m.moduleMap) save(c, join(prefix, n));
    };
    save(this, '');
    return out;
  }

  /**
   * Copies values from a state dict into this module's tensors in place (no grad), converting dtypes as copy_ does.
   * Everything is checked before anything is copied: a shape mismatch always throws, and with strict (the default)
   * so do missing and unexpected keys. A missing num_batches_tracked is allowed, as in PyTorch.
   */
  loadStateDict(sd: StateDict | Record<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const given: Map<string, Tensor> = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const expected = new Map<string, Tensor>();
    const optional = new Set<string>();
    const collect = (m: Module, prefix: string): void => {
      for (const [n, t] of m.paramMap) expected.set(join(prefix, n), t);
      for (const [n, t] of m.bufferMap) expected.set(join(prefix, n), t);
      for (const n of m.optionalStateKeys()) optional.add(join(prefix, n));
      for (const [n, c] of m.moduleMap) collect(c, join(prefix, n));
    };
    collect(this, '');

    const missingKeys: string[] = [];
    const unexpectedKeys: string[] = [];
    const mismatches: string[] = [];
    const copies: [Tensor, Tensor][] = [];
    for (const [key, dst] of expected) {
      const src = given.get(key);
      if (src === undefined) {
        if (!optional.has(key)) missingKeys.push(key);
        continue;
      }
      if (!(src instanceof Tensor)) {
        mismatches.push(`value for ${key} is not a Tensor`);
        continue;
      }
      if (src.isDisposed) {
        mismatches.push(`value for ${key} was already disposed`);
        continue;
      }
      const ss = src.shape;
      const ds = dst.shape;
      if (!sameShape(ss, ds)) {
        mismatches.push(`size mismatch for ${key}: copying a param with shape ${shapeStr(ss)} from checkpoint, the shape in current model is ${shapeStr(ds)}.`);
        continue;
      }
      copies.push([dst, src]);
    }
    for (const key of given.keys()) if (!expected.has(key)) unexpectedKeys.push(key);

    const errors: string[] = [];
    if (strict && missingKeys.length > 0) errors.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
    if (strict && unexpectedKeys.length > 0) errors.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    errors.push(...mismatches);
    if (errors.length > 0) throw new Error(`Error(s) in loading state_dict for ${this.typeName}:\n\t${errors.join('\n\t')}`);

    noGrad(() => {
      for (const [dst, src] of copies) if (dst !== src) dst.copy_(src);
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Copies all parameters and buffers (BatchNorm running stats included) in place from a module of the same architecture. */
  copyFrom(other: Module): this {
    if (other === this) return this;
    try {
      this.loadStateDict(other.stateDict(), { strict: true });
    } catch (e) {
      throw new Error(`copyFrom(${other.typeName}): architectures differ: ${(e as Error).message}`);
    }
    return this;
  }

  /**
   * Moves parameters and buffers to a device (and/or casts floating ones to a floating dtype), as PyTorch's module.to().
   * The stored tensors are replaced (old handles disposed); requiresGrad and existing .grad are carried over.
   */
  to(target: ModuleTarget): this {
    const device = typeof target === 'string' ? target : target.device;
    const dtype = typeof target === 'string' ? undefined : target.dtype;
    const format = typeof target === 'string' ? undefined : target.memoryFormat;
    if (dtype !== undefined && !isFloating(dtype)) throw new Error(`${this.typeName}.to(): only floating dtypes are allowed, got ${dtype}`);
    const moved = new Map<Tensor, Tensor>();
    const move = (t: Tensor): Tensor => {
      const done = moved.get(t);
      if (done !== undefined) return done;
      const castTo = dtype !== undefined && isFloating(t.dtype) ? dtype : undefined;
      const r = noGrad(() => {
        const m = t.to({ device, dtype: castTo });
        if (format === undefined || m.ndim !== 4) return m;
        const c = m.contiguous(format);
        m.dispose();
        return c;
      }).keep();
      const wantGrad = t.requiresGrad;
      if (r.requiresGrad !== wantGrad) r.requiresGrad = wantGrad;
      const g = t.grad;
      if (g !== null) {
        const gm = noGrad(() => g.to({ device, dtype: castTo }));
        r.grad = gm;
        gm.dispose();
        g.dispose();
      }
      moved.set(t, r);
      return r;
    };
    for (const [, m] of this.namedModules()) {
      for (const [n, t] of m.paramMap) m.paramMap.set(n, move(t));
      for (const [n, t] of m.bufferMap) m.bufferMap.set(n, move(t));
    }
    for (const old of moved.keys()) old.dispose();
    return this;
  }

  /** Frees every parameter and buffer of this module and its descendants. The module is unusable afterwards. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const t of m.paramMap.values()) t.dispose();
      for (const t of m.bufferMap.values()) t.dispose();
    }
  }

  // ------------------------------------------------------------------ printing
  /** Extra text shown between the parentheses of toString(), e.g. 'in_features=4, out_features=2'. */
  protected extraRepr(): string {
    return '';
  }
  /** PyTorch-style multi-line summary of the module tree. */
  toString(): string {
    const lines: string[] = [];
    const extra = this.extraRepr();
    if (extra !== '') lines.push(...extra.split('\n'));
    for (const [n, c] of this.moduleMap) {
      const sub = c.toString().split('\n');
      lines.push(`(${n}): ${sub[0]}`, ...sub.slice(1));
    }
    if (lines.length === 0) return `${this.typeName}()`;
    if (this.moduleMap.size === 0 && lines.length === 1) return `${this.typeName}(${lines[0]})`;
    return `${this.typeName}(\n${lines.map((l) => `  ${l}`).join('\n')}\n)`;
  }
}
