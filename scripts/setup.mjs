#!/usr/bin/env node
// One-shot set-up, safe to run again: installs what is missing and builds what is stale.
//  1. Debian/Ubuntu packages: libtorch-dev (unless LIBTORCH is set), libjemalloc2, libopenblas0-pthread,
//     dataset-fashion-mnist; with --bench also python3-torch (only the benchmarks need it); with --test also
//     chromium (the browser tests drive it through playwright-core).
//  2. npm dependencies (npm install) when node_modules is missing.
//  3. The native binding (node-gyp) when it is missing or older than its sources.
//  4. TypeScript (tsc).
// On non-Debian systems it stops with a message that says what to install.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const log = (m) => { if (!quiet) process.stderr.write(`[setup] ${m}\n`); };
const fail = (m) => { process.stderr.write(`gue setup: ${m}\n`); process.exit(1); };

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit', cwd: root, ...opts });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  return r.status === 0;
}
function dpkgInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}
const hasApt = existsSync('/usr/bin/apt-get') && existsSync('/usr/bin/dpkg-query');

// ---------------------------------------------------------------- system packages
const wanted = [];
if (!process.env.LIBTORCH) wanted.push('libtorch-dev');
wanted.push('libjemalloc2', 'libopenblas0-pthread', 'dataset-fashion-mnist');
if (args.has('--bench')) wanted.push('python3-torch');
if (args.has('--test')) wanted.push('chromium');

if (hasApt) {
  const missing = wanted.filter((p) => !dpkgInstalled(p));
  if (missing.length > 0) {
    log(`installing Debian packages: ${missing.join(' ')}`);
    const isRoot = process.getuid?.() === 0;
    const sudo = isRoot ? [] : ['sudo'];
    if (!isRoot && !existsSync('/usr/bin/sudo')) fail(`these packages are missing and installing them needs root: apt-get install ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const [c, ...rest] = [...sudo, 'apt-get'];
    if (!run(c, [...rest, 'update', '-qq'], { env })) fail('apt-get update failed');
    if (!run(c, [...rest, 'install', '-y', '-qq', '--no-install-recommends', ...missing], { env })) {
      fail(`apt-get install ${missing.join(' ')} failed`);
    }
  }
} else if (!process.env.LIBTORCH) {
  fail('this is not a Debian/Ubuntu system, so libtorch cannot be installed automatically. Install libtorch '
    + '(C++ distribution, 1.13 or newer) and set LIBTORCH to its folder (or to the `torch` folder of a PyTorch install), '
    + 'install jemalloc (libjemalloc.so.2), then run `npm run setup` again. Fashion-MNIST: pass --data-dir with the four IDX .gz files.');
}

// ---------------------------------------------------------------- npm dependencies
// Any dependency in package.json without its folder in node_modules (a fresh clone, or a pull that added one).
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
const missingDeps = deps.filter((d) => !existsSync(join(root, 'node_modules', d, 'package.json')));
if (missingDeps.length > 0) {
  log(`installing npm dependencies (missing: ${missingDeps.join(', ')})`);
  if (!run('npm', ['install', '--no-audit', '--no-fund'])) fail('npm install failed');
}

// ---------------------------------------------------------------- native binding
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
const addon = join(root, 'native', 'build', 'Release', 'gue_native.node');
const srcTime = Math.max(newest(join(root, 'native', 'src')), statSync(join(root, 'native', 'binding.gyp')).mtimeMs);
if (!existsSync(addon) || statSync(addon).mtimeMs < srcTime || process.env.GUE_REBUILD === '1') {
  log('building the native libtorch binding (about a minute)');
  if (!run(process.execPath, [join(root, 'scripts', 'build-native.mjs')])) fail('native build failed');
}

// ---------------------------------------------------------------- TypeScript
log('compiling TypeScript');
if (!run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')])) fail('TypeScript compilation failed');
