// `gue experiment` as a user runs it: a tiny end-to-end experiment (clean, random noise, GUE) on 256 Fashion-MNIST
// images through the CLI, producing results.json in the exact format `gue report` reads; a rerun skips every cell;
// file errors are exit-2 messages; every shipped preset parses and expands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ATTACKS } from '../src/attacks/index.js';
import { TRAIN_DEFAULTS } from '../src/game/index.js';
import { VICTIM_DEFAULTS } from '../src/victim/index.js';
import { expandCells, listPresets, loadExperimentFile } from '../src/experiment/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');
function gue(args: string[]) {
  const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => assert.ok(!/\n\s+at .+:\d+:\d+/.test(s), `stack trace leaked:\n${s}`);

const ROW_KEYS = [
  'cell', 'status', 'error', 'method', 'eps255', 'norm', 'fraction', 'payoff', 'lowerLoss', 'genSteps', 'defense', 'defenseOptions', 'at', 'atEps255',
  'model', 'epochs', 'seed', 'finalAcc', 'worstAcc', 'bestAcc', 'robustAcc', 'curve', 'protectDir', 'generatorRun', 'linf255', 'seconds',
];

test('a tiny experiment end to end through the CLI: results.json in the exact format; a rerun skips every cell', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-expcli-'));
  try {
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, [
      'name: tiny',
      'title: Tiny',
      'figure: table1',
      'dataset: { name: fashion-mnist, trainSize: 256, testSize: 200 }',
      'defaults:',
      '  protect: { eps255: 8, epochs: 1, batchSize: 64, surrogate: tiny-cnn, genWidth: 4, innerSteps: 2, path: fast, steps: 2 }',
      '  victim: { model: tiny-cnn, epochs: 1, batchSize: 64 }',
      'grid:',
      '  protect.method: [clean, random, gue]',
    ].join('\n'));
    const out = join(dir, 'out');
    const r = gue(['experiment', file, '--out', out, '--json']);
    assert.equal(r.code, 0, r.err);
    const last = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.deepEqual(last.ran, ['method-clean', 'method-random', 'method-gue']);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.deepEqual(Object.keys(res), ['experiment', 'title', 'figure', 'dataset', 'trainSize', 'createdAt', 'command', 'versions', 'rows']);
    assert.equal(res.command, `gue experiment ${file} --out ${out}`, 'the command line that ran it, without --json');
    assert.equal(res.experiment, 'tiny');
    assert.equal(res.figure, 'table1');
    assert.equal(res.dataset, 'fashion-mnist');
    assert.equal(res.trainSize, 256);
    assert.ok(!Number.isNaN(Date.parse(res.createdAt)));
    assert.equal(typeof res.versions.gue, 'string');
    assert.equal(res.rows.length, 3);
    for (const row of res.rows) {
      assert.deepEqual(Object.keys(row), ROW_KEYS);
      assert.equal(row.status, 'done');
      assert.equal(row.error, null);
      assert.equal(row.model, 'tiny-cnn');
      assert.equal(row.epochs, 1);
      assert.equal(row.curve.length, 1);
      assert.equal(row.curve[0], row.finalAcc);
      assert.ok(row.finalAcc >= 0 && row.finalAcc <= 100);
      assert.equal(row.defense, 'none');
      assert.equal(row.at, 'none');
      assert.equal(row.atEps255, 0);
      assert.equal(row.robustAcc, null);
      assert.ok(row.seconds > 0);
    }
    const [clean, random, g] = res.rows;
    assert.deepEqual([clean.method, clean.eps255, clean.protectDir, clean.linf255, clean.payoff], ['clean', 0, null, 0, null]);
    assert.deepEqual([random.method, random.eps255, random.linf255, random.generatorRun, random.genSteps], ['random', 8, 8, null, null]);
    assert.match(random.protectDir, /^protect\/[0-9a-f]{10}$/);
    assert.deepEqual([g.method, g.payoff, g.lowerLoss, g.fraction, g.genSteps], ['gue', 'surrogate', 'ce', 1, 2]);
    assert.equal(g.generatorRun, `${g.protectDir}/run`);
    assert.ok(existsSync(join(out, g.generatorRun, 'generator.safetensors')));
    assert.ok(existsSync(join(out, 'cells', 'method-gue', 'cell.json')));

    // A rerun runs nothing; the human output is one table.
    const r2 = gue(['experiment', file, '--out', out, '--only', 'method-*']);
    assert.equal(r2.code, 0, r2.err);
    assert.match(r2.out, /cell\s+method\s+model/);
    assert.match(r2.out, /0 ran, 3 already done, 0 failed/);
    assert.equal(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).command, `gue experiment ${file} --out ${out}`, 'results.json records the whole experiment (no --only)');
    assert.doesNotMatch(r2.err, /epoch/);
    // The dry run sees the cache.
    const r3 = gue(['experiment', file, '--out', out, '--dry-run', '--only', 'method-r*']);
    assert.equal(r3.code, 0, r3.err);
    assert.match(r3.out, /method-random\s+done\s+random protect\/[0-9a-f]+ \(cached\)/);
    assert.doesNotMatch(r3.out, /method-gue/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file errors are exit-2 messages naming the key; nothing is written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-expcli-'));
  try {
    const bad = join(dir, 'bad.yaml');
    const cases: [string, RegExp][] = [
      ['name: x\nfigure: f\ndataset: { name: fashion-mnist }\ngrid: { protect.method: [clean] }\nvictims: {}\n', /unknown key 'victims'/],
      ['name: x\nfigure: f\ndataset: { name: fashion-mnist }\ngrid: { victim.model: [resnet9000] }\n', /unknown model 'resnet9000'/],
      ['name: x\nfigure: f\ndataset: { name: fashion-mnist }\ngrid: { protect.method: [nope] }\n', /unknown method 'nope'/],
      ['name: x\nfigure: [f\n', /not valid YAML/],
    ];
    for (const [text, re] of cases) {
      writeFileSync(bad, text);
      const r = gue(['experiment', bad, '--out', join(dir, 'out')]);
      assert.equal(r.code, 2, `${text}\n${r.err}`);
      assert.match(r.err, re);
      noStack(r.err);
      assert.equal(existsSync(join(dir, 'out')), false, 'nothing written');
    }
    let r = gue(['experiment', join(dir, 'missing.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /neither a file nor a preset; presets: .*cpu\/table1/);
    r = gue(['experiment']);
    assert.equal(r.code, 2);
    assert.match(r.err, /needs an experiment file or a preset name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Names and options that other parts of the toolkit add (the baseline attacks, the defenses, adversarial training,
// GUE-AT). Until they are in this build, a preset that uses them reports them as problems; nothing else may fail.
const ISSUE_ATTACKS = ['em-sample', 'em-class', 'tap', 'deepconfuse', 'shortcutgen', 'rem', 'lsp', 'ar'];
const VICTIM_PENDING = ['defense', 'defenseOptions', 'at', 'atEps', 'atSteps', 'tradesBeta', 'robustEval', 'robustEps'];
const GAME_PENDING = ['lowerLoss', 'atEps', 'atSteps', 'tradesBeta', 'genMilestones', 'clsMilestones', 'lrGamma'];

function pendingFeature(problem: string): boolean {
  let m = /unknown method '([^']+)'/.exec(problem);
  if (m) return ISSUE_ATTACKS.includes(m[1]!) && !(m[1]! in ATTACKS);
  m = /'(\w+)' is not an option of this build's trainVictim/.exec(problem);
  if (m) return VICTIM_PENDING.includes(m[1]!) && !(m[1]! in VICTIM_DEFAULTS);
  m = /'(\w+)' is not an option of this build's trainGenerator/.exec(problem);
  if (m) return GAME_PENDING.includes(m[1]!) && !(m[1]! in TRAIN_DEFAULTS);
  return false;
}

test('every shipped preset parses, expands, and has no problem beyond features this build lacks', () => {
  const presets = listPresets();
  const names = presets.map((p) => p.name);
  assert.ok(names.includes('study/eps') && names.includes('study/solver'), 'the issue-8 study presets are shipped');
  for (const group of ['cpu', 'paper']) {
    for (const t of ['table1', 'table2', 'table3', 'table4', 'fig2', 'fig3', 'fig4', 'fig5']) assert.ok(names.includes(`${group}/${t}`), `${group}/${t} is shipped`);
  }
  for (const p of presets) {
    const spec = loadExperimentFile(p.path);
    assert.ok(p.summary.length > 0, `${p.name} starts with a comment line`);
    const cells = expandCells(spec);
    assert.ok(cells.length > 0);
    const figure = p.name.split('/')[1];
    assert.equal(spec.figure, figure, `${p.name}: figure`);
    if (p.name.startsWith('study/')) assert.ok(cells.some((c) => c.protect.method === 'random') && cells.some((c) => c.protect.method === 'clean'), `${p.name}: clean and random-noise controls`);
    if (p.name.startsWith('cpu/') || p.name.startsWith('study/')) {
      assert.equal(spec.dataset.name, 'fashion-mnist');
      assert.match(readFileSync(p.path, 'utf8'), /Estimated time on 2 idle cores: about \d+ min/, `${p.name} states its run-time estimate`);
    } else {
      assert.ok(spec.dataset.name.startsWith('cifar'));
      assert.ok(cells.every((c) => c.victim.model !== 'resnet18' || (c.victim.epochs === 100 && JSON.stringify(c.victim.milestones) === '[75,90]')), `${p.name}: paper victim schedule`);
    }
    const hard = cells.flatMap((c) => c.problems).filter((x) => !pendingFeature(x));
    assert.deepEqual(hard, [], `${p.name}`);
  }
  // The CLI lists them and resolves a name without a path.
  const r = gue(['experiment', '--list-presets']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /cpu\/table1\s+Table 1 \(CPU scale\)/);
  const d = gue(['experiment', 'cpu/fig2', '--dry-run', '--out', join(tmpdir(), 'gue-never-written')]);
  assert.equal(d.code, 0, d.err);
  assert.match(d.out, /method-clean\s+pending\s+none/);
  assert.match(d.out, /2 cells: 0 done, 2 to run; 1 protected datasets to make/);
  assert.equal(existsSync(join(tmpdir(), 'gue-never-written')), false, 'a dry run writes nothing');
});
