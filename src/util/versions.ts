// Versions written next to every run's outputs (reproducibility).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineInfo } from '../engine/index.js';

let pkgVersion: string | null = null;

export function gueVersion(): string {
  if (pkgVersion === null) {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 5 && pkgVersion === null; i++) {
      try {
        const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (p.name === 'gue') pkgVersion = p.version ?? 'unknown';
      } catch { /* keep looking */ }
      dir = dirname(dir);
    }
    pkgVersion ??= 'unknown';
  }
  return pkgVersion;
}

export function versions(): Record<string, string | number | boolean> {
  const e = engineInfo();
  return { gue: gueVersion(), libtorch: e.torch, node: process.version, threads: e.threads, cuda: e.cuda, jemalloc: e.jemalloc };
}
