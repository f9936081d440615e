// The CLI of defenses, adversarial training and GUE-AT: bad flags and combinations are usage errors (exit 2,
// before any data is loaded), `gue evaluate --defense jpeg` and `--at pgd --robust-eval` work on a small
// Fashion-MNIST subset and record what they did, and `gue train --game at` switches on the GUE-AT defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');
const FM = '/usr/share/datasets/fashion-mnist';

function gue(args: string[], timeout = 300_000) {
  const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', timeout, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => assert.ok(!/\n\s+at .+:\d+:\d+/.test(s), `stack trace leaked:\n${s}`);
const last = (out: string) => JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;

test('bad defense, AT and GUE-AT flags are usage errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-cliv-'));
  const run = join(dir, 'run');
  try {
    const cases: [string[], RegExp][] = [
      [['evaluate', '--clean', '--defense', 'nope'], /--defense must be one of none, mixup, cutout, cutmix, jpeg, grayscale, bitdepth, blur/],
      [['evaluate', '--clean', '--defense', 'jpeg', '--defense-opt', 'quality=0'], /option 'quality' of defense 'jpeg' must be at least 1/],
      [['evaluate', '--clean', '--defense', 'jpeg', '--defense-opt', 'qual=5'], /unknown option 'qual' for defense 'jpeg'/],
      [['evaluate', '--clean', '--defense', 'jpeg', '--defense-opt', 'quality'], /expected key=value/],
      [['evaluate', '--clean', '--defense-opt', 'quality=5'], /--defense-opt needs --defense/],
      [['evaluate', '--clean', '--at', 'fgsm'], /--at must be one of none, pgd, trades/],
      [['evaluate', '--clean', '--trades-beta', '3'], /--trades-beta needs --at pgd or --at trades/],
      [['evaluate', '--clean', '--at', 'pgd', '--trades-beta', '3'], /--trades-beta applies to --at trades/],
      [['evaluate', '--clean', '--at-eps', '2'], /--at-eps needs --at pgd\|trades or --robust-eval/],
      [['evaluate', '--clean', '--robust-steps', '5'], /--robust-steps needs --robust-eval/],
      [['evaluate', '--clean', '--at', 'pgd', '--at-eps', '2', '--at-step-size', '3'], /--at-step-size 3 is larger than --at-eps 2/],
      [['evaluate', '--clean', '--at', 'pgd', '--at-eps', '0'], /--at-eps must be at least 0.01/],
      [['train', '--out', run, '--trades-beta', '2'], /--trades-beta needs an adversarial lower loss/],
      [['train', '--out', run, '--lower-loss', 'pgd-at', '--trades-beta', '2'], /--trades-beta applies to --lower-loss trades/],
      [['train', '--out', run, '--game', 'at', '--lower-loss', 'ce'], /--game at needs an adversarial lower loss/],
      [['train', '--out', run, '--game', 'gue'], /--game must be one of standard, at/],
      [['train', '--out', run, '--lower-loss', 'mart'], /--lower-loss must be one of ce, pgd-at, trades/],
    ];
    for (const [args, re] of cases) {
      const r = gue(args);
      assert.equal(r.code, 2, `${args.join(' ')} → exit ${r.code}\n${r.err}`);
      assert.match(r.err, re, args.join(' '));
      noStack(r.err);
    }
    assert.equal(existsSync(run), false, 'no run folder for a refused command');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gue evaluate --defense jpeg and --at pgd --robust-eval on a Fashion-MNIST subset', { skip: !existsSync(FM) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-cliv-'));
  try {
    let r = gue(['evaluate', '--clean', '--train-size', '256', '--epochs', '1', '--model', 'tiny-cnn', '--defense', 'jpeg', '--defense-opt', 'quality=20', '--json', '--out', join(dir, 'jpeg')]);
    assert.equal(r.code, 0, r.err);
    const ev = last(r.out);
    assert.deepEqual(ev.defense, { name: 'jpeg', kind: 'data', options: { quality: 20, subsampling: '4:2:0' } });
    assert.equal(ev.robust_acc, null);
    const saved = JSON.parse(readFileSync(join(dir, 'jpeg', 'results.json'), 'utf8')) as { victim: { defense: string; defenseOptions: unknown }; result: { defense: { name: string } } };
    assert.equal(saved.victim.defense, 'jpeg');
    assert.deepEqual(saved.victim.defenseOptions, { quality: '20' });
    assert.equal(saved.result.defense.name, 'jpeg');

    r = gue(['evaluate', '--clean', '--train-size', '256', '--epochs', '1', '--model', 'tiny-cnn', '--at', 'pgd', '--at-eps', '2', '--at-steps', '2', '--robust-eval', '--robust-steps', '2']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /with PGD-AT at 2\.00\/255: clean test accuracy [\d.]+ %.*; PGD-2 robust accuracy at 2\.00\/255: [\d.]+ %/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gue train --game at: the GUE-AT preset, explicit flags override it, resume refuses another lower loss', { skip: !existsSync(FM) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-cliv-'));
  try {
    const run = join(dir, 'run');
    let r = gue(['train', '--out', run, '--game', 'at', '--epochs', '10', '--trades-beta', '2', '--train-size', '128', '--batch-size', '64', '--max-steps', '1', '--inner-steps', '1', '--at-steps', '1', '--gen-width', '2', '--surrogate', 'tiny-cnn', '--path', 'fast', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(last(r.out).steps, 1);
    const o = (JSON.parse(readFileSync(join(run, 'options.json'), 'utf8')) as { options: Record<string, unknown> }).options;
    assert.equal(o.lowerLoss, 'trades');
    assert.equal(o.tradesBeta, 2, 'an explicit flag overrides the preset');
    assert.equal(o.atEps, 4 / 255);
    assert.equal(o.genMomentum, 0.9);
    assert.equal(o.genWeightDecay, 5e-4);
    assert.equal(o.seed, 1);
    assert.equal(o.epochs, 10);
    assert.deepEqual(o.genMilestones, [8, 9], 'milestones scale with --epochs (120/140 of 150)');
    assert.deepEqual(o.clsMilestones, [8, 9]);
    r = gue(['train', '--out', run, '--resume', '--lower-loss', 'pgd-at']);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot resume with a different lowerLoss \(run has "trades", got "pgd-at"\)/);
    noStack(r.err);
    r = gue(['train', '--out', run, '--resume', '--max-steps', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(last(r.out).steps, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
