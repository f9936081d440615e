// jemalloc with decay disabled is how libtorch (and PyTorch) run fast and with flat RSS here:
// glibc malloc fragments under libtorch's allocation pattern (measured: 2-2.5x slower, RSS 0.3 -> 18 GB
// over 1000 steps). This finds Debian's libjemalloc2 and returns the environment to launch with.
import { existsSync } from 'node:fs';

const CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
  '/usr/local/lib/libjemalloc.so.2',
];
export const MALLOC_CONF = 'dirty_decay_ms:-1,muzzy_decay_ms:-1';

export function findJemalloc() {
  if (process.env.GUE_JEMALLOC) return existsSync(process.env.GUE_JEMALLOC) ? process.env.GUE_JEMALLOC : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** True when this process already runs with jemalloc preloaded (or the user opted out). */
export function jemallocActive(env = process.env) {
  return (env.LD_PRELOAD ?? '').includes('jemalloc') || env.GUE_NO_JEMALLOC === '1';
}

/** The environment for a child process that preloads jemalloc, or null when it is not installed. */
export function jemallocEnv(env = process.env) {
  const lib = findJemalloc();
  if (!lib) return null;
  const preload = env.LD_PRELOAD ? `${lib}:${env.LD_PRELOAD}` : lib;
  return { ...env, LD_PRELOAD: preload, MALLOC_CONF: env.MALLOC_CONF ?? MALLOC_CONF };
}
