import type { Command } from './main.js';
import { engineInfo } from '../engine/index.js';

export const infoCommand: Command = {
  spec: { name: 'info', summary: 'show the engine: libtorch version, threads, CUDA, allocator', usage: 'gue info [--json]', flags: {} },
  run({ out }) {
    const i = engineInfo();
    out.result({ ...i, node: process.version }, [
      `libtorch   ${i.torch}`,
      `threads    ${i.threads}`,
      `cuda       ${i.cuda ? `yes (${i.cudaDevices} device${i.cudaDevices === 1 ? '' : 's'})` : 'no'}`,
      `allocator  ${i.jemalloc ? 'jemalloc' : 'glibc malloc (slower; run through bin/gue.js)'}`,
      `node       ${process.version}`,
    ].join('\n'));
    return 0;
  },
};
