// `gue experiment` as a user runs it: a tiny end-to-end experiment (clean, random noise, GUE) on 256 Fashion-MNIST
// images through the CLI, producing results.json in the exact format `gue report` reads; a rerun skips every cell;
// file errors are exit-2 messages; every shipped preset parses and expands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandCells, listPresets, loadExperimentFile } from '../src/experiment/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');
function gue(args: string[]) {
  const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => assert.ok(!/\n\s+at .+:\d+:\d+/.test(s), `stack trace leaked:\n${s}`);

/** A tiny experiment file on 256 Fashion-MNIST images: a 2-step GUE generator and 1-epoch tiny-CNN victims. */
function tinyExperiment(name: string, title: string, figure: string, axes: string[]): string {
  return [
    `name: ${name}`, `title: ${title}`, `figure: ${figure}`,
    'dataset: { name: fashion-mnist, trainSize: 256, testSize: 200 }',
    'defaults:',
    '  protect: { eps255: 8, epochs: 1, batchSize: 64, surrogate: tiny-cnn, genWidth: 4, innerSteps: 2, path: fast, steps: 2 }',
    '  victim: { model: tiny-cnn, epochs: 1, batchSize: 64 }',
    'grid:',
    ...axes.map((a) => `  ${a}`),
  ].join('\n');
}

const ROW_KEYS = [
  'cell', 'status', 'error', 'method', 'eps255', 'norm', 'fraction', 'payoff', 'lowerLoss', 'genSteps', 'defense', 'defenseOptions', 'at', 'atEps255',
  'model', 'epochs', 'seed', 'finalAcc', 'worstAcc', 'bestAcc', 'robustAcc', 'curve', 'protectDir', 'generatorRun', 'linf255', 'seconds',
];

test('a tiny experiment end to end through the CLI: results.json in the exact format; a rerun skips every cell', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-expcli-'));
  try {
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, tinyExperiment('tiny', 'Tiny', 'table1', ['protect.method: [clean, random, gue]']));
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

    // Another experiment sharing the cache reuses a victim measured with the same dataset, protected data, victim
    // config and seed (Table 2's small-CNN row is Table 1's cell), and trains the others. Cells done before the
    // victim cache existed seed it on the next run.
    rmSync(join(out, 'protect', 'victims'), { recursive: true, force: true });
    assert.equal(gue(['experiment', file, '--out', out, '--only', 'method-gue']).code, 0);
    assert.equal(readdirSync(join(out, 'protect', 'victims')).length, 3, 'done cells seed the victim cache, selected or not');
    const file2 = join(dir, 'tiny2.yaml');
    writeFileSync(file2, tinyExperiment('tiny2', 'Tiny 2', 'table2', ['protect.method: [clean, random]', 'victim.lr: [0.01, 0.02]']));
    const out2 = join(dir, 'out2');
    const cache = join(out, 'protect');
    const d2 = gue(['experiment', file2, '--out', out2, '--cache', cache, '--dry-run']);
    assert.equal(d2.code, 0, d2.err);
    assert.match(d2.out, /method-clean__lr-0\.01\s+pending\s+none; victim measured by tiny\/method-clean, reused/);
    assert.match(d2.out, /method-random__lr-0\.01\s+pending\s+random .*\(cached\); victim measured by tiny\/method-random, reused/);
    assert.doesNotMatch(d2.out, /lr-0\.02.*reused/);
    assert.match(d2.out, /4 cells: 0 done, 4 to run \(2 reuse a measured victim\); 0 protected datasets to make/);
    const r4 = gue(['experiment', file2, '--out', out2, '--cache', cache, '--json']);
    assert.equal(r4.code, 0, r4.err);
    const s4 = JSON.parse(r4.out.trim().split('\n').pop()!);
    assert.deepEqual(s4.ran, ['method-clean__lr-0.01', 'method-clean__lr-0.02', 'method-random__lr-0.01', 'method-random__lr-0.02']);
    assert.deepEqual(s4.victimsReused, ['method-clean__lr-0.01', 'method-random__lr-0.01']);
    const rows2 = JSON.parse(readFileSync(join(out2, 'results.json'), 'utf8')).rows;
    assert.deepEqual([rows2[0].finalAcc, rows2[0].curve, rows2[0].victimFrom], [clean.finalAcc, clean.curve, 'tiny/method-clean']);
    assert.deepEqual([rows2[2].finalAcc, rows2[2].linf255, rows2[2].victimFrom], [random.finalAcc, 8, 'tiny/method-random']);
    assert.equal(rows2[1].victimFrom, undefined, 'another victim config is trained');
    assert.equal(rows2[3].victimFrom, undefined);
    // The reuse is exact: training the same victim again gives the same numbers on the CPU.
    const r5 = gue(['experiment', file2, '--out', join(dir, 'out3'), '--only', 'method-clean__lr-0.01', '--json']);
    assert.equal(r5.code, 0, r5.err);
    const again = JSON.parse(readFileSync(join(dir, 'out3', 'results.json'), 'utf8')).rows[0];
    assert.deepEqual([again.finalAcc, again.curve, again.victimFrom], [clean.finalAcc, clean.curve, undefined]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--jobs 2 runs the cells in two worker processes: the same numbers as one process, one maker per protected dataset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-expjobs-'));
  try {
    const file = join(dir, 'par.yaml');
    writeFileSync(file, tinyExperiment('par', 'Par', 'table1', ['protect.method: [clean, gue, random]', 'victim.lr: [0.01, 0.02]', 'seed: [5]']));
    const env = { ...process.env, GUE_NUM_THREADS: '1' };
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', timeout: 600_000, env });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const seq = run(['experiment', file, '--out', join(dir, 'seq'), '--json']);
    assert.equal(seq.code, 0, seq.err);
    const par = run(['experiment', file, '--out', join(dir, 'par'), '--jobs', '2']);
    assert.equal(par.code, 0, par.err);
    noStack(par.err);
    assert.match(par.out, /results: .*par\/results\.json \(6 ran, 0 already done, 0 failed\)/);
    assert.equal((par.err.match(/makes protect/g) ?? []).length, 2, `one maker per protected dataset (gue, random):\n${par.err}`);
    const a = JSON.parse(readFileSync(join(dir, 'seq', 'results.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(dir, 'par', 'results.json'), 'utf8'));
    assert.equal(b.command, `gue experiment ${file} --out ${join(dir, 'par')}`, 'the recorded command has no --jobs');
    assert.deepEqual(b.rows.map((r: { cell: string; status: string }) => [r.cell, r.status]), a.rows.map((r: { cell: string }) => [r.cell, 'done']));
    for (let i = 0; i < a.rows.length; i++) {
      assert.deepEqual([b.rows[i].finalAcc, b.rows[i].curve, b.rows[i].linf255, b.rows[i].genSteps], [a.rows[i].finalAcc, a.rows[i].curve, a.rows[i].linf255, a.rows[i].genSteps], a.rows[i].cell);
      assert.ok(existsSync(join(dir, 'par', 'cells', a.rows[i].cell, 'worker.log')), 'each worker keeps its log');
      const cellJson = JSON.parse(readFileSync(join(dir, 'par', 'cells', a.rows[i].cell, 'cell.json'), 'utf8'));
      assert.deepEqual([cellJson.seed, cellJson.victim.seed, b.rows[i].seed], [5, 5, 5], 'cell.json records the seed the victim trained with');
    }
    // A rerun runs nothing.
    const again = run(['experiment', file, '--out', join(dir, 'par'), '--jobs', '2']);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /0 ran, 6 already done, 0 failed/);
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

test('every shipped preset parses, expands, and has no problem', () => {
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
    assert.ok(cells.some((c) => c.protect.method === 'clean'), `${p.name}: a clean reference cell (the victim on clean data)`);
    if (p.name.startsWith('study/')) assert.ok(cells.some((c) => c.protect.method === 'random'), `${p.name}: a random-noise control (the clean one is asserted above)`);
    if (p.name.startsWith('cpu/') || p.name.startsWith('study/')) {
      assert.equal(spec.dataset.name, 'fashion-mnist');
      assert.match(readFileSync(p.path, 'utf8'), /Estimated time on 2 idle cores: about \d+ min/, `${p.name} states its run-time estimate`);
    } else {
      assert.ok(spec.dataset.name.startsWith('cifar'));
      assert.ok(cells.every((c) => c.victim.model !== 'resnet18' || (c.victim.epochs === 100 && JSON.stringify(c.victim.milestones) === '[75,90]')), `${p.name}: paper victim schedule`);
    }
    assert.deepEqual(cells.flatMap((c) => c.problems), [], `${p.name}`);
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
