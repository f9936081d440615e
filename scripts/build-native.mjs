#!/usr/bin/env node
// Builds native/ (the libtorch N-API binding) with node-gyp, against this Node's own headers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const prefix = dirname(dirname(process.execPath));
const args = [gyp, 'rebuild', '-j', 'max'];
// Point node-gyp at the running Node's headers, so it never tries to download them.
if (existsSync(join(prefix, 'include', 'node', 'node.h'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { cwd: join(root, 'native'), stdio: 'inherit' });
if (r.status !== 0) {
  console.error('gue: building the native binding failed (see the compiler output above).');
  process.exit(r.status ?? 1);
}
