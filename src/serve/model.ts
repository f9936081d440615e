// Which generator `gue serve` hands to the page as /model.onnx: an exported .onnx file as it is, or a libtorch
// generator (`gue train`'s generator.safetensors + generator.json, or its run folder) exported to ONNX in
// memory with exportOnnx. Without --generator, the generator shipped in assets/generators/.
// Only the libtorch case loads the native addon, so serving an .onnx works on a protection-only install.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { readGueOnnxMeta } from '../export/onnx-meta.js';
import type { ServedModel } from './server.js';
import { SHIPPED_GENERATORS_DIR, shippedByName, shippedGenerators } from '../protect/open.js';


/** Reads an exported generator. */
export function onnxModel(path: string): ServedModel {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${(e as Error).message})`);
  }
  const info = readGueOnnxMeta(bytes, path);
  if (info.channels !== 1 && info.channels !== 3) throw new Error(`${path}: the generator takes ${info.channels}-channel images; the page handles 1 (gray) or 3 (RGB)`);
  return { bytes, info, source: basename(path) };
}

/** Loads a libtorch generator (path as `loadGenerator` takes it) and exports it to ONNX in memory. */
export async function libtorchModel(path: string): Promise<ServedModel> {
  let game: typeof import('../game/index.js');
  let onnx: typeof import('../export/onnx.js');
  try {
    game = await import('../game/index.js');
    onnx = await import('../export/onnx.js');
  } catch (e) {
    throw new Error(`${path} is a libtorch generator and reading it needs the native libtorch binding, which did not load `
      + `(${(e as Error).message.split('\n')[0]}). Run \`npm run setup\`, or serve an exported one: \`gue export --onnx ${path} -o g.onnx\`.`);
  }
  const { gen, meta } = game.loadGenerator(path);
  try {
    if ((meta.arch ?? 'unet') !== 'unet') {
      throw new Error(`${path}: a '${meta.arch}' generator (--gen-arch ${meta.arch}) cannot run in the page, which runs ONNX; only the U-Net can be exported${meta.arch === 'class-templates' ? ' (and this one needs each image\'s label: gue poison)' : ' (gue protect applies it)'}`);
    }
    const bytes = onnx.exportOnnx(gen, { eps: meta.eps, channels: meta.channels });
    const info = readGueOnnxMeta(bytes, path);
    if (info.channels !== 1 && info.channels !== 3) throw new Error(`${path}: the generator takes ${info.channels}-channel images; the page handles 1 (gray) or 3 (RGB)`);
    return { bytes, info, source: `${basename(path)} (exported to ONNX)` };
  } finally {
    gen.dispose();
  }
}

/** The default generator in assets/generators/ (the same listing `gue protect` uses): its .onnx, else libtorch. */
function shippedGenerator(): string {
  const all = shippedGenerators();
  const pick = all[0];
  if (pick) return pick.onnx ?? `${pick.torch!}.json`;
  throw new Error(`no --generator given and no generator is shipped in ${SHIPPED_GENERATORS_DIR}; pass --generator <file.onnx | generator | run folder>`);
}

/** Resolves --generator (or the shipped default) to the bytes the page will load. */
export async function resolveServedModel(given: string | undefined): Promise<ServedModel> {
  const named = given !== undefined ? shippedByName(given) : undefined;
  const path = named ? (named.onnx ?? `${named.torch!}.json`) : (given ?? shippedGenerator());
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // Not a file or folder as given: may be a checkpoint prefix (generator → generator.json).
  }
  if (isDir) {
    if (existsSync(join(path, 'generator.json'))) return libtorchModel(join(path, 'generator'));
    if (existsSync(join(path, 'generator.onnx'))) return onnxModel(join(path, 'generator.onnx'));
    throw new Error(`${path} is a folder without a generator (expected generator.json from \`gue train\`, or generator.onnx)`);
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.json' || ext === '.safetensors' || (!existsSync(path) && existsSync(`${path}.json`))) return libtorchModel(path);
  if (!existsSync(path)) throw new Error(`${path}: no such generator (give an exported .onnx, a generator from \`gue train\`, or its run folder)`);
  return onnxModel(path);
}
