// The libtorch ProtectBackend: a generator written by `gue train` (a run folder, or <base>.safetensors with
// its <base>.json sidecar) or by `gue import`, applied as in the GUE paper (AAAI 2024, §4):
// x' = clamp(x + ε·G(x), 0, 1), with eval-mode BatchNorm (running statistics, so every image is protected
// independently of the others in its batch), under noGrad, every intermediate tensor freed.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, scope, tensor } from '../engine/index.js';
import { loadGenerator, type GeneratorMeta } from '../game/train.js';
import { LABEL_ROUTED_MESSAGE } from '../nn/models/index.js';
import type { ProtectBackend } from './backend.js';

/** The checkpoint base of a generator given as a run folder, a base path, or <base>.safetensors / .json. */
export function generatorBase(path: string): string {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir) {
    if (existsSync(join(path, 'generator.json'))) return join(path, 'generator');
    throw new Error(`${path}: no generator here (expected a run folder of 'gue train' with generator.json)`);
  }
  const base = path.replace(/\.(safetensors|json)$/, '');
  if (!existsSync(`${base}.json`)) {
    throw new Error(existsSync(path) || existsSync(`${base}.safetensors`)
      ? `${path}: the generator's sidecar ${base}.json is missing`
      : `${path}: generator not found`);
  }
  return base;
}

export interface TorchBackend extends ProtectBackend {
  readonly meta: GeneratorMeta;
}

export async function createTorchBackend(path: string, o: { device?: string } = {}): Promise<TorchBackend> {
  const device = o.device ?? 'cpu';
  const { gen, meta } = loadGenerator(generatorBase(path), device);
  if (meta.arch === 'class-templates') {
    gen.dispose();
    throw new Error(`${path}: ${LABEL_ROUTED_MESSAGE}`);
  }
  gen.eval();
  const eps = meta.eps;
  let disposed = false;
  return {
    kind: 'libtorch',
    channels: meta.channels,
    eps,
    multiple: 8,
    meta,
    async run(x, shape) {
      if (disposed) throw new Error('the libtorch backend was disposed');
      if (shape[1] !== meta.channels) throw new Error(`the generator takes ${meta.channels} channels, got ${shape[1]}`);
      if (shape[2] % 8 !== 0 || shape[3] % 8 !== 0) throw new Error(`spatial size must be a multiple of 8, got ${shape[2]}×${shape[3]}`);
      return noGrad(() =>
        scope(() => {
          let t = tensor(x, { shape: [...shape] });
          if (device !== 'cpu') t = t.to({ device });
          const y = t.add(gen.forward(t).mul(eps)).clamp(0, 1);
          return y.to({ device: 'cpu' }).toFloat32Array();
        }),
      );
    },
    dispose() {
      if (!disposed) gen.dispose();
      disposed = true;
    },
  };
}
