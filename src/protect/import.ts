// Importing the GUE authors' published generator (gue_cifar10.pth: torch.save(UNet(3).state_dict()), see
// the AAAI 2024 paper's code) into gue's generator format. The .pth is read without Python and without
// executing code (src/io/pth.ts); a DataParallel 'module.' prefix is stripped; the U-Net's channels and width
// are inferred from the weights (dconv_down1.0.weight is [width, channels, 3, 3]) and checked against the
// flags; the state dict must match our UNet exactly (same key names: dconv_down1.0.weight …
// conv_last.1.running_var, BatchNorm num_batches_tracked optional). The result is written with
// saveGenerator, so `gue protect`, `gue poison` and `gue export` use it like a generator of `gue train`.
import { resolve } from 'node:path';
import { tensor, type Tensor } from '../engine/index.js';
import { UNet } from '../nn/models/index.js';
import { saveGenerator, type GeneratorMeta } from '../game/train.js';
import { readPthFile, type PthTensor } from '../io/pth.js';
import { versions } from '../util/versions.js';

export interface ImportOptions {
  /** L∞ budget the generator was trained for, in 1/255 units (the authors': 8). */
  eps255: number;
  /** Expected channels (checked against the weights); undefined = infer. */
  channels?: number;
  /** Expected width; undefined = infer. */
  width?: number;
  /** Images the generator was trained on, for the meta (CIFAR-10: 32). */
  imageSize: number;
  numClasses: number;
  dataset: string;
}

export interface ImportResult {
  base: string;
  channels: number;
  width: number;
  tensors: number;
  /** Keys renamed (module. prefix) and non-tensor entries ignored. */
  strippedPrefix: boolean;
  ignored: string[];
}

function toTensor(t: PthTensor): Tensor {
  return tensor(t.data, { shape: t.shape, dtype: t.dtype });
}

export function importPthGenerator(pthPath: string, outBase: string, o: ImportOptions): ImportResult {
  const { tensors: raw, other } = readPthFile(pthPath);
  let strippedPrefix = false;
  const sd = new Map<string, PthTensor>();
  const allPrefixed = raw.size > 0 && [...raw.keys()].every((k) => k.startsWith('module.'));
  for (const [k, v] of raw) {
    sd.set(allPrefixed ? k.slice('module.'.length) : k, v);
  }
  strippedPrefix = allPrefixed;
  const first = sd.get('dconv_down1.0.weight');
  if (!first || first.shape.length !== 4) {
    throw new Error(`${pthPath}: not a GUE U-Net state dict (no dconv_down1.0.weight of shape [width, channels, 3, 3]; keys: ${[...sd.keys()].slice(0, 6).join(', ')}${sd.size > 6 ? ', …' : ''})`);
  }
  const [width, channels] = [first.shape[0]!, first.shape[1]!];
  if (o.channels !== undefined && o.channels !== channels) throw new Error(`${pthPath}: the weights take ${channels}-channel images, not ${o.channels} (--channels)`);
  if (o.width !== undefined && o.width !== width) throw new Error(`${pthPath}: the weights have width ${width}, not ${o.width} (--width)`);
  if (!(o.eps255 > 0 && o.eps255 <= 255)) throw new Error(`eps must be in (0, 255], got ${o.eps255}`);
  const gen = new UNet({ channels, width });
  const loaded = new Map<string, Tensor>();
  try {
    for (const [k, v] of sd) {
      const t = toTensor(v);
      loaded.set(k, v.dtype === 'float32' || v.dtype === 'int64' ? t : t.to(k.endsWith('num_batches_tracked') ? 'int64' : 'float32'));
      if (loaded.get(k) !== t) t.dispose();
    }
    try {
      gen.loadStateDict(loaded);
    } catch (e) {
      throw new Error(`${pthPath}: the weights do not fit gue's U-Net (channels ${channels}, width ${width}): ${(e as Error).message}`);
    }
    const meta: GeneratorMeta = {
      kind: 'gue-generator', eps: o.eps255 / 255, channels, width, imageShape: [channels, o.imageSize, o.imageSize], numClasses: o.numClasses,
      dataset: o.dataset, steps: 0, options: {}, versions: { ...versions(), importedFrom: resolve(pthPath) },
    };
    gen.eval();
    saveGenerator(outBase, gen, meta);
    return { base: outBase, channels, width, tensors: sd.size, strippedPrefix, ignored: other };
  } finally {
    for (const t of loaded.values()) t.dispose();
    gen.dispose();
  }
}
