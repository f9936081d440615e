#!/usr/bin/env node
// The `gue` launcher: re-executes itself with jemalloc preloaded (libtorch needs it to run fast with
// flat memory), then runs the CLI.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jemallocActive, jemallocEnv } from '../scripts/jemalloc.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!jemallocActive()) {
  const env = jemallocEnv();
  if (env) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env });
    if (r.signal) process.kill(process.pid, r.signal);
    process.exit(r.status ?? 1);
  }
}
const main = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write('gue: the project is not built. Run `npm run setup` (installs dependencies and builds).\n');
  process.exit(1);
}
const { run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
