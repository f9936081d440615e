// The experiment runner: schema validation (errors name the bad key), grid expansion and cell ids, the
// protect-stage cache shared between cells, resume (finished cells are skipped; a GUE run resumes from its
// checkpoint), failure isolation, and the results.json format that `gue report` reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memory } from '../src/engine/index.js';
import { trainGenerator } from '../src/game/index.js';
import { loadDataset } from '../src/data/index.js';
import {
  ExperimentError, expandCells, loadExperimentFile, matchGlob, parseExperiment, planExperiment, runExperiment, stableJson, type ExperimentSpec,
} from '../src/experiment/index.js';
import type { GueEvent } from '../src/util/events.js';
import { syntheticDataset, syntheticTemplates } from './helpers/synthetic.js';

const base = () => ({
  name: 't',
  figure: 'table1',
  dataset: { name: 'fashion-mnist' },
  defaults: { victim: { model: 'tiny-cnn', epochs: 1, batchSize: 32, cropPadding: 0, flip: false } },
  grid: { 'protect.method': ['clean', 'random'] },
});

test('schema errors name the offending key', () => {
  const cases: [unknown, RegExp][] = [
    [[], /mapping at the top level/],
    [{ ...base(), colour: 1 }, /unknown key 'colour'/],
    [{ ...base(), name: 'a b' }, /name 'a b' may use only/],
    [{ ...base(), figure: undefined }, /figure must be a non-empty string/],
    [{ ...base(), dataset: { name: 'mnist' } }, /dataset\.name must be one of fashion-mnist, cifar10, cifar100/],
    [{ ...base(), dataset: { name: 'cifar10', trainSize: -1 } }, /dataset\.trainSize must be an integer/],
    [{ ...base(), dataset: { name: 'cifar10', size: 3 } }, /dataset: unknown key 'size'/],
    [{ ...base(), defaults: { victims: {} } }, /defaults: unknown key 'victims'/],
    [{ ...base(), defaults: { protect: 3 } }, /defaults\.protect must be a mapping/],
    [{ ...base(), grid: { 'victim-model': ['a'] } }, /bad axis 'victim-model'/],
    [{ ...base(), grid: { 'victim.model': [] } }, /grid\.victim\.model must be a non-empty list/],
    [{ ...base(), grid: { seed: [1, 'x'] } }, /grid\.seed\[1\] must be an integer/],
    [{ ...base(), grid: { victim: ['x'] } }, /grid\.victim\[0\] must be a mapping/],
    [{ ...base(), grid: undefined }, /give a 'grid' and\/or a list of 'cells'/],
    [{ ...base(), cells: [{ victim: {}, extra: 1 }] }, /cells\[0\]: unknown key 'extra'/],
    [{ ...base(), cells: [{ id: 'a/b' }] }, /cells\[0\]\.id 'a\/b' may use only/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => parseExperiment(raw, 'x.yaml'), (e: Error) => e instanceof ExperimentError && re.test(e.message), `${JSON.stringify(raw)} should fail with ${re}`);
  }
});

test('problems in cell options are listed before any work, naming the cell and the key', () => {
  const spec = parseExperiment({
    ...base(),
    grid: undefined,
    cells: [
      { protect: { method: 'nope' } },
      { protect: { method: 'random', options: { kind: 'zigzag' } } },
      { protect: { method: 'random', colour: 1 } },
      { victim: { model: 'resnet9000' } },
      { victim: { epochs: 0 } },
      { victim: { seed: 3 } },
      { victim: { frobnicate: 2 } },
      { protect: { method: 'gue', fraction: 1.5 } },
      { protect: { method: 'gue', eps: 0.03 } },
      { protect: { method: 'gue', lowerLos: 'trades' } },
      { victim: { defense: 'grayscale' } },
      { protect: { method: 'gue', genGrad: 'w' } },
      { protect: { method: 'gue', clsGrad: 'pessimistic' } },
    ],
  }, 'x.yaml');
  const cells = expandCells(spec);
  const expected = [
    /cells\[0\]: protect\.method: unknown method 'nope'; available: clean, gue, random/,
    /cells\[1\]: protect\.options: option 'kind' of attack 'random' must be one of uniform, sign/,
    /cells\[2\]: protect: unknown protect option 'colour'/,
    /cells\[3\]: victim\.model: unknown model 'resnet9000'/,
    /cells\[4\]: victim\.epochs must be an integer ≥ 1/,
    /cells\[5\]: victim\.seed is set by the runner/,
    /cells\[6\]: victim: 'frobnicate' is not an option of this build's trainVictim/,
    /cells\[7\]: protect\.fraction must be in \(0, 1\]/,
    /cells\[8\]: protect\.eps is set by the runner/,
    /cells\[9\]: protect: 'lowerLos' is not an option of this build's trainGenerator/,
    /cells\[10\]: victim: the grayscale defense needs 3-channel \(RGB\) images; fashion-mnist has 1 channel/,
    /cells\[11\]: protect\.genGrad must be one of q, g; got "w"/,
    /cells\[12\]: protect: clsGrad 'pessimistic' needs payoff 'ce' or 'ce-clip'/,
  ];
  expected.forEach((re, i) => assert.ok(cells[i]!.problems.some((p) => re.test(p)), `cell ${i}: ${cells[i]!.problems.join(' | ')}`));
  // A neutral value of an option this build does not know is harmless (a defense 'none').
  const ok = expandCells(parseExperiment({ ...base(), defaults: { victim: { model: 'tiny-cnn', defense: 'none', defenseOptions: {} } } }, 'x.yaml'));
  assert.deepEqual(ok.flatMap((c) => c.problems), []);
  assert.throws(() => runExperiment(spec, { out: join(tmpdir(), 'never-written') }), /cannot run/);
  assert.equal(existsSync(join(tmpdir(), 'never-written')), false, 'a refused run writes nothing');
});

test('grid expansion: cartesian product in axis order, defaults merged, ids from the values, explicit cells appended', () => {
  const spec = parseExperiment({
    ...base(),
    defaults: { protect: { method: 'gue', eps255: 8, epochs: 2, payoff: 'surrogate' }, victim: { model: 'small-cnn', epochs: 4 }, seed: 5 },
    grid: { 'protect.fraction': [0.2, 1], 'victim.model': ['small-cnn', 'lenet'], victim: [{ lr: 0.1 }, { lr: 0.01, momentum: 0 }] },
    cells: [{ protect: { method: 'clean' } }, { id: 'mine', seed: 9, victim: { atEps255: 4 } }],
  }, 'x.yaml');
  const cells = expandCells(spec);
  assert.equal(cells.length, 2 * 2 * 2 + 2);
  assert.deepEqual(cells.slice(0, 3).map((c) => c.id), [
    'fraction-0.2__model-small-cnn__lr-0.1', 'fraction-0.2__model-small-cnn__lr-0.01+momentum-0', 'fraction-0.2__model-lenet__lr-0.1',
  ]);
  const c0 = cells[0]!;
  assert.equal(c0.protect.method, 'gue');
  assert.equal(c0.protect.train!.fraction, 0.2);
  assert.equal(c0.protect.train!.epochs, 2);
  assert.equal(c0.protect.seed, 5, 'protect seed defaults to the cell seed');
  assert.equal(c0.seed, 5);
  assert.deepEqual(c0.victim.milestones, [3], 'milestones scale with the epochs (75 %, 90 %)');
  assert.equal(cells[1]!.victim.momentum, 0);
  assert.equal(cells[1]!.victim.lr, 0.01);
  assert.equal(cells[8]!.id, 'cell1__method-clean');
  assert.equal(cells[8]!.protectHash, null);
  assert.equal(cells[9]!.id, 'mine');
  assert.equal(cells[9]!.seed, 9);
  assert.equal(cells[9]!.victimSpec.atEps255, 4);
  // Cells with the same protect config share its hash; other fractions do not.
  assert.equal(cells[0]!.protectHash, cells[3]!.protectHash);
  assert.notEqual(cells[0]!.protectHash, cells[4]!.protectHash);
  // An option newer than the shipped presets' results leaves the hash alone at its default.
  const withReset = (resetEvery?: number) => expandCells(parseExperiment({
    ...base(), defaults: { protect: { method: 'gue', eps255: 8, epochs: 2, ...(resetEvery === undefined ? {} : { resetEvery }) } }, grid: { 'protect.fraction': [1] },
  }, 'x.yaml'))[0]!;
  assert.equal(withReset(0).protectHash, withReset().protectHash);
  assert.notEqual(withReset(5).protectHash, withReset().protectHash);
  assert.equal(withReset(5).protect.train!.resetEvery, 5);
  const withDir = (extra: Record<string, string>) => expandCells(parseExperiment({
    ...base(), defaults: { protect: { method: 'gue', eps255: 8, epochs: 2, ...extra } }, grid: { 'protect.fraction': [1] },
  }, 'x.yaml'))[0]!;
  assert.equal(withDir({ genGrad: 'q', clsGrad: 'bome' }).protectHash, withReset().protectHash, 'the authors\' directions keep the old hash');
  assert.notEqual(withDir({ genGrad: 'g' }).protectHash, withReset().protectHash);
  assert.notEqual(withDir({ clsGrad: 'erm' }).protectHash, withDir({ genGrad: 'g' }).protectHash);
  assert.ok(matchGlob('fraction-0.2__*', cells[2]!.id));
  assert.ok(!matchGlob('fraction-1__*', cells[2]!.id));
  assert.equal(stableJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  // Duplicate ids are refused.
  assert.throws(() => expandCells(parseExperiment({ ...base(), grid: undefined, cells: [{ id: 'a' }, { id: 'a' }] }, 'x.yaml')), /both have the id 'a'/);
});

/** One GUE cell (payoff ce) on the tiny data: tiny surrogate and victim, 2 inner steps. */
function tinyGueSpec(protect: Record<string, number>): ExperimentSpec {
  return parseExperiment({
    ...base(),
    defaults: {
      protect: { method: 'gue', batchSize: 32, surrogate: 'tiny-cnn', genWidth: 4, innerSteps: 2, path: 'fast', ...protect },
      victim: { model: 'tiny-cnn', epochs: 1, batchSize: 32 },
    },
    grid: { 'protect.payoff': ['ce'] },
  }, 'x.yaml');
}

function tinyData() {
  const tpl = syntheticTemplates(7, { classes: 4, size: 8 });
  const train = syntheticDataset(96, 1, tpl, { classes: 4, size: 8 });
  const test = syntheticDataset(64, 2, tpl, { classes: 4, size: 8 });
  tpl.dispose();
  return { train, test };
}

test('protect stage is made once and shared; finished cells are skipped on a rerun; a failed cell is recorded and the rest go on', () => {
  const out = mkdtempSync(join(tmpdir(), 'gue-exp-'));
  const data = tinyData();
  const before = memory().tensors;
  try {
    const spec: ExperimentSpec = parseExperiment({
      ...base(),
      grid: { 'protect.method': ['clean', 'random'], 'victim.model': ['tiny-cnn', 'mlp'] },
    }, 'x.yaml');
    const events: GueEvent[] = [];
    const s1 = runExperiment(spec, { out, data, onEvent: (e) => events.push(e) });
    assert.deepEqual(s1.ran, ['method-clean__model-tiny-cnn', 'method-clean__model-mlp', 'method-random__model-tiny-cnn', 'method-random__model-mlp']);
    assert.equal(s1.protectMade.length, 1, 'the random-noise data is made once for both victims');
    assert.equal(events.filter((e) => e.type === 'log' && /protect random .*running the attack/.test(e.message)).length, 1);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.equal(res.rows.length, 4);
    assert.ok(res.rows.every((r: { status: string; finalAcc: number }) => r.status === 'done' && r.finalAcc >= 0 && r.finalAcc <= 100));
    assert.equal(res.rows[2].protectDir, `protect/${s1.protectMade[0]}`);
    assert.equal(res.rows[2].linf255, 8);
    assert.ok(existsSync(join(out, res.rows[2].protectDir, 'data', 'dataset.json')));

    // Rerun: nothing runs again.
    const ev2: GueEvent[] = [];
    const s2 = runExperiment(spec, { out, data, onEvent: (e) => ev2.push(e) });
    assert.deepEqual(s2.ran, []);
    assert.equal(s2.skipped.length, 4);
    assert.equal(ev2.filter((e) => e.type === 'epoch').length, 0, 'no training on a rerun');
    assert.deepEqual(s2.results.rows, res.rows);

    // A new cell with the same protect config reuses the cached data from disk; a failing cell is isolated.
    const spec3 = parseExperiment({ ...base(), grid: { 'protect.method': ['clean', 'random'], 'victim.model': ['tiny-cnn', 'mlp', 'lenet'] } }, 'x.yaml');
    const s3 = runExperiment(spec3, { out, data });
    // LeNet needs images of at least 12×12: the 8×8 cells fail with that message, the others are done.
    assert.deepEqual(s3.failed.sort(), ['method-clean__model-lenet', 'method-random__model-lenet']);
    assert.deepEqual(s3.ran, []);
    assert.deepEqual(s3.protectMade, []);
    assert.deepEqual(s3.protectReused, s1.protectMade);
    const rows = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).rows as { cell: string; status: string; error: string | null }[];
    const lenet = rows.find((r) => r.cell === 'method-random__model-lenet')!;
    assert.equal(lenet.status, 'failed');
    assert.match(lenet.error!, /at least 12×12/);
    const plan = planExperiment(spec3, { out });
    assert.equal(plan.cells.find((p) => p.cell.id === 'method-random__model-lenet')!.status, 'failed');
    assert.equal(plan.cells.find((p) => p.cell.id === 'method-random__model-mlp')!.status, 'done');
    assert.ok(plan.cells.every((p) => p.protectCached));
    assert.throws(() => planExperiment(spec3, { out, only: 'nothing*' }), /matches no cell/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  assert.equal(memory().tensors, before, 'no tensor leaks');
});

test('experiments given the same --cache share their protect stages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-exp-'));
  const data = tinyData();
  try {
    const cache = join(dir, 'cache');
    const a = parseExperiment({ ...base(), name: 'a', grid: { 'protect.method': ['random'] } }, 'a.yaml');
    const b = parseExperiment({ ...base(), name: 'b', grid: { 'protect.method': ['random'], 'victim.model': ['mlp'] } }, 'b.yaml');
    const sa = runExperiment(a, { out: join(dir, 'a'), cache, data });
    assert.equal(sa.protectMade.length, 1);
    assert.ok(existsSync(join(cache, sa.protectMade[0]!, 'protect.json')));
    assert.ok(!existsSync(join(dir, 'a', 'protect')), 'nothing under <out>/protect');
    const sb = runExperiment(b, { out: join(dir, 'b'), cache, data });
    assert.deepEqual(sb.protectMade, []);
    assert.deepEqual(sb.protectReused, sa.protectMade);
    const row = sb.results.rows[0]!;
    assert.equal(row.protectDir, `../cache/${sa.protectMade[0]}`);
    assert.ok(existsSync(join(dir, 'b', row.protectDir!, 'data', 'dataset.json')), 'protectDir resolves from the experiment folder');
    assert.ok(planExperiment(b, { out: join(dir, 'b'), cache }).cells.every((p) => p.protectCached));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a GUE cell resumes a killed generator run from its checkpoint, then protects the whole set', () => {
  const out = mkdtempSync(join(tmpdir(), 'gue-exp-'));
  try {
    const data = tinyData();
    const spec = tinyGueSpec({ epochs: 2, fraction: 0.5, steps: 3 });
    const [cell] = expandCells(spec);
    // A run "killed" after 2 of its 3 steps: same options, stopped early.
    const runDir = join(out, 'protect', cell!.protectHash!, 'run');
    trainGenerator(data.train, { ...(cell!.protect.train as object), eps: 8 / 255, maxSteps: 2 }, runDir, false);
    const events: GueEvent[] = [];
    const s = runExperiment(spec, { out, data, onEvent: (e) => events.push(e) });
    assert.deepEqual(s.ran, ['payoff-ce']);
    assert.ok(events.some((e) => e.type === 'log' && /resuming the generator at step 2/.test(e.message)), 'resumed');
    const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
    assert.deepEqual(steps, [1, 2, 3]);
    const row = s.results.rows[0]!;
    assert.equal(row.method, 'gue');
    assert.equal(row.genSteps, 3);
    assert.equal(row.fraction, 0.5);
    assert.equal(row.payoff, 'ce');
    assert.equal(row.generatorRun, `protect/${cell!.protectHash}/run`);
    // (A 3-step generator's BN running statistics are still near their init, so δ may round to 0.)
    assert.ok(row.linf255! >= 0 && row.linf255! <= 8, `linf ${row.linf255}`);
    // The whole training set was protected, not only the generator's half.
    const stored = loadDataset(join(out, row.protectDir!, 'data'));
    assert.equal(stored.ds.labels.length, 96);
    assert.equal(stored.meta.attack, 'gue');
    assert.equal(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).trainSize, 96);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a finished generator kept without its checkpoint or protected data is used as it is (a shared or committed cache)', () => {
  const out = mkdtempSync(join(tmpdir(), 'gue-exp-'));
  try {
    const data = tinyData();
    const spec = tinyGueSpec({ epochs: 1, steps: 2 });
    const [cell] = expandCells(spec);
    const s1 = runExperiment(spec, { out, data });
    assert.deepEqual(s1.ran, ['payoff-ce']);
    const dir = join(out, 'protect', cell!.protectHash!);
    const genBytes = readFileSync(join(dir, 'run', 'generator.safetensors'));
    // Keep only what a committed cache keeps: the generator (and its metrics); drop the checkpoint, the data and the markers.
    for (const f of ['run/checkpoint.json', 'run/checkpoint.safetensors', 'protect.json', 'data']) rmSync(join(dir, f), { recursive: true, force: true });
    rmSync(join(out, 'cells'), { recursive: true, force: true });
    const events: GueEvent[] = [];
    const s2 = runExperiment(spec, { out, data, onEvent: (e) => events.push(e) });
    assert.deepEqual(s2.ran, ['payoff-ce']);
    assert.ok(events.some((e) => e.type === 'log' && /using the finished generator/.test(e.message)));
    assert.ok(!events.some((e) => e.type === 'log' && /training a generator|resuming/.test(e.message)), 'no training');
    assert.ok(genBytes.equals(readFileSync(join(dir, 'run', 'generator.safetensors'))), 'the generator is untouched');
    assert.equal(s2.results.rows[0]!.genSteps, 2);
    assert.deepEqual(s2.results.rows[0]!.linf255, s1.results.rows[0]!.linf255);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('JSON and YAML files: YAML anchors under x- keys, merge keys, labels in ids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-exp-'));
  try {
    const y = join(dir, 'a.yaml');
    writeFileSync(y, [
      'name: a',
      'figure: table4',
      'dataset: { name: fashion-mnist }',
      'x-common: &common { model: lenet, epochs: 3 }',
      'grid:',
      '  victim:',
      '    - { label: first, <<: *common }',
      '    - { label: second, <<: *common, epochs: 5 }',
    ].join('\n'));
    const cells = expandCells(loadExperimentFile(y));
    assert.deepEqual(cells.map((c) => c.id), ['first', 'second']);
    assert.deepEqual(cells.map((c) => [c.victim.model, c.victim.epochs]), [['lenet', 3], ['lenet', 5]]);
    assert.ok(!('label' in cells[0]!.victim) && !('label' in cells[0]!.victimSpec), 'label is not an option');
    assert.deepEqual(cells.flatMap((c) => c.problems), []);
    const j = join(dir, 'b.json');
    writeFileSync(j, JSON.stringify({ name: 'b', figure: 'fig3', dataset: { name: 'cifar10', dataDir: '/nowhere' }, grid: { 'protect.fraction': [0.5] }, defaults: { protect: { method: 'gue' } } }));
    const jc = expandCells(loadExperimentFile(j));
    assert.equal(jc[0]!.id, 'fraction-0.5');
    assert.equal(jc[0]!.protect.train!.fraction, 0.5);
    writeFileSync(j, '{"name": ');
    assert.throws(() => loadExperimentFile(j), /b\.json: not valid JSON/);
    assert.throws(() => loadExperimentFile(join(dir, 'none.yaml')), /no such experiment file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cell that another process finished meanwhile is skipped, not run again, and kept in results.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-exp-'));
  const data = tinyData();
  try {
    const spec = parseExperiment(base(), 't.yaml');
    const first = runExperiment(spec, { out: join(dir, 'a'), data });
    assert.deepEqual(first.ran, ['method-clean', 'method-random']);
    // While a run trains its first cell, "another process" finishes the second one (its result from run a).
    const otherProcessFinishesRandom = (out: string) => (e: GueEvent) => {
      if (e.type === 'log' && /cell method-clean: clean test accuracy/.test(e.message)) {
        mkdirSync(join(out, 'cells', 'method-random'), { recursive: true });
        copyFileSync(join(dir, 'a', 'cells', 'method-random', 'result.json'), join(out, 'cells', 'method-random', 'result.json'));
      }
    };
    const second = runExperiment(spec, { out: join(dir, 'b'), data, onEvent: otherProcessFinishesRandom(join(dir, 'b')) });
    assert.deepEqual(second.ran, ['method-clean']);
    assert.deepEqual(second.skipped, ['method-random']);
    assert.equal(second.results.rows[1]!.status, 'done');
    assert.equal(second.results.rows[1]!.finalAcc, first.results.rows[1]!.finalAcc);
    assert.equal(second.protectMade.length, 0, 'the random-noise data was never made by this run');
    // A run of one cell does not drop the cells that another process finished meanwhile from results.json.
    const third = runExperiment(spec, { out: join(dir, 'c'), data, only: 'method-clean', onEvent: otherProcessFinishesRandom(join(dir, 'c')) });
    assert.deepEqual(third.ran, ['method-clean']);
    const onDisk = JSON.parse(readFileSync(join(dir, 'c', 'results.json'), 'utf8'));
    assert.deepEqual(onDisk.rows.map((r: { status: string }) => r.status), ['done', 'done']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
