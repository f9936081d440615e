// `gue attack`: protect a training set with one of the baseline availability attacks of the registry
// (src/attacks/registry.ts) and write it as a dataset folder, like `gue poison` does for GUE, so that
// `gue evaluate --data <dir>` trains a victim on it. `gue attack --list` shows the attacks, their papers
// and their options.
import type { Command } from './main.js';
import { DATA_FLAGS, DEVICE_FLAG, loadSplit } from './common.js';
import { ATTACKS, getAttack, runAttack, type Norm } from '../attacks/index.js';
import { saveDataset, exportPng, isStoredDataset } from '../data/index.js';
import { versions } from '../util/versions.js';
import { OptionError, parseKeyValues, resolveOptions } from '../util/options.js';
import { UsageError } from './args.js';
import { existsSync, readdirSync } from 'node:fs';

function listAttacks(): { json: Record<string, unknown>; human: string } {
  const json: Record<string, unknown> = {};
  const lines: string[] = ['Attacks (gue attack --method <name> [--opt key=value,...]):', ''];
  for (const a of Object.values(ATTACKS)) {
    json[a.name] = { title: a.title, cite: a.cite, norms: a.norms, options: a.options };
    lines.push(`${a.name}  [${a.norms.join(', ')}]`, `  ${a.title}`, `  ${a.cite}`);
    for (const [k, s] of Object.entries(a.options)) {
      const ch = s.choices ? ` [${s.choices.join('|')}]` : '';
      lines.push(`    ${k}=${String(s.default)}`.padEnd(26) + ` ${s.type}${ch}: ${s.description}`);
    }
    lines.push('');
  }
  return { json, human: lines.join('\n').trimEnd() };
}

export const attackCommand: Command = {
  spec: {
    name: 'attack',
    summary: 'protect a dataset with a baseline attack (EM, TAP, LSP, AR, random noise, ...); --list shows them',
    usage: 'gue attack --method <name> --out <dir> [--eps 8 | --norm l2 --eps-l2 1.0] [--opt key=value,...] [--seed N] [--train-size N] [--png <dir>] | gue attack --list',
    flags: {
      method: { type: 'string', description: 'attack name (see --list)' },
      list: { type: 'boolean', description: 'list the attacks with their papers and options, then exit' },
      out: { type: 'string', description: 'output dataset folder (never overwritten unless --overwrite)' },
      norm: { type: 'string', description: 'budget norm: linf (--eps, per pixel) or l2 (--eps-l2, per image)', default: 'linf', choices: ['linf', 'l2'] },
      eps: { type: 'number', description: 'L∞ budget in 1/255 units (for --norm linf)', default: 8, min: 0.5, max: 255 },
      'eps-l2': { type: 'number', description: 'L2 radius per image, in [0,1] pixel units (for --norm l2; the AR/LSP papers use about 1 on 3×32×32 CIFAR, ≈ 0.5 is the same per-pixel energy on 28×28 Fashion-MNIST)', default: 1, min: 0 },
      opt: { type: 'list', description: "attack options as a comma list key=value,key=value (see --list); e.g. --opt model=tiny-cnn,maxRounds=5" },
      seed: { type: 'int', description: 'seed of the attack’s random choices', default: 0, min: 0 },
      quantization: { type: 'string', description: 'uint8 quantization: round (default) or floor (truncation)', default: 'round', choices: ['round', 'floor'] },
      png: { type: 'string', description: 'also export the protected images as PNGs into this (new or empty) folder' },
      overwrite: { type: 'boolean', description: 'replace an existing dataset in --out' },
      'batch-size': { type: 'int', description: 'images per batch when applying the perturbations', default: 500, min: 1 },
      ...DATA_FLAGS,
      ...DEVICE_FLAG,
    },
  },
  run({ flags, given, out }) {
    if (flags.list === true) {
      const { json, human } = listAttacks();
      out.result({ attacks: json }, human);
      return 0;
    }
    // The flag parser keeps only the last value of a repeated flag; refuse a repeated --opt rather than drop options.
    if (process.argv.filter((a) => a === '--opt' || a.startsWith('--opt=')).length > 1) throw new UsageError('give --opt once, as a comma list: --opt key=value,key=value');
    const method = flags.method as string | undefined;
    const dir = flags.out as string | undefined;
    if (!method) throw new UsageError("--method is required (or --list to see the attacks)");
    if (!dir) throw new UsageError('--out is required');
    if (!(method in ATTACKS)) throw new UsageError(`unknown attack '${method}'; available: ${Object.keys(ATTACKS).join(', ')}`);
    const attack = getAttack(method);
    const norm = flags.norm as Norm;
    if (!attack.norms.includes(norm)) throw new UsageError(`attack '${method}' supports --norm ${attack.norms.join(', ')}, not ${norm}`);
    if (norm === 'l2' && given.has('eps')) throw new UsageError('--eps is the L∞ budget; with --norm l2 give the radius with --eps-l2');
    if (norm === 'linf' && given.has('eps-l2')) throw new UsageError('--eps-l2 needs --norm l2');
    let raw: Record<string, string>;
    let options: ReturnType<typeof resolveOptions>;
    try {
      raw = parseKeyValues((flags.opt as string[] | undefined) ?? []);
      options = resolveOptions(`attack '${method}'`, attack.options, raw);
    } catch (e) {
      if (e instanceof OptionError) throw new UsageError(e.message);
      throw e;
    }
    if (isStoredDataset(dir) && flags.overwrite !== true) throw new UsageError(`${dir} already holds a dataset; pass --overwrite or choose another --out`);
    const png = flags.png as string | undefined;
    if (png !== undefined && existsSync(png) && readdirSync(png).length > 0) throw new UsageError(`${png} is not empty; choose an empty or new folder for --png`);
    const train = loadSplit(flags, 'train');
    const [c, h, w] = train.shape;
    const eps = norm === 'linf' ? (flags.eps as number) / 255 : (flags['eps-l2'] as number);
    if (norm === 'l2' && !(eps > 0 && eps <= Math.sqrt(c * h * w))) throw new UsageError(`--eps-l2 must be in (0, ${Math.sqrt(c * h * w).toFixed(2)}] for ${c}×${h}×${w} images; got ${eps}`);
    const seed = flags.seed as number;
    let r: ReturnType<typeof runAttack>;
    try {
      r = runAttack(method, train, {
        eps, norm, seed, device: flags.device as string, quantization: flags.quantization as 'round' | 'floor', batchSize: flags['batch-size'] as number,
        options: raw, onEvent: out.sink, task: method,
      });
    } catch (e) {
      if (e instanceof OptionError) throw new UsageError(e.message);
      throw e;
    }
    const { dataset, report } = r;
    saveDataset(dir, dataset, {
      attack: method, cite: attack.cite, options: r.options, attackMeta: r.meta, norm, eps, eps255: norm === 'linf' ? eps * 255 : undefined, epsL2: norm === 'l2' ? eps : undefined,
      seed, quantization: flags.quantization, split: 'train', report, linf255: report.linf255, meanAbs255: report.meanAbs255, changed: report.changed, versions: versions(),
    }, flags.overwrite === true);
    let pngs = 0;
    if (png !== undefined) pngs = exportPng(dataset, png);
    const budget = norm === 'linf' ? `L∞ ${report.linf255}/255` : `L2 max ${report.l2Max.toFixed(4)} (≤ ${eps})`;
    out.result(
      { out: dir, attack: method, images: dataset.labels.length, norm, eps, linf255: report.linf255, l2_max: report.l2Max, l2_mean: report.l2Mean, mean_abs255: report.meanAbs255, changed: report.changed, options: r.options, png: pngs },
      `${method}: protected ${dataset.labels.length} images → ${dir}  (${budget} after quantization, mean |δ| ${report.meanAbs255.toFixed(2)}/255, ${(report.changed * 100).toFixed(1)} % of pixels changed)` +
        (pngs ? `; ${pngs} PNGs in ${png}` : ''),
    );
    return 0;
  },
};
