// `gue evaluate`: train a fresh victim on a protected (or, with --clean, the clean) training set and report
// its clean test accuracy after every epoch and at the end. With --defense the victim uses a defense
// (src/defenses); with --at pgd|trades it is adversarially trained; --robust-eval adds PGD robust accuracy.
import type { Command } from './main.js';
import { DATA_FLAGS, DEVICE_FLAG, VICTIM_FLAGS, loadSplit, loadTrainingSet, victimOptions } from './common.js';
import { trainVictim } from '../victim/index.js';
import { UsageError } from './args.js';
import { writeJsonAtomicSync } from '../io/index.js';
import { versions } from '../util/versions.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const evaluateCommand: Command = {
  spec: {
    name: 'evaluate',
    summary: 'train a fresh victim on protected (or --clean) data and report clean test accuracy',
    usage: 'gue evaluate (--data <protected-dir> | --clean) [--dataset fashion-mnist] [--model small-cnn] [--epochs N] [--defense <name> --defense-opt k=v,...] [--at none|pgd|trades --at-eps 4] [--robust-eval] [--out <dir>]',
    flags: {
      data: { type: 'string', description: 'protected dataset folder written by gue poison' },
      clean: { type: 'boolean', description: 'train on the clean training set (the baseline)' },
      out: { type: 'string', description: 'write results.json (options, per-epoch curve, versions) here' },
      ...DATA_FLAGS,
      ...VICTIM_FLAGS,
      ...DEVICE_FLAG,
    },
  },
  run({ flags, out }) {
    const clean = flags.clean === true;
    const data = flags.data as string | undefined;
    if (clean === (data !== undefined)) throw new UsageError('give exactly one of --data <protected-dir> or --clean');
    const vo = victimOptions(flags);
    const { ds: train, meta } = loadTrainingSet(flags, data);
    const test = loadSplit(flags, 'test');
    const r = trainVictim(train, test, vo, out.sink, clean ? 'clean victim' : 'victim');
    if (flags.out) {
      const dir = flags.out as string;
      mkdirSync(dir, { recursive: true });
      writeJsonAtomicSync(join(dir, 'results.json'), {
        command: 'evaluate', training: clean ? 'clean' : data, trainingMeta: meta, victim: vo, result: r, versions: versions(),
      });
    }
    const how = [
      r.defense ? `defense ${r.defense.name}${Object.keys(r.defense.options).length ? ` (${Object.entries(r.defense.options).map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : ''}` : '',
      r.adversarialTraining ? `${r.adversarialTraining.kind === 'pgd' ? 'PGD-AT' : 'TRADES'} at ${(r.adversarialTraining.eps * 255).toFixed(2)}/255` : '',
    ].filter((t) => t).join(', ');
    out.result(
      {
        test_acc: r.finalTestAcc, worst_acc: r.worstTestAcc, best_acc: r.bestTestAcc, epochs: r.epochs.length, model: vo.model, training: clean ? 'clean' : data,
        curve: r.epochs.map((e) => e.testAcc), defense: r.defense, adversarial_training: r.adversarialTraining, robust_acc: r.robustAcc, robust: r.robust,
      },
      `${vo.model} trained ${r.epochs.length} epochs on ${clean ? 'clean' : 'protected'} data${how ? ` with ${how}` : ''}: clean test accuracy ${r.finalTestAcc.toFixed(2)} % (per epoch: ${r.epochs.map((e) => e.testAcc.toFixed(1)).join(' ')})` +
        (r.robustAcc !== null && r.robust ? `; PGD-${r.robust.steps} robust accuracy at ${(r.robust.eps * 255).toFixed(2)}/255: ${r.robustAcc.toFixed(2)} %` : ''),
    );
    return 0;
  },
};
