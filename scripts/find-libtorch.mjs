#!/usr/bin/env node
// Locates libtorch for the native build and prints one gyp list.
//   LIBTORCH=<dir>  a libtorch folder, or the `torch` folder of a PyTorch install (CUDA builds come this way)
//   otherwise       Debian/Ubuntu's libtorch-dev (/usr/include/torch, /usr/lib/<triplet>/libtorch.so)
// Usage: node find-libtorch.mjs include|libs|ldflags|cflags|json
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function findLibtorch(env = process.env) {
  const fromEnv = env.LIBTORCH;
  if (fromEnv) {
    const inc = join(fromEnv, 'include');
    const lib = join(fromEnv, 'lib');
    if (!existsSync(join(inc, 'ATen', 'ATen.h')) || !existsSync(lib)) {
      throw new Error(`LIBTORCH=${fromEnv} does not look like a libtorch folder (expected include/ATen/ATen.h and lib/)`);
    }
    return describe(inc, lib, true);
  }
  if (existsSync('/usr/include/ATen/ATen.h')) {
    const candidates = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
    for (const lib of candidates) {
      if (existsSync(join(lib, 'libtorch.so')) || existsSync(join(lib, 'libtorch_cpu.so'))) return describe('/usr/include', lib, false);
    }
    const any = readdirSync('/usr/lib').find((d) => existsSync(join('/usr/lib', d, 'libtorch.so')));
    if (any) return describe('/usr/include', join('/usr/lib', any), false);
  }
  return null;
}

function describe(inc, lib, rpath) {
  const cuda = existsSync(join(lib, 'libtorch_cuda.so'));
  let abi = 1;
  try {
    const c10 = readFileSync(join(lib, 'libc10.so'));
    abi = c10.includes('cxx11') ? 1 : 0;
  } catch { /* keep default */ }
  if (process.env.GUE_CXX11_ABI !== undefined) abi = Number(process.env.GUE_CXX11_ABI);
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  const ldflags = [`-L${lib}`];
  if (rpath) ldflags.push(`-Wl,-rpath,${lib}`);
  if (cuda) libs.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  return {
    include: [...(inc === '/usr/include' ? [] : [inc]), join(inc, 'torch', 'csrc', 'api', 'include')],
    libDir: lib,
    libs,
    ldflags,
    cflags: [`-D_GLIBCXX_USE_CXX11_ABI=${abi}`],
    cuda,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const what = process.argv[2] ?? 'json';
  let found;
  try {
    found = findLibtorch();
  } catch (e) {
    console.error(`gue: ${e.message}`);
    process.exit(1);
  }
  if (!found) {
    console.error('gue: libtorch not found. Install Debian/Ubuntu `libtorch-dev` (npm run setup does it) or set LIBTORCH to a libtorch folder.');
    process.exit(1);
  }
  if (what === 'json') console.log(JSON.stringify(found, null, 2));
  else console.log(found[what].join(' '));
}
