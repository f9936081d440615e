// `gue report`: which tables and figures the plan holds for which inputs (experiments for Tables 1–4 and
// Figs. 2–5 of GUE, train runs, evaluations), input detection and its errors, smoothing/bucketing, deterministic
// output, and the CLI's contract (usage errors exit 2, bad inputs exit 1, no partial file, no overwrite).
// All inputs are FIXTURE DATA written by test/report-fixtures.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normFigure } from '../src/report/inputs.js';
import { buildReport, bucket, loadReportInput, movingAverage, trainCommandLine, planItems, planReport, ReportInputError, loadReportInputs, varyingDims, settingOf } from '../src/report/index.js';
import type { GridFigure, Item, LineFigure, ReportPlan, TableFigure } from '../src/report/index.js';
import { writeAllFixtures, writeEvaluate, writeExperiment, writeTrainRun } from './report-fixtures.js';
import { reportCommand } from '../src/cli/report.js';
import { parseFlags, UsageError } from '../src/cli/args.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');
const root = mkdtempSync(join(tmpdir(), 'gue-report-'));
const fx = writeAllFixtures(root);
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const plan1 = (path: string, o = {}): ReportPlan => planReport([loadReportInput(path)], o);
const items = (p: ReportPlan): Item[] => p.sections.flatMap((s) => s.items);
const byId = <T extends Item>(p: ReportPlan, suffix: string): T => {
  const it = planItems(p).find((i) => i.id.endsWith(suffix));
  assert.ok(it, `no item *${suffix} in ${planItems(p).map((i) => i.id).join(', ')}`);
  return it as T;
};
const hasId = (p: ReportPlan, suffix: string) => planItems(p).some((i) => i.id.endsWith(suffix));

test('Table 1 (methods, two seeds): a results table with mean ± sd, one epoch curve per method, nothing else', () => {
  const p = plan1(fx.table1);
  assert.equal(p.sections.length, 1);
  assert.equal(p.title, 'FIXTURE DATA: table1-cpu');
  assert.deepEqual(p.datasets, ['fashion-mnist']);
  const t = byId<TableFigure>(p, '-results');
  assert.deepEqual(t.columns, ['method', 'final acc (%)', 'worst acc (%)', 'best acc (%)', 'L∞ (/255)', 'seeds']);
  assert.deepEqual(t.rows.map((r) => r[0]), ['clean', 'gue', 'em', 'random']);
  // gue: 23.4 + 0.5·seed for seeds 1, 2 → 23.9, 24.4: mean 24.15, sd 0.354.
  assert.equal(t.rows[1]![1], '24.15 ± 0.35');
  assert.equal(t.rows[1]![5], '2');
  const e = byId<LineFigure>(p, '-epochs');
  assert.equal(e.kind, 'line');
  assert.deepEqual(e.series.map((s) => s.label), ['clean', 'gue', 'em', 'random']);
  assert.ok(e.series.every((s) => s.points.length === 5 && s.points[0]!.x === 1));
  assert.equal(e.series[1]!.points[4]!.y, 24.15);
  for (const absent of ['-pivot', '-fraction', '-ablation', '-generators', '-failed']) assert.ok(!hasId(p, absent), absent);
  assert.deepEqual(p.sections[0]!.notes, []);
});

test('Table 2 (transfer): method × victim pivot and one epoch panel per victim model', () => {
  const p = plan1(fx.table2);
  const pv = byId<TableFigure>(p, '-pivot');
  assert.match(pv.title, /Transfer across victim models/);
  assert.deepEqual(pv.columns, ['method', 'small-cnn', 'vgg16', 'resnet18']);
  assert.deepEqual(pv.rows.map((r) => r[0]), ['clean', 'gue']);
  assert.match(pv.rows[1]![2]!, /^23\.00 \(\d+\.\d\d\)$/);
  const g = byId<GridFigure>(p, '-epochs');
  assert.equal(g.kind, 'grid');
  assert.deepEqual(g.figures.map((f) => f.title), ['victim: small-cnn', 'victim: vgg16', 'victim: resnet18']);
  assert.ok(g.figures.every((f) => f.series.length === 2));
  assert.deepEqual(p.sections[0]!.notes, ['Measured once for several experiments (same data, protection, victim and seed; gue experiment --cache): cell-0 is table1-cpu/clean.']);
});

test('Table 3 (defenses): defense × method pivot, failed cells listed, pending noted', () => {
  const p = plan1(fx.table3);
  const pv = byId<TableFigure>(p, '-pivot');
  assert.deepEqual(pv.columns, ['defense', 'clean', 'gue']);
  assert.deepEqual(pv.rows.map((r) => r[0]), ['no defense', 'mixup', 'cutout(length=8)', 'jpeg(quality=10)', 'grayscale']);
  assert.match(pv.rows[3]![2]!, /^34\.00 /);
  const failed = byId<TableFigure>(p, '-failed');
  assert.deepEqual(failed.rows, [['cell-10', 'gue', 'fixture failure: out of memory']]);
  assert.match(p.sections[0]!.notes.join(' '), /10 of 12 cells done, 1 pending, 1 failed/);
  assert.equal(byId<TableFigure>(p, '-results').rows.length, 10);
  assert.equal(byId<GridFigure>(p, '-epochs').figures.length, 5);
});

test('Table 4 (adversarial training): robust accuracy column and a robust pivot', () => {
  const p = plan1(fx.table4);
  const t = byId<TableFigure>(p, '-results');
  assert.ok(t.columns.includes('robust acc (%)'));
  const rob = byId<TableFigure>(p, '-pivot-robust');
  assert.deepEqual(rob.rows.map((r) => r[0]), ['no AT', 'AT pgd ε_a=2/255', 'AT pgd ε_a=4/255']);
  assert.deepEqual(rob.rows[2], ['AT pgd ε_a=4/255', '50.00', '50.00']);
  assert.equal(byId<GridFigure>(p, '-epochs').figures.length, 3);
});

test('Figs. 3–4 (data fraction): accuracy against fraction with the clean baseline as a rule', () => {
  const p = plan1(fx.fig3);
  const f = byId<LineFigure>(p, '-fraction');
  assert.deepEqual(f.series.map((s) => s.label), ['gue · final', 'gue · worst']);
  assert.deepEqual(f.series[0]!.points, [20, 40, 60, 80, 100].map((x) => ({ x, y: 60 - 35 * (x / 100) })));
  assert.equal(f.series[1]!.dashed, true);
  assert.equal(f.series[0]!.key, f.series[1]!.key);
  assert.deepEqual(f.rules, [{ y: 91, label: 'victim on clean data' }]);
  // One epoch chart, one line per fraction (no panels for a fraction sweep).
  const e = byId<LineFigure>(p, '-epochs');
  assert.equal(e.kind, 'line');
  assert.equal(e.series.length, 6);
  assert.ok(!hasId(p, '-ablation'));
});

test('Figs. 3–4: gen. steps that follow the fraction stay on one line; a second step budget is a line of its own', () => {
  // Steps ∝ fraction (a fixed number of epochs over the subset): one line, as the fixture above.
  assert.equal(byId<LineFigure>(plan1(fx.fig3), '-fraction').series.length, 2);
  const two = writeExperiment(join(root, 'fig3-two-budgets'), { experiment: 'fig3-two', figure: 'fig3' },
    [100, 200].flatMap((steps) => [0.5, 1].map((p) => ({ method: 'gue', fraction: p, genSteps: steps, finalAcc: steps === 100 ? 70 : 40 }))));
  const f = byId<LineFigure>(plan1(two), '-fraction');
  assert.deepEqual(f.series.map((s) => s.label), ['100 steps · final', '100 steps · worst', '200 steps · final', '200 steps · worst']);
  assert.deepEqual(f.series[2]!.points, [{ x: 50, y: 40 }, { x: 100, y: 40 }]);
});

test('Fig. 5 (payoff ablation): ‖∇θ J_a‖ (log scale) and J_c per step from each cell’s generator run', () => {
  const p = plan1(fx.fig5);
  const g = byId<GridFigure>(p, '-ablation');
  const [gf, jc] = g.figures;
  assert.equal(gf!.title, '‖∇θ J_a‖ per step');
  assert.deepEqual(gf!.series.map((s) => s.label), ['payoff=ce', 'payoff=ce-clip', 'payoff=surrogate']);
  assert.equal(gf!.yLog, true);
  assert.ok(gf!.series[0]!.points.length === 60 && gf!.series[0]!.points.every((pt) => pt.y > 50));
  assert.equal(jc!.series.length, 3);
  assert.equal(jc!.yLog, undefined);
  assert.equal(byId<TableFigure>(p, '-generators').rows.length, 3);
});

test('train runs: convergence panels (f, J_c, q, λ, ⟨∇f,∇q⟩, ‖∇θ J_a‖), bucketed, band for one run, proxy accuracy', () => {
  const one = plan1(fx.train);
  const s = one.sections[0]!;
  assert.equal(s.kind, 'train');
  assert.match(s.commands[0]!, /^gue train --out \S+train-run --dataset fashion-mnist --train-size 2000 .*--eps 8 .*--payoff surrogate/);
  assert.match(s.notes.join(' '), /1 unreadable line/);
  const g = byId<GridFigure>(one, '-convergence');
  assert.deepEqual(g.figures.map((f) => f.id.split('-').pop()), ['f', 'g', 'q', 'lambda', 'dot', 'gradf']);
  for (const f of g.figures) {
    assert.equal(f.series.length, 1);
    assert.ok(f.series[0]!.points.length <= 250 && f.series[0]!.points.length >= 200, `${f.id}: ${f.series[0]!.points.length} points`);
    assert.ok(f.series[0]!.band && f.series[0]!.band.length === f.series[0]!.points.length);
    assert.ok(f.series[0]!.band.every((b) => b.lo <= b.hi));
  }
  const proxy = byId<LineFigure>(one, '-proxy');
  assert.deepEqual(proxy.series[0]!.points.map((pt) => pt.x), [300, 600, 900, 1200, 1500]);
  assert.deepEqual(byId<TableFigure>(one, '-runs').rows[0]!.slice(0, 5), ['train-run', 'fashion-mnist train (FIXTURE)', 'surrogate', '8', '1500 / 1500 (finished)']);

  // Two runs overlay (no band); proxy read from proxy.jsonl; --smooth 1 keeps raw values.
  const two = planReport(loadReportInputs([fx.train, fx.train2]), { smooth: 1 });
  const f2 = byId<GridFigure>(two, '-convergence').figures[0]!;
  assert.deepEqual(f2.series.map((x) => x.label), ['train-run', 'train-run-2']);
  assert.ok(f2.series.every((x) => x.band === undefined));
  assert.equal(f2.series[1]!.points.length, 250);
  assert.equal(byId<LineFigure>(two, '-proxy').series.length, 4);
});

test('evaluate folders: table and curves, command reconstructed', () => {
  const p = planReport(loadReportInputs([fx.evalClean, fx.evalProt]));
  const t = byId<TableFigure>(p, 'evaluate-results');
  assert.deepEqual(t.rows.map((r) => r.slice(1, 7)), [['clean', 'small-cnn', '4', '90.20', '80.10', '90.20'], ['protected/gue-8', 'small-cnn', '4', '21.90', '21.90', '30.20']]);
  assert.deepEqual(byId<LineFigure>(p, 'evaluate-epochs').series.map((s) => s.points.length), [4, 4]);
  assert.match(p.sections[0]!.commands[0]!, /^gue evaluate --clean --model small-cnn --epochs 4 --milestones 3 .* --out /);
  assert.match(p.sections[0]!.commands[1]!, /^gue evaluate --data protected\/gue-8 /);
});

test('evaluate with a defense, adversarial training and robust accuracy: extra columns and flags', () => {
  const e = writeEvaluate(join(root, 'eval-at'), 'protected/gue-8', [40, 45, 50], 'small-cnn', {
    robustAcc: 33.3,
    defense: { name: 'jpeg', kind: 'data', options: { quality: 10 } },
    adversarialTraining: { kind: 'trades', eps: 4 / 255, steps: 10, stepSize: 1 / 255, beta: 6 },
  });
  const p = planReport(loadReportInputs([e, fx.evalClean]));
  const t = byId<TableFigure>(p, 'evaluate-results');
  assert.deepEqual(t.columns, ['result', 'training data', 'victim', 'defense', 'adv. training', 'epochs', 'final acc (%)', 'worst acc (%)', 'best acc (%)', 'robust acc (%)']);
  assert.deepEqual(t.rows[0]!.slice(1), ['protected/gue-8', 'small-cnn', 'jpeg(quality=10)', 'trades ε_a=4/255', '3', '50.00', '40.00', '50.00', '33.30']);
  assert.deepEqual(t.rows[1]!.slice(3, 5), ['none', 'none']);
  assert.equal(t.rows[1]![9], '—');
  assert.match(p.sections[0]!.commands[0]!, / --defense jpeg --defense-opt quality=10 --at trades --at-eps 4 --trades-beta 6 --robust-eval --out /);
  assert.equal(byId<LineFigure>(p, 'evaluate-epochs').series[0]!.label, 'protected/gue-8 → small-cnn + jpeg(quality=10) + AT trades ε_a=4/255');
});

test('proxy-victim records in any of the accepted shapes', () => {
  const dir = writeTrainRun(join(root, 'proxy-shapes'), 20);
  writeFileSync(join(dir, 'metrics.jsonl'), readFileSync(join(dir, 'metrics.jsonl'), 'utf8').replace(/\{"step": 21.*$/, '')
    + '{"proxy": {"step": 5, "acc": 70}}\n{"type": "proxy", "step": 10, "acc": 60, "worstAcc": 55}\n{"step": 15, "proxy": {"testAcc": 50}}\n');
  const run = loadReportInput(dir);
  assert.ok(run.kind === 'train');
  assert.deepEqual(run.proxy, [{ step: 5, acc: 70, worstAcc: null }, { step: 10, acc: 60, worstAcc: 55 }, { step: 15, acc: 50, worstAcc: null }]);
  assert.equal(run.steps.length, 20);
  assert.equal(run.badLines, 0);
});

test('several inputs at once: one section each kind, in order; varying dims', () => {
  const p = planReport(loadReportInputs(Object.values(fx)));
  assert.deepEqual(p.sections.map((s) => s.kind), ['experiment', 'experiment', 'experiment', 'experiment', 'experiment', 'experiment', 'train', 'evaluate']);
  assert.equal(new Set(planItems(p).map((i) => i.id)).size, planItems(p).length, 'ids are unique');
  assert.equal(p.versions.length, 1);
  const ex = loadReportInput(fx.table3);
  assert.ok(ex.kind === 'experiment');
  assert.deepEqual(varyingDims(ex.rows.filter((r) => r.status === 'done')), ['method', 'defense']);
  // The same experiment given twice (folder and its results.json) is read once.
  assert.equal(loadReportInputs([fx.table1, join(fx.table1, 'results.json')]).length, 1);
});

test('input errors: unknown folders are ReportInputError, malformed inputs are errors naming the file', () => {
  const bad = join(root, 'bad');
  mkdirSync(join(bad, 'empty'), { recursive: true });
  assert.throws(() => loadReportInput(join(bad, 'nope')), (e: Error) => e instanceof ReportInputError && /no such file or folder/.test(e.message));
  assert.throws(() => loadReportInput(join(bad, 'empty')), (e: Error) => e instanceof ReportInputError && /not a report input/.test(e.message));
  mkdirSync(join(bad, 'other'));
  writeFileSync(join(bad, 'other', 'results.json'), JSON.stringify({ command: 'poison' }));
  assert.throws(() => loadReportInput(join(bad, 'other')), (e: Error) => e instanceof ReportInputError && /command is "poison"/.test(e.message));
  mkdirSync(join(bad, 'torn'));
  writeFileSync(join(bad, 'torn', 'results.json'), '{"rows": [');
  assert.throws(() => loadReportInput(join(bad, 'torn')), (e: Error) => !(e instanceof ReportInputError) && /results\.json: not valid JSON/.test(e.message));
  writeExperiment(join(bad, 'nofinal'), { experiment: 'x', figure: 'table1' }, [{ method: 'gue' }]);
  const j = JSON.parse(readFileSync(join(bad, 'nofinal', 'results.json'), 'utf8'));
  j.rows[0].finalAcc = null;
  j.rows.push({ ...j.rows[0], status: 'weird' });
  writeFileSync(join(bad, 'nofinal', 'results.json'), JSON.stringify(j));
  assert.throws(() => loadReportInput(join(bad, 'nofinal')), /rows\[0\] \(cell cell-0\) is done but has no numeric finalAcc/);
  mkdirSync(join(bad, 'nosteps'));
  writeFileSync(join(bad, 'nosteps', 'metrics.jsonl'), '');
  assert.throws(() => loadReportInput(join(bad, 'nosteps')), /no step metrics yet/);
  assert.throws(() => loadReportInputs([]), ReportInputError);
  // A generator run an experiment names but that is gone is reported, not fatal.
  const ex = writeExperiment(join(bad, 'lostrun'), { experiment: 'lost', figure: 'fig5' }, [{ method: 'gue', payoff: 'ce', generatorRun: 'protect/gone/run' }]);
  const p = plan1(ex);
  assert.deepEqual(byId<TableFigure>(p, '-generators').rows, [['protect/gone/run', 'unreadable: no metrics.jsonl', '—', '—', '—', '—', '—']]);
});

test('the figure field is free text: Table 1 / Fig. 3 spellings are recognised', () => {
  assert.deepEqual(['table1', 'Table 3', 'tab-2', 'Fig. 3', 'figure 5', 'fig4', 'custom'].map(normFigure), ['table1', 'table3', 'table2', 'fig3', 'fig5', 'fig4', 'custom']);
  assert.equal(normFigure(null), null);
  const ex = writeExperiment(join(root, 'spelled'), { experiment: 'spelled', figure: 'Table 2' }, [
    { method: 'clean', model: 'a' }, { method: 'gue', model: 'a' }, { method: 'clean', model: 'b' }, { method: 'gue', model: 'b' },
  ]);
  assert.match(byId<TableFigure>(plan1(ex), '-pivot').title, /^Transfer across victim models/);
});

test('smoothing and bucketing', () => {
  assert.deepEqual(movingAverage([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5]);
  assert.deepEqual(movingAverage([1, 2, 3], 1), [1, 2, 3]);
  const pts = Array.from({ length: 10 }, (_, i) => ({ x: i, y: i % 2 === 0 ? 0 : 10 }));
  const b = bucket(pts, 5);
  assert.deepEqual(b.mean, [0.5, 2.5, 4.5, 6.5, 8.5].map((x) => ({ x, y: 5 })));
  assert.ok(b.band.every((x) => x.lo === 0 && x.hi === 10));
  assert.equal(bucket(pts, 20).mean.length, 10);
});

test('rendering: deterministic, self-contained (no script, no external resource), one SVG per chart', () => {
  const paths = Object.values(fx);
  const a = buildReport(paths, { command: 'gue report … -o r.html' });
  const b = buildReport(paths, { command: 'gue report … -o r.html' });
  assert.equal(a.html, b.html);
  assert.ok(a.html.startsWith('<!DOCTYPE html>'));
  assert.ok(!/<script|<link|<img|<iframe|url\(/i.test(a.html));
  assert.ok(!/(src|href)="(https?:)?\/\//i.test(a.html));
  const charts = planItems(a.plan).filter((i) => i.kind === 'line');
  for (const c of charts) assert.ok(a.html.includes(`id="${c.id}"`), c.id);
  // Plot's output: one <svg class="plot-…"> per chart (legends are HTML swatches with tiny SVGs).
  assert.equal((a.html.match(/<svg[^>]*class="plot-[0-9a-f]+"/g) ?? []).length, charts.length);
  assert.ok(a.html.length < 400_000, `${a.html.length} bytes`);
  // Coordinates are rounded: no long decimals in path data.
  assert.ok(!/ d="[^"]*\d\.\d{3}/.test(a.html));
});

// ---------------------------------------------------------------- CLI

function gue(args: string[]) {
  const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => assert.ok(!/\n\s+at .+:\d+:\d+/.test(s), `stack trace leaked:\n${s}`);

/** Runs the report command in-process (as main.ts would after parsing); returns what it printed as the result. */
async function reportInProcess(args: string[]): Promise<{ obj: Record<string, unknown>; human: string }> {
  const { flags, positionals, given } = parseFlags(reportCommand.spec, args);
  let got: { obj: Record<string, unknown>; human: string } | null = null;
  const out = { sink: () => undefined, result: (obj: Record<string, unknown>, human: string) => { got = { obj, human }; }, close: () => undefined };
  const code = await reportCommand.run({ flags, positionals, given, argv: args, out });
  assert.equal(code, 0);
  assert.ok(got);
  return got;
}

test('CLI: usage errors, no overwrite without --overwrite, no partial file on a bad input', async () => {
  const dir = join(root, 'cli');
  mkdirSync(dir);
  const outFile = join(dir, 'report.html');
  const usage: [string[], RegExp][] = [
    [[], /-o <report\.html> is required/],
    [['-o', outFile], /give at least one experiment/],
    [[fx.table1, '-o'], /-o needs a value/],
    [[fx.table1, '-x', '-o', outFile], /unknown flag -x/],
    [[fx.table1, '-o', outFile, '--out', join(dir, 'b.html')], /give the output file once/],
    [[join(root, 'missing'), '-o', outFile], /missing: no such file or folder/],
    [[dir, '-o', outFile], /not a report input/],
    [[fx.table1, '-o', join(root, 'nodir', 'r.html')], /no such folder/],
    [[fx.table1, '-o', dir], /is a folder/],
    [[fx.table1, '--smooth', '0', '-o', outFile], /--smooth must be at least 1/],
  ];
  for (const [args, re] of usage) {
    await assert.rejects(reportInProcess(args), (e: Error) => e instanceof UsageError && re.test(e.message), args.join(' '));
    assert.ok(!existsSync(outFile));
  }
  const torn = join(root, 'torn-exp');
  mkdirSync(torn);
  writeFileSync(join(torn, 'results.json'), '{"rows": [');
  await assert.rejects(reportInProcess([fx.table1, torn, '-o', outFile]), (e: Error) => !(e instanceof UsageError) && /not valid JSON/.test(e.message));
  assert.deepEqual(readdirSync(dir), [], 'no partial or temp file');

  const ok = await reportInProcess([fx.table1, fx.train, '-o', outFile, '--title', 'Fixture report']);
  assert.match(ok.human, /wrote .*report\.html \(\d+\.\d KB\): 2 section\(s\), 8 chart\(s\), 2 table\(s\) from 2 input\(s\)/);
  const html = readFileSync(outFile, 'utf8');
  assert.match(html, /<title>Fixture report<\/title>/);
  assert.ok(html.includes(`--title 'Fixture report'`));
  assert.equal(ok.obj.bytes, Buffer.byteLength(html));

  writeFileSync(outFile, 'keep me');
  await assert.rejects(reportInProcess([fx.table1, '--out', outFile]), /already exists; pass --overwrite/);
  assert.equal(readFileSync(outFile, 'utf8'), 'keep me');
  const over = await reportInProcess([fx.table1, '--out', outFile, '--overwrite']);
  assert.equal(over.obj.charts, 1);
  assert.equal(over.obj.tables, 1);
  assert.deepEqual(readdirSync(dir), ['report.html']);
});

test('CLI: the gue binary — exit 2 for usage errors, 1 for bad inputs, --json result', () => {
  const dir = join(root, 'cli-bin');
  mkdirSync(dir);
  const outFile = join(dir, 'r.html');
  const u = gue(['report', join(root, 'missing'), '-o', outFile]);
  assert.equal(u.code, 2, u.err);
  assert.match(u.err, /^gue report: .*missing: no such file or folder/);
  noStack(u.err);
  const torn = join(root, 'torn-exp-2');
  mkdirSync(torn);
  writeFileSync(join(torn, 'results.json'), '{"rows": [');
  const b = gue(['report', torn, '-o', outFile]);
  assert.equal(b.code, 1, b.err);
  assert.match(b.err, /results\.json: not valid JSON/);
  noStack(b.err);
  assert.deepEqual(readdirSync(dir), []);
  const ok = gue(['report', fx.fig5, fx.evalClean, '-o', outFile, '--json']);
  assert.equal(ok.code, 0, ok.err);
  const res = JSON.parse(ok.out.trim().split('\n').pop()!) as { report: string; charts: number; tables: number; bytes: number; sections: { kind: string }[] };
  assert.deepEqual(res.sections.map((s) => s.kind), ['experiment', 'evaluate']);
  assert.equal(res.charts, 4);
  assert.equal(res.bytes, Buffer.byteLength(readFileSync(outFile, 'utf8')));
});

test('the train command of a run made by gue experiment (no CLI data flags) keeps --train-size from the data source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-report-firstn-'));
  try {
    const cmd = (source: string) => {
      const run = writeTrainRun(join(dir, String(source.length)), 5);
      const o = JSON.parse(readFileSync(join(run, 'options.json'), 'utf8'));
      writeFileSync(join(run, 'options.json'), JSON.stringify({ ...o, dataset: source, data: null }));
      const input = loadReportInput(run);
      assert.equal(input.kind, 'train');
      return trainCommandLine(input as Parameters<typeof trainCommandLine>[0]);
    };
    assert.match(cmd('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz[:10000]'), /^gue train --out \S+ --train-size 10000 --epochs 2 /);
    assert.doesNotMatch(cmd('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'), /--train-size/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


test('a study whose settings differ only in options the dimensions do not show: one results row per setting, not one averaged over them as seeds', () => {
  const dir = writeExperiment(join(root, 'study-settings'), { experiment: 'study-settings', figure: 'solver' }, [
    { cell: 'clean-seed-3', method: 'clean', seed: 3, finalAcc: 85 },
    { cell: 'authors__seed-3', method: 'gue', seed: 3, finalAcc: 84 },
    { cell: 'authors__seed-4', method: 'gue', seed: 4, finalAcc: 86 },
    { cell: 'class-templates__seed-3', method: 'gue', seed: 3, finalAcc: 17 },
    { cell: 'class-templates__seed-4', method: 'gue', seed: 4, finalAcc: 45 },
  ]);
  const t = byId<TableFigure>(plan1(dir), '-results');
  assert.equal(t.columns[0], 'setting');
  const byName = new Map(t.rows.map((r) => [r[0], r]));
  assert.deepEqual([...byName.keys()], ['clean', 'authors', 'class-templates']);
  assert.equal(byName.get('authors')![t.columns.indexOf('final acc (%)')], '85.00 ± 1.41');
  assert.equal(byName.get('class-templates')![t.columns.indexOf('final acc (%)')], '31.00 ± 19.80');
  assert.equal(byName.get('class-templates')![t.columns.indexOf('seeds')], '2');
  // The epoch curves keep the settings apart too, and no pivot averages them.
  const e = byId<LineFigure>(plan1(dir), '-epochs');
  assert.deepEqual(e.series.map((x) => x.label), ['clean', 'authors', 'class-templates']);
  assert.ok(!hasId(plan1(dir), '-pivot'));
  const id = (cell: string) => settingOf({ cell } as never);
  assert.deepEqual(['gue__eps255-8__seed-3', 'clean-seed-4', 'eta-3__seed-4', 'seed-3', 'cell-0', 'gue'].map(id), ['gue__eps255-8', 'clean', 'eta-3', null, null, null]);
});
