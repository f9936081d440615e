// Loads the native libtorch binding (native/build/Release/gue_native.node).
// The binding is thin: tensors, ops, autograd, devices and RNG. Everything else is TypeScript.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque handle to a libtorch tensor owned by the binding. */
export type Handle = { readonly __handle: unique symbol };
/** An opaque handle to a CPU random generator. */
export type GenHandle = { readonly __gen: unique symbol };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeBinding = Record<string, (...args: any[]) => any>;

/** Raised when a command needs the libtorch engine and the native binding is not built or cannot load. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    dir = dirname(dir);
  }
  return dir;
}

let cached: NativeBinding | null = null;

/** The loaded binding. Throws EngineUnavailableError with set-up instructions when it cannot load. */
export function native(): NativeBinding {
  if (cached) return cached;
  const root = findRoot();
  const path = process.env.GUE_NATIVE ?? join(root, 'native', 'build', 'Release', 'gue_native.node');
  if (!existsSync(path)) {
    throw new EngineUnavailableError(
      `the libtorch engine is not built (${path} is missing). Run \`npm run setup\`, which installs libtorch-dev and builds it.`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(path) as NativeBinding;
  } catch (e) {
    throw new EngineUnavailableError(`the libtorch engine failed to load (${(e as Error).message}). Run \`npm run setup\` to rebuild it.`);
  }
  const envThreads = Number(process.env.GUE_NUM_THREADS ?? '');
  const threads = Number.isInteger(envThreads) && envThreads > 0 ? envThreads : availableParallelism();
  cached.setNumThreads(threads);
  return cached;
}

/** libtorch version, thread count and whether CUDA is usable. */
export function engineInfo(): { torch: string; threads: number; cuda: boolean; cudaDevices: number; jemalloc: boolean } {
  const n = native();
  return {
    torch: n.version() as string,
    threads: n.getNumThreads() as number,
    cuda: n.cudaAvailable() as boolean,
    cudaDevices: n.cudaDeviceCount() as number,
    jemalloc: (process.env.LD_PRELOAD ?? '').includes('jemalloc'),
  };
}

/** Sets libtorch's intra-op thread count (defaults to one per core). */
export function setNumThreads(n: number): void {
  native().setNumThreads(n);
}
