// Opens a generator as a ProtectBackend, choosing the runtime from the file: an .onnx generator runs on
// onnxruntime (./onnx-backend.js, no libtorch needed); anything else (a run folder of `gue train`, a
// <base>.safetensors/.json generator written by `gue train` or `gue import`) runs on libtorch. Both runtimes
// are imported lazily, so a protection-only install without one of them still works with the other, and the
// missing one is named in a clear message.
//
// Without a path, the generator shipped in assets/generators/ is used: the files there are
// <name>.json + <name>.safetensors (libtorch) and/or <name>.onnx; the lexically first name is taken,
// libtorch preferred when its native addon loads.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProtectBackend } from './backend.js';

/** assets/generators/ of this package. */
export const SHIPPED_GENERATORS_DIR = fileURLToPath(new URL('../../../assets/generators/', import.meta.url));

export class BackendUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

const codeOf = (e: unknown): string | undefined => (e as { code?: string }).code;
const messageOf = (e: unknown): string => ((e as Error).message ?? String(e)).trim();

async function onnxBackend(path: string): Promise<ProtectBackend> {
  // A variable specifier: the onnx backend is an optional part of the package.
  const spec = './onnx-backend.js';
  let mod: { createOnnxBackend?: (p: string) => Promise<ProtectBackend> };
  try {
    mod = (await import(spec)) as typeof mod;
  } catch (e) {
    const msg = messageOf(e);
    if (/onnxruntime/.test(msg)) {
      throw new BackendUnavailableError(`${path}: ONNX generators need the 'onnxruntime-node' package, which is not available (${msg}); run npm install onnxruntime-node, or pass a libtorch generator (.safetensors)`);
    }
    if (codeOf(e) === 'ERR_MODULE_NOT_FOUND') throw new BackendUnavailableError(`${path}: this build of gue has no ONNX backend; pass a libtorch generator (a run folder or generator.safetensors)`);
    throw new BackendUnavailableError(`${path}: cannot load the ONNX backend (${msg})`);
  }
  if (typeof mod.createOnnxBackend !== 'function') throw new BackendUnavailableError('the ONNX backend module does not export createOnnxBackend');
  return mod.createOnnxBackend(path);
}

async function torchBackend(path: string, device: string): Promise<ProtectBackend> {
  let mod: typeof import('./torch-backend.js');
  try {
    mod = await import('./torch-backend.js');
  } catch (e) {
    throw new BackendUnavailableError(`${path}: libtorch generators need gue's native addon, which cannot be loaded (${messageOf(e)}); build it (npm run build:native) or export the generator to ONNX on a machine that has it`);
  }
  try {
    return await mod.createTorchBackend(path, { device });
  } catch (e) {
    if ((e as Error).name === 'EngineUnavailableError') {
      throw new BackendUnavailableError(`${path}: libtorch generators need gue's native addon (${messageOf(e)}); or use an .onnx generator`);
    }
    throw e;
  }
}

/** Generator candidates in the shipped folder: libtorch bases and .onnx files, by name. */
export function shippedGenerators(dir = SHIPPED_GENERATORS_DIR): { name: string; torch?: string; onnx?: string }[] {
  if (!existsSync(dir)) return [];
  const byName = new Map<string, { name: string; torch?: string; onnx?: string }>();
  for (const f of readdirSync(dir).sort()) {
    const m = /^(.+)\.(json|onnx)$/.exec(f);
    if (!m) continue;
    const e = byName.get(m[1]!) ?? { name: m[1]! };
    if (m[2] === 'json' && existsSync(`${dir}/${m[1]}.safetensors`)) e.torch = join(dir, m[1]!);
    if (m[2] === 'onnx') e.onnx = join(dir, f);
    if (e.torch || e.onnx) byName.set(e.name, e);
  }
  return [...byName.values()];
}

export interface OpenedGenerator {
  backend: ProtectBackend;
  /** The path actually opened. */
  path: string;
  shipped: boolean;
}

/** Opens `path` (or the shipped generator when path is undefined) as a backend. */
export async function openGenerator(path: string | undefined, o: { device?: string; shippedDir?: string } = {}): Promise<OpenedGenerator> {
  const device = o.device ?? 'cpu';
  if (path !== undefined) {
    if (!existsSync(path) && !existsSync(`${path}.json`)) throw new Error(`${path}: generator not found`);
    const backend = /\.onnx$/i.test(path) ? await onnxBackend(path) : await torchBackend(path, device);
    return { backend, path, shipped: false };
  }
  const dir = o.shippedDir ?? SHIPPED_GENERATORS_DIR;
  const found = shippedGenerators(dir);
  if (found.length === 0) {
    throw new BackendUnavailableError(`no --generator given and no shipped generator in ${dir}; pass --generator <run-dir | generator.safetensors | generator.onnx>`);
  }
  const g = found[0]!;
  if (g.torch) {
    try {
      return { backend: await torchBackend(g.torch, device), path: g.torch, shipped: true };
    } catch (e) {
      if (!g.onnx || !(e instanceof BackendUnavailableError)) throw e;
    }
  }
  return { backend: await onnxBackend(g.onnx!), path: g.onnx!, shipped: true };
}
