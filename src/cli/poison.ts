// `gue poison`: generator + dataset → protected dataset (one forward pass per image, eval-mode BN).
import type { Command } from './main.js';
import { DATA_FLAGS, DEVICE_FLAG, loadSplit, shippedTorchBaseOr } from './common.js';
import { loadGenerator } from '../game/index.js';
import { poisonDataset, generatorPerturbation } from '../attacks/index.js';
import { saveDataset, exportPng, isStoredDataset } from '../data/index.js';
import { versions } from '../util/versions.js';
import { UsageError } from './args.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const poisonCommand: Command = {
  spec: {
    name: 'poison',
    summary: 'protect a dataset with a trained generator (writes a new dataset folder)',
    usage: 'gue poison --generator <run-dir|generator> --out <dir> [--split train|test] [--png <dir>]',
    flags: {
      generator: { type: 'string', description: 'a run folder of gue train, its generator.safetensors, or the name of a shipped libtorch generator (e.g. fmnist-28x28-classwise)' },
      out: { type: 'string', description: 'output dataset folder (never overwritten unless --overwrite)' },
      split: { type: 'string', description: 'which split to protect', default: 'train', choices: ['train', 'test'] },
      quantization: { type: 'string', description: 'uint8 quantization: round (default) or floor (the authors’ truncation)', default: 'round', choices: ['round', 'floor'] },
      png: { type: 'string', description: 'also export the protected images as PNGs into this (new) folder' },
      overwrite: { type: 'boolean', description: 'replace an existing dataset in --out' },
      'batch-size': { type: 'int', description: 'images per forward pass', default: 500, min: 1 },
      ...DATA_FLAGS,
      ...DEVICE_FLAG,
    },
  },
  run({ flags, out }) {
    const g = flags.generator as string | undefined;
    const dir = flags.out as string | undefined;
    if (!g) throw new UsageError('--generator is required');
    if (!dir) throw new UsageError('--out is required');
    if (isStoredDataset(dir) && flags.overwrite !== true) throw new UsageError(`${dir} already holds a dataset; pass --overwrite or choose another --out`);
    const base = shippedTorchBaseOr(g, 'gue poison applies libtorch generators');
    const genPath = existsSync(`${base}/generator.json`) ? `${base}/generator` : base;
    const { gen, meta } = loadGenerator(genPath, flags.device as string);
    try {
      const ds = loadSplit(flags, flags.split as 'train' | 'test');
      if (ds.shape[0] !== meta.channels) throw new UsageError(`the generator takes ${meta.channels}-channel images but the dataset has ${ds.shape[0]}`);
      const { dataset, report } = poisonDataset(ds, generatorPerturbation(gen, meta.eps), {
        eps: meta.eps, quantization: flags.quantization as 'round' | 'floor', batchSize: flags['batch-size'] as number, device: flags.device as string,
      }, out.sink, 'protect');
      saveDataset(dir, dataset, {
        attack: 'gue', generator: resolve(genPath), eps255: meta.eps * 255, quantization: flags.quantization, split: flags.split,
        linf255: report.linf255, meanAbs255: report.meanAbs255, changed: report.changed, versions: versions(),
      }, flags.overwrite === true);
      let pngs = 0;
      if (flags.png) pngs = exportPng(dataset, flags.png as string);
      out.result(
        { out: dir, images: dataset.labels.length, linf255: report.linf255, mean_abs255: report.meanAbs255, changed: report.changed, png: pngs },
        `protected ${dataset.labels.length} images → ${dir}  (L∞ ${report.linf255}/255 after quantization, mean |δ| ${report.meanAbs255.toFixed(2)}/255, ${(report.changed * 100).toFixed(1)} % of pixels changed)` +
          (pngs ? `; ${pngs} PNGs in ${flags.png as string}` : ''),
      );
      return 0;
    } finally {
      gen.dispose();
    }
  },
};
