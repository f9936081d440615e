// Shared helpers for the benchmarks: run the PyTorch side with the same allocator and threads,
// time a step function, and print results (table, or a JSON last line with --json).
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain ESM helper without types
import { jemallocEnv } from '../../scripts/jemalloc.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PYTHON = process.env.GUE_BENCH_PYTHON ?? '/usr/bin/python3';

/** Best throughput (items/s) over `repeats` timed windows of at least `seconds` each, after warm-up. */
export function timeIt(step: () => void, items: number, seconds: number, warmup = 3, repeats = 3): number {
  for (let i = 0; i < warmup; i++) step();
  let best = 0;
  for (let r = 0; r < repeats; r++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let dt = 0;
    for (;;) {
      step();
      n++;
      dt = Number(process.hrtime.bigint() - t0) / 1e9;
      if (dt >= seconds && n >= 2) break;
    }
    best = Math.max(best, (n * items) / dt);
  }
  return best;
}

function benchEnv(): NodeJS.ProcessEnv {
  const env = (jemallocEnv() as NodeJS.ProcessEnv | null) ?? { ...process.env };
  env.OMP_NUM_THREADS = String(availableParallelism());
  return env;
}

/** Runs a child and parses the last stdout line as JSON. */
export function runJson(cmd: string, args: string[], what: string): Record<string, number | string> {
  const r = spawnSync(cmd, args, { env: benchEnv(), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error) throw new Error(`${what}: could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, number | string>;
}

export function hasTorchPython(): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0;
}

export function table(rows: string[][]): string {
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(w[c]!) : v.padStart(w[c]!))).join('  ')).join('\n');
}
