// Opens a generator as a ProtectBackend, choosing the runtime from the file: an .onnx generator runs on
// onnxruntime (./onnx-backend.js, no libtorch needed); anything else (a run folder of `gue train`, a
// <base>.safetensors/.json generator written by `gue train` or `gue import`) runs on libtorch. Both runtimes
// are imported lazily, so a protection-only install without one of them still works with the other, and the
// missing one is named in a clear message.
//
// Without a path, the generator shipped in assets/generators/ is used: the files there are
// <name>.json + <name>.safetensors (libtorch) and/or <name>.onnx; DEFAULT_SHIPPED_GENERATOR is taken (else the
// lexically first name), libtorch preferred when its native addon loads. A path that does not exist but is the
// name of a shipped generator (e.g. `--generator fmnist-28x28-w16-eps32`) opens that one.
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

/** The shipped generator used when none is named: the 8/255 one. */
export const DEFAULT_SHIPPED_GENERATOR = 'fmnist-28x28-w16';

/**
 * `gue demo`'s default: the class-conditional 8/255 generator (one game-trained pattern per class, picked by the
 * label), which protects the demo's labelled Fashion-MNIST subset; unlabelled photos (protect, serve, check) keep the
 * U-Net default. The demo falls back to the first shipped libtorch generator when it is absent.
 */
export const DEMO_SHIPPED_GENERATOR = 'fmnist-28x28-classwise';

/** Generator candidates in the shipped folder: libtorch bases and .onnx files, the default first, then by name. */
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
  const rank = (n: string) => (n === DEFAULT_SHIPPED_GENERATOR ? 0 : 1);
  return [...byName.values()].sort((x, y) => rank(x.name) - rank(y.name) || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/** The shipped generator called `name`, when `name` is not a path that exists (a file, folder or <base>.json). */
export function shippedByName(name: string, dir = SHIPPED_GENERATORS_DIR): { name: string; torch?: string; onnx?: string } | undefined {
  if (existsSync(name) || existsSync(`${name}.json`)) return undefined;
  return shippedGenerators(dir).find((g) => g.name === name);
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
  const dir = o.shippedDir ?? SHIPPED_GENERATORS_DIR;
  if (path !== undefined) {
    if (!existsSync(path) && !existsSync(`${path}.json`)) {
      // Not a path: the name of a shipped generator, or an error that lists them.
      const shipped = shippedGenerators(dir);
      const named = shipped.find((g) => g.name === path);
      if (named) return openShipped(named, device);
      const names = shipped.map((g) => g.name);
      throw new Error(`${path}: generator not found (give a \`gue train\` run folder, a generator .safetensors/.json, an .onnx file${names.length > 0 ? `, or a shipped generator: ${names.join(', ')}` : ''})`);
    }
    const backend = /\.onnx$/i.test(path) ? await onnxBackend(path) : await torchBackend(path, device);
    return { backend, path, shipped: false };
  }
  const found = shippedGenerators(dir);
  if (found.length === 0) {
    throw new BackendUnavailableError(`no --generator given and no shipped generator in ${dir}; pass --generator <run-dir | generator.safetensors | generator.onnx>`);
  }
  return openShipped(found[0]!, device);
}

async function openShipped(g: { name: string; torch?: string; onnx?: string }, device: string): Promise<OpenedGenerator> {
  if (g.torch) {
    try {
      return { backend: await torchBackend(g.torch, device), path: g.torch, shipped: true };
    } catch (e) {
      if (!g.onnx || !(e instanceof BackendUnavailableError)) throw e;
    }
  }
  return { backend: await onnxBackend(g.onnx!), path: g.onnx!, shipped: true };
}
