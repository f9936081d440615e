#!/usr/bin/env node
// Runs `node <args>` with jemalloc preloaded (see jemalloc.mjs). Used by npm test and the benchmarks.
import { spawnSync } from 'node:child_process';
import { jemallocActive, jemallocEnv } from './jemalloc.mjs';

let env = process.env;
if (!jemallocActive()) {
  const j = jemallocEnv();
  if (j) env = j;
  else process.stderr.write('gue: libjemalloc2 not found; running with glibc malloc (slower, RSS grows). Run `npm run setup`.\n');
}
const r = spawnSync(process.execPath, process.argv.slice(2), { stdio: 'inherit', env });
if (r.signal) process.kill(process.pid, r.signal);
process.exit(r.status ?? 1);
