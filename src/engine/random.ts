// Randomness is an explicit, seeded argument: every stochastic function accepts a Generator.
// Without one, libtorch's global generator is used (seeded by manualSeed).
import { native, type GenHandle } from './native.js';
import { Tensor } from './tensor.js';

/** A CPU Philox-free Mersenne-twister generator (libtorch's CPUGeneratorImpl) with its own seed. */
export class Generator {
  readonly handle: GenHandle;
  private seedValue: number;
  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`generator seed must be a non-negative integer, got ${seed}`);
    this.handle = native().newGenerator(seed) as GenHandle;
    this.seedValue = seed;
  }
  get seed(): number {
    return this.seedValue;
  }
  manualSeed(seed: number): this {
    native().generatorSeed(this.handle, seed);
    this.seedValue = seed;
    return this;
  }
  /** The full generator state as a uint8 tensor (for checkpoints). */
  getState(): Tensor {
    return Tensor.wrap(native().generatorGetState(this.handle));
  }
  /** Restores a state from getState(). The state may have been loaded onto another device (a checkpoint read
   *  with { device: 'cuda' }); the generator's state is a CPU byte tensor, so it is copied back first. */
  setState(state: Tensor): void {
    const cpu = state.onDevice('cpu');
    try {
      native().generatorSetState(this.handle, cpu.handle);
    } finally {
      if (cpu !== state) cpu.dispose();
    }
  }
  /** A uniform integer in [0, n) drawn from this generator (for JS-side shuffles and choices). */
  randint(n: number): number {
    const t = Tensor.wrap(native().randint(0, n, [1], 2, 'cpu', this.handle));
    const v = t.item();
    t.dispose();
    return v;
  }
}

/** Seeds libtorch's global generators (CPU and, when present, CUDA). */
export function manualSeed(seed: number): void {
  native().manualSeed(seed);
}
