// `gue import --pth gue_cifar10.pth -o <generator-base>`: converts the GUE authors' PyTorch generator
// weights into gue's generator format (<base>.safetensors + <base>.json), reading the .pth without Python
// and without executing any code from it.
import { existsSync } from 'node:fs';
import type { Command } from './main.js';
import { UsageError } from './args.js';
import { importPthGenerator } from '../protect/import.js';

export const importCommand: Command = {
  spec: {
    name: 'import',
    summary: "import the GUE authors' generator weights (.pth state dict) as a gue generator",
    usage: 'gue import --pth gue_cifar10.pth --out <generator-base> [--eps 8] [--channels 3] [--width N]',
    positionals: { name: '', min: 0, max: 2 },
    flags: {
      pth: { type: 'string', description: 'PyTorch state dict of the U-Net (torch.save zip format)' },
      out: { type: 'string', description: 'generator to write: <base>.safetensors + <base>.json (also -o)' },
      eps: { type: 'number', description: 'L∞ budget the weights were trained for, in 1/255 units', default: 8, min: 0.5, max: 255 },
      channels: { type: 'int', description: 'expected image channels (default: inferred from the weights)', min: 1 },
      width: { type: 'int', description: "expected U-Net width (default: inferred; the authors' is 64)", min: 1 },
      'image-size': { type: 'int', description: 'image size the generator was trained on (recorded in the meta)', default: 32, min: 8 },
      'num-classes': { type: 'int', description: 'classes of its training set (recorded in the meta)', default: 10, min: 2 },
      'dataset-name': { type: 'string', description: 'training set name recorded in the meta', default: 'cifar10 (GUE authors)' },
      overwrite: { type: 'boolean', description: 'replace an existing generator at --out' },
    },
  },
  run({ flags, positionals, out }) {
    const rest = [...positionals];
    let base = flags.out as string | undefined;
    const i = rest.indexOf('-o');
    if (i >= 0) {
      if (rest[i + 1] === undefined) throw new UsageError('-o needs a value');
      if (base !== undefined && base !== rest[i + 1]) throw new UsageError('give the output once (-o or --out)');
      base = rest[i + 1];
      rest.splice(i, 2);
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'. Usage: ${importCommand.spec.usage}`);
    const pth = flags.pth as string | undefined;
    if (!pth) throw new UsageError('--pth <file> is required');
    if (!base) throw new UsageError('-o <generator-base> is required');
    base = base.replace(/\.(safetensors|json)$/, '');
    if (!existsSync(pth)) throw new Error(`${pth}: no such file`);
    if (flags.overwrite !== true && (existsSync(`${base}.json`) || existsSync(`${base}.safetensors`))) {
      throw new UsageError(`${base}.json already exists; pass --overwrite or choose another -o`);
    }
    const r = importPthGenerator(pth, base, {
      eps255: flags.eps as number,
      channels: flags.channels as number | undefined,
      width: flags.width as number | undefined,
      imageSize: flags['image-size'] as number,
      numClasses: flags['num-classes'] as number,
      dataset: flags['dataset-name'] as string,
    });
    out.result(
      { generator: r.base, channels: r.channels, width: r.width, tensors: r.tensors, eps255: flags.eps, stripped_module_prefix: r.strippedPrefix, ignored: r.ignored },
      `imported ${pth} → ${r.base}.safetensors (+ .json): U-Net with ${r.channels} channels, width ${r.width}, ${r.tensors} tensors, ε = ${flags.eps as number}/255` +
        (r.strippedPrefix ? " ('module.' prefix stripped)" : '') + (r.ignored.length ? `; ignored non-tensor entries: ${r.ignored.join(', ')}` : ''),
    );
    return 0;
  },
};
