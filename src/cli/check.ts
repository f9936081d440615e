// `gue check`: "is my protection still working?" Trains a quick victim on protected and on clean data
// (optionally after JPEG / resizing / grayscale of the protected data) and prints the accuracy gap with a
// plain-language verdict. Two ways to give the protected data:
//   --generator G            protect the (first --train-size images of the) training set with G here;
//   --protected DIR          a dataset written by `gue poison`, with its clean twin --clean DIR or the
//                            named --dataset (its first N training images, N = the protected set's size).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from './main.js';
import { UsageError, type FlagValues } from './args.js';
import { DATA_FLAGS, DEVICE_FLAG, VICTIM_FLAGS, loadSplit, victimOptions } from './common.js';
import { isStoredDataset, loadDataset, type ImageDataset } from '../data/index.js';
import { writeJsonAtomicSync } from '../io/index.js';
import { versions } from '../util/versions.js';
import { openGenerator } from '../protect/open.js';
import { protectDataset } from '../protect/dataset.js';
import { runCheck, type CheckReport } from '../protect/check.js';
import type { TransformSpec } from '../protect/transforms.js';

function storedSet(dir: string, what: string): ImageDataset {
  if (!isStoredDataset(dir)) throw new UsageError(`${dir} (${what}) is not a dataset written by 'gue poison' (dataset.json + dataset.safetensors)`);
  return loadDataset(dir).ds;
}

function firstN(ds: ImageDataset, n: number): ImageDataset {
  if (n <= 0 || n >= ds.labels.length) return ds;
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  return { ...ds, images: ds.images.slice(0, n * per), labels: ds.labels.slice(0, n), source: `${ds.source}[:${n}]` };
}

function transforms(flags: FlagValues): TransformSpec[] {
  const out: TransformSpec[] = [];
  for (const s of (flags.jpeg as string[] | undefined) ?? []) {
    const q = Number(s);
    if (!Number.isInteger(q) || q < 1 || q > 100) throw new UsageError(`--jpeg takes qualities in 1..100 (comma list); got '${s}'`);
    out.push({ kind: 'jpeg', quality: q });
  }
  for (const s of (flags.resize as string[] | undefined) ?? []) {
    const f = Number(s);
    if (!(f > 0 && f < 1)) throw new UsageError(`--resize takes factors in (0, 1) (comma list, e.g. 0.5); got '${s}'`);
    out.push({ kind: 'resize', factor: f });
  }
  if (flags.grayscale === true) out.push({ kind: 'grayscale' });
  return out;
}

function table(r: CheckReport): string {
  const lines = ['training data'.padEnd(34) + 'clean test acc'.padStart(15) + 'gap'.padStart(9) + '  verdict'];
  for (const row of r.rows) {
    lines.push(row.training.padEnd(34) + `${row.testAcc.toFixed(1)} %`.padStart(15) + (row.training === 'clean' ? '' : `${row.gap.toFixed(1)}`).padStart(9) + `  ${row.verdict}`);
  }
  lines.push('', r.summary);
  return lines.join('\n');
}

export const checkCommand: Command = {
  spec: {
    name: 'check',
    summary: 'is my protection still working? train quick victims on protected vs clean data and compare',
    usage: 'gue check (--generator G | --protected <dir> [--clean <dir>]) [--dataset fashion-mnist] [--train-size N] [--jpeg 75,50] [--resize 0.5] [--grayscale] [--model small-cnn] [--epochs N]',
    flags: {
      generator: { type: 'string', description: 'protect the training set with this generator (run folder, .safetensors, .onnx, or the name of a shipped one)' },
      protected: { type: 'string', description: "a protected dataset folder written by 'gue poison'" },
      clean: { type: 'string', description: "the clean twin of --protected (a 'gue poison'-format folder; default: the --dataset training split)" },
      jpeg: { type: 'list', description: 'also train on the protected data after JPEG at these qualities (comma list)' },
      resize: { type: 'list', description: 'also train after downscaling by these factors and back (comma list, in (0,1))' },
      grayscale: { type: 'boolean', description: 'also train after converting the protected data to grayscale' },
      test: { type: 'string', description: "clean test set as a 'gue poison'-format folder (default: the --dataset test split)" },
      'test-size': { type: 'int', description: 'use only the first N test images (0 = all)', default: 0, min: 0 },
      out: { type: 'string', description: 'write check.json (options, rows, verdict, versions) into this folder' },
      ...DATA_FLAGS,
      'train-size': { ...DATA_FLAGS['train-size']!, description: 'use only the first N training images (0 = all)', default: 10000 },
      ...VICTIM_FLAGS,
      epochs: { ...VICTIM_FLAGS.epochs!, default: 5 },
      ...DEVICE_FLAG,
    },
  },
  async run({ flags, given, out }) {
    const gen = flags.generator as string | undefined;
    const protDir = flags.protected as string | undefined;
    if ((gen === undefined) === (protDir === undefined)) throw new UsageError('give exactly one of --generator <G> or --protected <dir>');
    if (gen !== undefined && flags.clean !== undefined) throw new UsageError('--clean goes with --protected (with --generator the clean data is the --dataset training split)');
    const tf = transforms(flags);
    const vo = victimOptions(flags);
    let clean: ImageDataset;
    let prot: ImageDataset;
    let linf255: number | null = null;
    if (protDir !== undefined) {
      prot = storedSet(protDir, '--protected');
      if (given.has('train-size')) prot = firstN(prot, flags['train-size'] as number);
      if (flags.clean !== undefined) clean = firstN(storedSet(flags.clean as string, '--clean'), prot.labels.length);
      else clean = loadSplit({ ...flags, 'train-size': prot.labels.length }, 'train');
    } else {
      clean = loadSplit(flags, 'train');
      const { backend } = await openGenerator(gen, { device: flags.device as string });
      try {
        const p = await protectDataset(clean, backend, { batchSize: 256 }, out.sink);
        prot = p.dataset;
        linf255 = p.linf255;
      } finally {
        await backend.dispose();
      }
    }
    const test = firstN(flags.test !== undefined ? storedSet(flags.test as string, '--test') : loadSplit(flags, 'test'), flags['test-size'] as number);
    const r = await runCheck({ clean, protected: prot, test }, { victim: vo, transforms: tf }, out.sink);
    const obj = {
      clean_acc: r.cleanAcc, chance: r.chance, summary: r.summary,
      rows: r.rows.map((x) => ({ training: x.training, test_acc: x.testAcc, gap: x.training === 'clean' ? 0 : x.gap, retained: Number.isFinite(x.retained) ? x.retained : null, verdict: x.verdict, curve: x.curve })),
      train_size: clean.labels.length, test_size: test.labels.length, linf255, victim: vo,
    };
    if (flags.out) {
      const dir = flags.out as string;
      mkdirSync(dir, { recursive: true });
      writeJsonAtomicSync(join(dir, 'check.json'), { command: 'check', generator: gen ?? null, protected: protDir ?? null, clean: (flags.clean as string | undefined) ?? flags.dataset, ...obj, versions: versions() });
    }
    out.result(obj, table(r));
    return 0;
  },
};
