// From report inputs to a report plan: which tables and figures the page shows, with their data. Pure and
// deterministic (no engine, no DOM, no clock): render.ts draws the plan.
//
// What is shown follows the experiments of GUE (AAAI 2024) and what the inputs contain:
//   experiment  a results table (seeds averaged: mean ± sd), a pivot table for Tables 2–4 (victim model ×
//               method, defense × method, adversarial training × method), clean test accuracy against
//               victim epoch (Fig. 2; small multiples per model/defense/AT setting when those vary),
//               accuracy against the generator's data fraction (Figs. 3–4) when the fraction varies, and
//               the ablation curves ‖∇θ J_a‖ and J_c per step for each attacker payoff (Fig. 5) from the
//               cells' generator runs;
//   train runs  convergence of the game solver per outer step: f, J_c = g, q, λ, ⟨∇θ f, ∇θ q⟩, ‖∇θ J_a‖
//               (smoothed; a min/max band for a single run), proxy-victim accuracy when recorded;
//   evaluate    a table and accuracy against victim epoch.
import { shellArg } from '../util/shell.js';
import { autoWindow, bucket, mean, meanCurve, movingAverage, sd, type BandPoint, type Point } from './series.js';
import type { EvaluateInput, ExperimentInput, ExperimentRow, ReportInput, StepRecord, TrainInput } from './inputs.js';

export interface Series {
  label: string;
  /** Colour (and legend) key; defaults to the label. Series of one configuration share it (e.g. final and worst). */
  key?: string;
  points: Point[];
  /** Min/max band drawn behind the line. */
  band?: BandPoint[];
  dashed?: boolean;
  dots?: boolean;
}

export interface LineFigure {
  kind: 'line';
  id: string;
  title: string;
  caption?: string;
  xLabel: string;
  yLabel: string;
  yDomain?: [number, number];
  yLog?: boolean;
  series: Series[];
  /** Horizontal reference lines (e.g. the clean-data accuracy). */
  rules?: { y: number; label: string }[];
}

/** Small multiples that share one colour legend. */
export interface GridFigure {
  kind: 'grid';
  id: string;
  title: string;
  caption?: string;
  figures: LineFigure[];
}

export interface TableFigure {
  kind: 'table';
  id: string;
  title: string;
  caption?: string;
  columns: string[];
  /** Right-aligned (numeric) columns. */
  numeric: boolean[];
  rows: string[][];
}

export type Item = LineFigure | GridFigure | TableFigure;

export interface Section {
  id: string;
  kind: ReportInput['kind'];
  title: string;
  /** The input paths this section comes from, as given. */
  sources: string[];
  meta: [string, string][];
  commands: string[];
  notes: string[];
  items: Item[];
}

export interface ReportPlan {
  title: string;
  inputs: { kind: ReportInput['kind']; path: string }[];
  datasets: string[];
  /** Distinct version records of the inputs, with the inputs that carry each. */
  versions: { sources: string[]; versions: Record<string, unknown> }[];
  /** The `gue report` command line, when the caller gives it. */
  command: string | null;
  sections: Section[];
}

export interface PlanOptions {
  title?: string;
  /** Moving-average window for per-step curves; undefined = automatic (about 2 % of the run), 1 = raw. */
  smooth?: number;
  /** At most this many points per per-step curve (buckets). Default 250. */
  maxPoints?: number;
  command?: string;
}

// ---------------------------------------------------------------- formatting

export const fmtAcc = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : v.toFixed(2));
const fmtNum = (v: number | null | undefined): string => {
  if (v === null || v === undefined) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return Number.isInteger(v) ? String(v) : v.toFixed(a >= 100 ? 1 : 4);
};
const pct = (f: number): string => `${+(f * 100).toFixed(1)}`;

function meanSd(xs: number[]): string {
  if (xs.length === 0) return '—';
  if (xs.length === 1) return fmtAcc(xs[0]);
  return `${fmtAcc(mean(xs))} ± ${fmtAcc(sd(xs))}`;
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';
}

// ---------------------------------------------------------------- experiment dimensions

interface Dim {
  key: string;
  label: string;
  /** Display value of a row, null when the setting does not apply (e.g. ε of the clean baseline). */
  value(r: ExperimentRow): string | null;
  /** Short form for series labels. */
  short(v: string): string;
}

const isClean = (r: ExperimentRow) => r.method === 'clean';
const genOnly = (f: (r: ExperimentRow) => string | null) => (r: ExperimentRow) => (isClean(r) ? null : f(r));
const s = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function defenseLabel(r: ExperimentRow): string | null {
  if (r.defense === null) return null;
  const o = r.defenseOptions ?? {};
  const keys = Object.keys(o).sort();
  if (r.defense === 'none' || keys.length === 0) return r.defense;
  return `${r.defense}(${keys.map((k) => `${k}=${JSON.stringify(o[k])}`).join(', ')})`;
}
function atLabel(r: ExperimentRow): string | null {
  if (r.at === null) return null;
  if (r.at === 'none') return 'none';
  return r.atEps255 !== null ? `${r.at} ε_a=${r.atEps255}/255` : r.at;
}

export const DIMS: readonly Dim[] = [
  { key: 'method', label: 'method', value: (r) => r.method, short: (v) => v },
  { key: 'eps', label: 'ε (/255)', value: genOnly((r) => s(r.eps255)), short: (v) => `ε=${v}/255` },
  { key: 'norm', label: 'norm', value: genOnly((r) => r.norm), short: (v) => v },
  { key: 'fraction', label: 'data fraction (%)', value: genOnly((r) => (r.fraction === null ? null : pct(r.fraction))), short: (v) => `p=${v}%` },
  { key: 'payoff', label: 'payoff', value: genOnly((r) => r.payoff), short: (v) => `payoff=${v}` },
  { key: 'lowerLoss', label: 'L_c', value: genOnly((r) => r.lowerLoss), short: (v) => `L_c=${v}` },
  { key: 'genSteps', label: 'gen. steps', value: genOnly((r) => s(r.genSteps)), short: (v) => `${v} steps` },
  { key: 'defense', label: 'defense', value: defenseLabel, short: (v) => (v === 'none' ? 'no defense' : v) },
  { key: 'at', label: 'adv. training', value: atLabel, short: (v) => (v === 'none' ? 'no AT' : `AT ${v}`) },
  { key: 'model', label: 'victim', value: (r) => r.model, short: (v) => v },
  { key: 'epochs', label: 'victim epochs', value: (r) => s(r.epochs), short: (v) => `${v} ep` },
  { key: 'seed', label: 'seed', value: (r) => s(r.seed), short: (v) => `seed ${v}` },
];
const dim = (key: string): Dim => DIMS.find((d) => d.key === key)!;

/** Dimensions with more than one distinct (applicable) value among the rows, in DIMS order. */
export function varyingDims(rows: readonly ExperimentRow[]): string[] {
  return DIMS.filter((d) => new Set(rows.map(d.value).filter((v) => v !== null)).size > 1).map((d) => d.key);
}

function distinct(rows: readonly ExperimentRow[], d: Dim): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const v = d.value(r);
    if (v !== null && !out.includes(v)) out.push(v);
  }
  return out;
}

/** Rows of one configuration (all settings equal except the seed). */
interface Group {
  key: string;
  rows: ExperimentRow[];
  label: string;
  first: ExperimentRow;
  /** Set when another group has the same dimensions and differs only in the experiment's setting (settingOf). */
  bySetting?: boolean;
}

function groupRows(rows: readonly ExperimentRow[], labelDims: readonly string[], exceptKeys: readonly string[] = ['seed']): Group[] {
  const groups = new Map<string, Group>();
  const keyDims = DIMS.filter((d) => !exceptKeys.includes(d.key));
  // Only when the seed alone is set apart: a sweep (fraction) keeps its points together whatever the cell ids say.
  const useSetting = exceptKeys.length === 1 && exceptKeys[0] === 'seed';
  const dimsKey = (r: ExperimentRow) => JSON.stringify(keyDims.map((d) => d.value(r)));
  for (const r of rows) {
    const key = JSON.stringify([dimsKey(r), useSetting ? settingOf(r) : null]);
    let g = groups.get(key);
    if (!g) {
      const parts = labelDims.filter((k) => !exceptKeys.includes(k)).map((k) => {
        const v = dim(k).value(r);
        return v === null ? null : dim(k).short(v);
      }).filter((p): p is string => p !== null);
      g = { key, rows: [], label: parts.length > 0 ? parts.join(' · ') : r.method, first: r };
      groups.set(key, g);
    }
    g.rows.push(r);
  }
  const out = [...groups.values()];
  const perDims = new Map<string, number>();
  for (const g of out) perDims.set(dimsKey(g.first), (perDims.get(dimsKey(g.first)) ?? 0) + 1);
  for (const g of out) {
    if ((perDims.get(dimsKey(g.first)) ?? 0) > 1) {
      g.bySetting = true;
      const st = settingOf(g.first);
      if (st !== null) g.label = st;
    }
  }
  return out;
}

const nums = (rows: readonly ExperimentRow[], f: (r: ExperimentRow) => number | null): number[] =>
  rows.map(f).filter((v): v is number => v !== null);

// ---------------------------------------------------------------- experiment section

const FACET_OF: Record<string, string> = { table2: 'model', table3: 'defense', table4: 'at' };
const PIVOT_OF: Record<string, [string, string]> = { table2: ['method', 'model'], table3: ['defense', 'method'], table4: ['at', 'method'] };

/**
 * The experiment's own name for a cell's setting: its id without the seed part ('eta-3__seed-4' → 'eta-3'), or null
 * when the id names no seed. Settings that the dimensions above do not show (a study's generator options) differ here.
 */
export function settingOf(r: ExperimentRow): string | null {
  const m = /(^|__|-)seed-\d+(?=$|__)/.exec(r.cell);
  if (!m) return null;
  const rest = (r.cell.slice(0, m.index) + r.cell.slice(m.index + m[0].length)).replace(/^(__|-)+|(__|-)+$/g, '');
  return rest === '' ? null : rest;
}

function resultsTable(id: string, done: ExperimentRow[], vary: string[]): TableFigure {
  const seedVaries = vary.includes('seed');
  const cfgDims = vary.filter((k) => k !== 'seed');
  if (cfgDims.length === 0) cfgDims.push('method');
  const groups = groupRows(done, cfgDims);
  // Rows that agree on every dimension but belong to different settings of the experiment (e.g. study/solver's
  // generator options) are not seeds of one configuration: groupRows keeps them apart; name them.
  if (groups.some((g) => g.bySetting)) cfgDims.unshift('setting');
  const hasRobust = done.some((r) => r.robustAcc !== null);
  const hasLinf = done.some((r) => r.linf255 !== null);
  const columns = [...cfgDims.map((k) => (k === 'setting' ? 'setting' : dim(k).label)), 'final acc (%)', 'worst acc (%)', 'best acc (%)'];
  if (hasRobust) columns.push('robust acc (%)');
  if (hasLinf) columns.push('L∞ (/255)');
  if (seedVaries) columns.push('seeds');
  const rows = groups.map((g) => {
    const row = cfgDims.map((k) => (k === 'setting' ? settingOf(g.first) : dim(k).value(g.first)) ?? '—');
    row.push(meanSd(nums(g.rows, (r) => r.finalAcc)), meanSd(nums(g.rows, (r) => r.worstAcc)), meanSd(nums(g.rows, (r) => r.bestAcc)));
    if (hasRobust) row.push(meanSd(nums(g.rows, (r) => r.robustAcc)));
    if (hasLinf) {
      const l = nums(g.rows, (r) => r.linf255);
      row.push(l.length > 0 ? fmtNum(Math.max(...l)) : '—');
    }
    if (seedVaries) row.push(String(g.rows.length));
    return row;
  });
  return {
    kind: 'table', id, title: 'Results', columns, numeric: columns.map((_, i) => i >= cfgDims.length), rows,
    caption: `Clean test accuracy of victims trained on the (protected) training data: after the last epoch (final), lowest and highest over epochs${hasRobust ? '; robust accuracy under PGD-20' : ''}.${seedVaries ? ' Mean ± sd over seeds.' : ''}`,
  };
}

function pivotTable(id: string, done: ExperimentRow[], rowKey: string, colKey: string, metric: 'acc' | 'robust', figure: string | null): TableFigure | null {
  const rd = dim(rowKey), cd = dim(colKey);
  // Rows and columns with no cell at all (a setting that does not apply to them) are left out.
  const has = (rv: string, cv: string) => done.some((r) => rd.value(r) === rv && cd.value(r) === cv);
  const rowVals0 = distinct(done, rd), colVals = distinct(done, cd).filter((cv) => rowVals0.some((rv) => has(rv, cv)));
  const rowVals = rowVals0.filter((rv) => colVals.some((cv) => has(rv, cv)));
  const min = figure !== null && PIVOT_OF[figure] !== undefined ? 1 : 2;
  if (rowVals.length < min || colVals.length < min || (rowVals.length < 2 && colVals.length < 2)) return null;
  const cell = (rv: string, cv: string): string => {
    const rs = done.filter((r) => rd.value(r) === rv && cd.value(r) === cv);
    if (rs.length === 0) return '—';
    if (metric === 'robust') return meanSd(nums(rs, (r) => r.robustAcc));
    return `${meanSd(nums(rs, (r) => r.finalAcc))} (${meanSd(nums(rs, (r) => r.worstAcc))})`;
  };
  const what = figure === 'table2' ? 'Transfer across victim models' : figure === 'table3' ? 'Defenses' : figure === 'table4' ? 'Adversarial training' : `${rd.label} × ${cd.label}`;
  return {
    kind: 'table', id, title: metric === 'robust' ? `${what}: robust accuracy (%)` : `${what}: final (worst) accuracy (%)`,
    columns: [rd.label, ...colVals.map((v) => cd.short(v))], numeric: [false, ...colVals.map(() => true)],
    rows: rowVals.map((rv) => [rd.short(rv), ...colVals.map((cv) => cell(rv, cv))]),
    caption: metric === 'robust' ? 'Accuracy under a PGD-20 attack at the training radius.' : 'Clean test accuracy after the last victim epoch, and in brackets the lowest over epochs. Lower means better protection.',
  };
}

function epochFigure(id: string, title: string, groups: Group[]): LineFigure {
  return {
    kind: 'line', id, title, xLabel: 'victim epoch', yLabel: 'clean test accuracy (%)', yDomain: [0, 100],
    series: groups.map((g) => ({
      label: g.label,
      points: meanCurve(g.rows.map((r) => r.curve)).map((y, i) => ({ x: i + 1, y })),
      dots: true,
    })).filter((sr) => sr.points.length > 0),
  };
}

function epochItems(ex: ExperimentInput, done: ExperimentRow[], vary: string[]): Item[] {
  const withCurve = done.filter((r) => r.curve.length > 0);
  if (withCurve.length === 0) return [];
  const cfg = vary.filter((k) => k !== 'seed');
  const preferred = ex.figure !== null ? FACET_OF[ex.figure] : undefined;
  let facet: string | undefined = preferred !== undefined && cfg.includes(preferred) ? preferred : undefined;
  const single = ex.figure === 'fig3' || ex.figure === 'fig4' || ex.figure === 'fig5';
  if (facet === undefined && !single && cfg.length >= 2) facet = cfg.find((k) => k !== 'method' && distinct(withCurve, dim(k)).length <= 12);
  const id = `${slug(ex.experiment)}-epochs`;
  const title = 'Clean test accuracy against victim epoch';
  const caption = 'One line per configuration (mean over seeds). Fig. 2 of the paper: protected data keeps the victim’s clean test accuracy low at every epoch.';
  if (facet === undefined) return [{ ...epochFigure(id, title, groupRows(withCurve, cfg)), caption }];
  const fd = dim(facet);
  const labelDims = cfg.filter((k) => k !== facet);
  const figures: LineFigure[] = [];
  const applicable = withCurve.filter((r) => fd.value(r) !== null);
  for (const v of distinct(applicable, fd)) {
    const rows = applicable.filter((r) => fd.value(r) === v);
    figures.push(epochFigure(`${id}-${slug(v)}`, `${fd.label}: ${fd.short(v)}`, groupRows(rows, labelDims.length > 0 ? labelDims : ['method'])));
  }
  // Rows to which the facet does not apply (the clean baseline for a generator setting) join every panel.
  const rest = withCurve.filter((r) => fd.value(r) === null);
  if (rest.length > 0) {
    const extra = groupRows(rest, labelDims.length > 0 ? labelDims : ['method']);
    for (const f of figures) f.series.push(...epochFigure('', '', extra).series);
  }
  return [{ kind: 'grid', id, title, caption, figures }];
}

function fractionItems(ex: ExperimentInput, done: ExperimentRow[], vary: string[]): Item[] {
  const prot = done.filter((r) => !isClean(r) && r.fraction !== null);
  const fracs = new Set(prot.map((r) => r.fraction));
  if (fracs.size < 2 && !(ex.figure === 'fig3' || ex.figure === 'fig4')) return [];
  if (fracs.size < 1) return [];
  // A generator trained for a fixed number of epochs over p % of the data takes steps ∝ p: its gen. steps follow the
  // fraction and are not a line of their own (they would split the sweep into one dot per fraction).
  const fr = dim('fraction'), st = dim('genSteps');
  const stepsOf = new Map<string | null, string | null>();
  const stepsFollow = prot.every((r) => {
    const f = fr.value(r), v = st.value(r);
    if (!stepsOf.has(f)) stepsOf.set(f, v);
    return stepsOf.get(f) === v;
  });
  const apart = ['seed', 'fraction', ...(stepsFollow ? ['genSteps'] : [])];
  const labelDims = vary.filter((k) => !apart.includes(k));
  const groups = groupRows(prot, labelDims.length > 0 ? labelDims : ['method'], apart);
  const series: Series[] = [];
  for (const g of groups) {
    const byFrac = new Map<number, ExperimentRow[]>();
    for (const r of g.rows) byFrac.set(r.fraction!, [...(byFrac.get(r.fraction!) ?? []), r]);
    const xs = [...byFrac.keys()].sort((a, b) => a - b);
    series.push({ label: `${g.label} · final`, key: g.label, dots: true, points: xs.map((x) => ({ x: x * 100, y: mean(nums(byFrac.get(x)!, (r) => r.finalAcc)) })) });
    const worst = xs.filter((x) => nums(byFrac.get(x)!, (r) => r.worstAcc).length > 0);
    if (worst.length > 0) series.push({ label: `${g.label} · worst`, key: g.label, dots: true, dashed: true, points: worst.map((x) => ({ x: x * 100, y: mean(nums(byFrac.get(x)!, (r) => r.worstAcc)) })) });
  }
  const cleanRows = done.filter(isClean);
  const rules = groupRows(cleanRows, vary.filter((k) => k !== 'seed')).map((g) => ({ y: mean(nums(g.rows, (r) => r.finalAcc)), label: g.label === 'clean' ? 'victim on clean data' : `${g.label} (clean data)` }));
  return [{
    kind: 'line', id: `${slug(ex.experiment)}-fraction`, title: 'Accuracy against the generator’s data fraction',
    caption: 'The generator is trained on p % of the training set (a seeded subset) and protects all of it (Figs. 3–4). Solid: final epoch; dashed: worst epoch; grey: victims on clean data.',
    xLabel: 'data fraction seen by the generator (%)', yLabel: 'clean test accuracy (%)', yDomain: [0, 100], series, rules,
  }];
}

/** Per-step curves of one metric, one series per run: smoothed, bucketed, with a band for a single run. */
function stepFigure(id: string, title: string, yLabel: string, runs: { label: string; run: TrainInput }[], metric: (s: StepRecord) => number | null, o: PlanOptions, logIfWide = false): LineFigure | null {
  const series: Series[] = [];
  let lo = Infinity, hi = -Infinity;
  for (const { label, run } of runs) {
    const pts = run.steps.map((s) => ({ x: s.step, y: metric(s) })).filter((p): p is Point => p.y !== null);
    if (pts.length === 0) continue;
    for (const p of pts) {
      lo = Math.min(lo, p.y);
      hi = Math.max(hi, p.y);
    }
    const w = o.smooth ?? autoWindow(pts.length);
    const smooth = movingAverage(pts.map((p) => p.y), w);
    const max = o.maxPoints ?? 250;
    const line = bucket(pts.map((p, i) => ({ x: p.x, y: smooth[i]! })), max).mean;
    const sr: Series = { label, points: line };
    if (runs.length === 1 && w > 1) sr.band = bucket(pts, max).band;
    series.push(sr);
  }
  if (series.length === 0) return null;
  const fig: LineFigure = { kind: 'line', id, title, xLabel: 'outer step', yLabel, series };
  if (logIfWide && lo > 0 && hi / lo > 100) fig.yLog = true;
  return fig;
}

function ablationItems(ex: ExperimentInput, o: PlanOptions): Item[] {
  const rowsWithRun = ex.rows.filter((r) => r.generatorRun !== null && ex.generatorRuns.has(r.generatorRun));
  if (rowsWithRun.length === 0) return [];
  const payoffs = new Set(rowsWithRun.map((r) => r.payoff).filter((p) => p !== null));
  if (payoffs.size < 2 && ex.figure !== 'fig5') return [];
  // One entry per generator run, labelled by the generator settings that vary between the runs.
  const first = new Map<string, ExperimentRow>();
  for (const r of rowsWithRun) if (!first.has(r.generatorRun!)) first.set(r.generatorRun!, r);
  const genRows = [...first.values()];
  const genKeys = ['payoff', 'eps', 'norm', 'fraction', 'lowerLoss', 'genSteps', 'seed'];
  const vary = varyingDims(genRows).filter((k) => genKeys.includes(k));
  const labels = genRows.map((r) => {
    const parts = (vary.length > 0 ? vary : ['payoff']).map((k) => dim(k).value(r)).map((v, i) => (v === null ? null : dim((vary.length > 0 ? vary : ['payoff'])[i]!).short(v)));
    return parts.filter((p): p is string => p !== null).join(' · ') || r.generatorRun!;
  });
  const runs = genRows.map((r, i) => ({
    label: labels.filter((l) => l === labels[i]).length > 1 ? `${labels[i]} (${r.generatorRun})` : labels[i]!,
    run: ex.generatorRuns.get(r.generatorRun!)!,
  }));
  const base = slug(ex.experiment);
  const figs = [
    stepFigure(`${base}-ablation-gradf`, '‖∇θ J_a‖ per step', '‖∇θ J_a‖₂', runs, (s) => s.gradFNorm, o, true),
    stepFigure(`${base}-ablation-jc`, 'J_c = g(w, θ) per step', 'J_c (CE on protected batch)', runs, (s) => s.g, o),
  ].filter((f): f is LineFigure => f !== null);
  if (figs.length === 0) return [];
  return [{
    kind: 'grid', id: `${base}-ablation`, title: 'Ablation of the attacker payoff: generator training curves', figures: figs,
    caption: `Per outer step of each cell’s generator run (Fig. 5): the norm of the attacker-payoff gradient before clipping, and the victim loss on protected data. ${o.smooth === 1 ? 'Raw values' : `Moving average over ${o.smooth ?? 'about 2 % of the'} steps`}${runs.length === 1 ? '; band: min/max' : ''}.`,
  }];
}

function generatorRunsTable(ex: ExperimentInput): TableFigure | null {
  if (ex.generatorRuns.size === 0 && ex.missingRuns.length === 0) return null;
  const rows: string[][] = [];
  for (const [name, run] of ex.generatorRuns) {
    const last = lastWindow(run.steps);
    rows.push([name, stepsText(run), fmtNum(last.f), fmtNum(last.g), fmtNum(last.q), fmtNum(last.lambda), fmtNum(last.gradFNorm)]);
  }
  for (const m of ex.missingRuns) rows.push([m.run, `unreadable: ${m.reason}`, '—', '—', '—', '—', '—']);
  return {
    kind: 'table', id: `${slug(ex.experiment)}-generators`, title: 'Generator runs',
    columns: ['run', 'steps', 'f', 'J_c = g', 'q', 'λ', '‖∇θ J_a‖'], numeric: [false, false, true, true, true, true, true], rows,
    caption: 'Means over the last 5 % of each run’s outer steps.',
  };
}

function experimentSection(ex: ExperimentInput, o: PlanOptions): Section {
  const done = ex.rows.filter((r) => r.status === 'done');
  const pending = ex.rows.filter((r) => r.status === 'pending');
  const failed = ex.rows.filter((r) => r.status === 'failed');
  const vary = varyingDims(done);
  const base = slug(ex.experiment);
  const items: Item[] = [];
  const notes: string[] = [];
  if (pending.length > 0 || failed.length > 0) {
    notes.push(`${done.length} of ${ex.rows.length} cells done, ${pending.length} pending, ${failed.length} failed: the tables and figures show the done cells only.`);
  }
  const shared = done.filter((r) => r.victimFrom !== null);
  if (shared.length > 0) {
    notes.push(`Measured once for several experiments (same data, protection, victim and seed; gue experiment --cache): ${shared.map((r) => `${r.cell} is ${r.victimFrom}`).join(', ')}.`);
  }
  if (done.length > 0) {
    items.push(resultsTable(`${base}-results`, done, vary));
    const pv = ex.figure !== null ? PIVOT_OF[ex.figure] : undefined;
    const cfg = vary.filter((k) => k !== 'seed');
    let axes: [string, string] | undefined = pv;
    if (axes === undefined && cfg.length === 2) axes = cfg.includes('method') ? [cfg.find((k) => k !== 'method')!, 'method'] : [cfg[0]!, cfg[1]!];
    // A pivot over the dimensions would average different settings of the experiment together.
    if (axes !== undefined && groupRows(done, cfg.length > 0 ? cfg : ['method']).some((g) => g.bySetting)) {
      axes = undefined;
      notes.push('No pivot table: cells that share every dimension shown here differ in settings of the experiment (its cell names, the results table\'s setting column), so a pivot would average them.');
    }
    if (axes !== undefined) {
      const t = pivotTable(`${base}-pivot`, done, axes[0], axes[1], 'acc', ex.figure);
      if (t) items.push(t);
      if (done.some((r) => r.robustAcc !== null)) {
        const rt = pivotTable(`${base}-pivot-robust`, done.filter((r) => r.robustAcc !== null), axes[0], axes[1], 'robust', ex.figure);
        if (rt) items.push(rt);
      }
    }
    items.push(...fractionItems(ex, done, vary));
    items.push(...epochItems(ex, done, vary));
  }
  items.push(...ablationItems(ex, o));
  const gt = generatorRunsTable(ex);
  if (gt) items.push(gt);
  if (failed.length > 0) {
    items.push({
      kind: 'table', id: `${base}-failed`, title: 'Failed cells', columns: ['cell', 'method', 'error'], numeric: [false, false, false],
      rows: failed.map((r) => [r.cell, r.method, r.error ?? '(no message)']),
    });
  }
  const meta: [string, string][] = [['experiment', ex.experiment]];
  if (ex.figure) meta.push(['reproduces', ex.figure]);
  if (ex.dataset) meta.push(['dataset', ex.dataset + (ex.trainSize ? ` (${ex.trainSize} training images)` : '')]);
  if (ex.createdAt) meta.push(['created', ex.createdAt]);
  meta.push(['cells', `${ex.rows.length} (${done.length} done, ${pending.length} pending, ${failed.length} failed)`]);
  if (vary.length > 0) meta.push(['varied', vary.map((k) => dim(k).label).join(', ')]);
  return {
    id: `exp-${base}`, kind: 'experiment', title: ex.title ?? ex.experiment, sources: [ex.path], meta,
    commands: ex.command !== null ? [ex.command] : [`gue experiment <file or preset of '${ex.experiment}'> --out ${shellArg(ex.path)}`],
    notes, items,
  };
}

// ---------------------------------------------------------------- train runs

function lastWindow(steps: readonly StepRecord[]): Record<'f' | 'g' | 'q' | 'lambda' | 'gradFNorm', number | null> {
  const n = Math.max(1, Math.ceil(steps.length * 0.05));
  const tail = steps.slice(-n);
  const m = (f: (s: StepRecord) => number | null) => {
    const v = tail.map(f).filter((x): x is number => x !== null);
    return v.length > 0 ? mean(v) : null;
  };
  return { f: m((s) => s.f), g: m((s) => s.g), q: m((s) => s.q), lambda: m((s) => s.lambda), gradFNorm: m((s) => s.gradFNorm) };
}

function stepsText(run: TrainInput): string {
  const n = run.steps.length > 0 ? run.steps[run.steps.length - 1]!.step : 0;
  const total = run.summary?.totalSteps ?? null;
  const fin = run.summary?.finished;
  return `${n}${total !== null ? ` / ${total}` : ''}${fin === true ? ' (finished)' : fin === false ? ' (stopped)' : ''}`;
}

// Option → flag of `gue train` (values as the flag takes them).
const TRAIN_FLAGS: [string, string, (v: unknown) => string][] = [
  ['epochs', 'epochs', String], ['batchSize', 'batch-size', String], ['surrogate', 'surrogate', String], ['genWidth', 'gen-width', String],
  ['fraction', 'fraction', String], ['seed', 'seed', String], ['eps', 'eps', (v) => String(+(Number(v) * 255).toFixed(4))],
  ['innerSteps', 'inner-steps', String], ['eta', 'eta', String], ['lrCls', 'lr-cls', String], ['lrGen', 'lr-gen', String],
  ['lrInner', 'lr-inner', String], ['genMomentum', 'gen-momentum', String], ['genWeightDecay', 'gen-weight-decay', String],
  ['payoff', 'payoff', String], ['clipNorm', 'clip-norm', String], ['path', 'path', String], ['device', 'device', String],
];
// Shown only when set (runs older than the option have none).
const TRAIN_FLAGS_IF_SET: [string, string][] = [['resetEvery', 'reset-every'], ['genGrad', 'gen-grad'], ['clsGrad', 'cls-grad'], ['genArch', 'gen-arch'], ['routeWeight', 'route-weight'], ['genOptim', 'gen-optim'], ['gameAugment', 'game-augment']];
/** Defaults of the options above (a value equal to its default is not shown). */
const TRAIN_FLAG_DEFAULTS: Record<string, unknown> = { resetEvery: 0, genGrad: 'q', clsGrad: 'bome', genArch: 'unet', routeWeight: 0, genOptim: 'sgd', gameAugment: 'none' };

export { shellArg };


export function trainCommandLine(run: TrainInput): string {
  const parts = ['gue', 'train', '--out', shellArg(run.path)];
  if (run.data) {
    for (const k of ['dataset', 'data-dir', 'train-size']) {
      const v = run.data[k];
      if (v !== undefined && v !== null && !(k === 'train-size' && v === 0)) parts.push(`--${k}`, shellArg(String(v)));
    }
  }
  for (const [key, flag, f] of TRAIN_FLAGS) {
    const v = run.options[key];
    if (v !== undefined && v !== null) parts.push(`--${flag}`, shellArg(f(v)));
  }
  for (const [key, flag] of TRAIN_FLAGS_IF_SET) {
    const v = run.options[key];
    if ((typeof v === 'number' || typeof v === 'string') && v !== TRAIN_FLAG_DEFAULTS[key]) parts.push(`--${flag}`, String(v));
  }
  return parts.join(' ');
}

function runLabels(runs: readonly TrainInput[]): string[] {
  const base = runs.map((r) => r.path.replace(/\/+$/, '').split('/').pop() || r.path);
  return runs.map((r, i) => (base.filter((b) => b === base[i]).length > 1 ? r.path : base[i]!));
}

const CONVERGENCE: [string, string, string, (s: StepRecord) => number | null, boolean][] = [
  ['f', 'attacker payoff f(θ)', 'f', (s) => s.f, false],
  ['g', 'J_c = g(w, θ)', 'CE on protected batch', (s) => s.g, false],
  ['q', 'q = g(w, θ) − g(w, θ^T)', 'q', (s) => s.q, false],
  ['lambda', 'λ (dynamic barrier)', 'λ', (s) => s.lambda, false],
  ['dot', '⟨∇θ f, ∇θ q⟩', 'inner product', (s) => s.dot, false],
  ['gradf', '‖∇θ J_a‖', 'norm', (s) => s.gradFNorm, true],
];

function trainSection(runs: TrainInput[], o: PlanOptions): Section {
  const labels = runLabels(runs);
  const lr = runs.map((run, i) => ({ label: labels[i]!, run }));
  const id = `train-${slug(labels.join('-')).slice(0, 40)}`;
  const items: Item[] = [];
  const cols = ['run', 'dataset', 'payoff', 'ε (/255)', 'steps', 'f', 'J_c = g', 'q', 'λ', '‖∇θ J_a‖'];
  items.push({
    kind: 'table', id: `${id}-runs`, title: 'Runs', columns: cols, numeric: cols.map((_, i) => i >= 5),
    caption: 'f, J_c, q, λ and ‖∇θ J_a‖: means over the last 5 % of the outer steps.',
    rows: lr.map(({ label, run }) => {
      const l = lastWindow(run.steps);
      const eps = typeof run.options.eps === 'number' ? fmtNum(+(run.options.eps * 255).toFixed(3)) : '—';
      return [label, run.dataset ?? '—', String(run.options.payoff ?? '—'), eps, stepsText(run), fmtNum(l.f), fmtNum(l.g), fmtNum(l.q), fmtNum(l.lambda), fmtNum(l.gradFNorm)];
    }),
  });
  const figs = CONVERGENCE.map(([k, title, yl, f, log]) => stepFigure(`${id}-${k}`, title, yl, lr, f, o, log)).filter((x): x is LineFigure => x !== null);
  const maxN = Math.max(...runs.map((r) => r.steps.length));
  const w = o.smooth ?? autoWindow(maxN);
  if (figs.length > 0) {
    items.push({
      kind: 'grid', id: `${id}-convergence`, title: 'Convergence of the game solver', figures: figs,
      caption: `Per outer step, ${w > 1 ? `moving average over ${w} steps${runs.length === 1 ? '; band: min/max of the raw values' : ''}` : 'raw values'}${maxN > (o.maxPoints ?? 250) ? `, averaged into ${o.maxPoints ?? 250} points` : ''}. A converged solver has λ near 0 and flat f and J_c.`,
    });
  }
  const proxyRuns = lr.filter(({ run }) => run.proxy.length > 0);
  if (proxyRuns.length > 0) {
    items.push({
      kind: 'line', id: `${id}-proxy`, title: 'Proxy-victim accuracy during generator training', xLabel: 'outer step', yLabel: 'clean test accuracy (%)', yDomain: [0, 100],
      caption: 'A short victim trained on the generator’s protection at that step: final epoch (solid) and worst epoch (dashed, when recorded). Lower is stronger protection.',
      series: proxyRuns.flatMap(({ label, run }) => {
        const out: Series[] = [{ label, key: label, dots: true, points: run.proxy.map((p) => ({ x: p.step, y: p.acc })) }];
        const worst = run.proxy.filter((p) => p.worstAcc !== null);
        if (worst.length > 0) out.push({ label: `${label} · worst`, key: label, dots: true, dashed: true, points: worst.map((p) => ({ x: p.step, y: p.worstAcc! })) });
        return out;
      }),
    });
  }
  const notes = runs.filter((r) => r.badLines > 0).map((r) => `${r.path}: ${r.badLines} unreadable line(s) in metrics.jsonl skipped.`);
  const meta: [string, string][] = [];
  const datasets = [...new Set(runs.map((r) => r.dataset).filter((d): d is string => d !== null))];
  if (datasets.length > 0) meta.push(['dataset', datasets.join(', ')]);
  // Options the command line below does not show (e.g. options added by newer versions).
  const shown = new Set([...TRAIN_FLAGS.map(([k]) => k), 'maxSteps', 'checkpointEvery', 'memoryFormat']);
  for (const { label, run } of lr) {
    const keys = Object.keys(run.options).filter((k) => !shown.has(k)).sort();
    if (keys.length > 0) meta.push([`more options (${label})`, keys.map((k) => `${k}=${JSON.stringify(run.options[k])}`).join(' ')]);
  }
  return {
    id, kind: 'train', title: runs.length === 1 ? `Generator training: ${labels[0]}` : `Generator training: ${runs.length} runs`,
    sources: runs.map((r) => r.path), meta, commands: runs.map(trainCommandLine), notes, items,
  };
}

// ---------------------------------------------------------------- evaluate

export function evaluateCommandLine(e: EvaluateInput): string {
  const v = e.victim;
  const parts = ['gue', 'evaluate', ...(e.training === 'clean' ? ['--clean'] : ['--data', shellArg(e.training)])];
  const add = (flag: string, val: unknown) => {
    if (val !== undefined && val !== null) parts.push(`--${flag}`, shellArg(Array.isArray(val) ? (val.length > 0 ? val.join(',') : 'none') : String(val)));
  };
  add('model', v.model); add('epochs', v.epochs); add('milestones', v.milestones); add('batch-size', v.batchSize); add('lr', v.lr);
  add('momentum', v.momentum); add('weight-decay', v.weightDecay); add('crop-padding', v.cropPadding);
  if (v.flip === false) parts.push('--no-flip');
  add('victim-seed', v.seed); add('device', v.device);
  if (e.defense) {
    parts.push('--defense', shellArg(e.defense.name));
    const keys = Object.keys(e.defense.options).sort();
    if (keys.length > 0) parts.push('--defense-opt', shellArg(keys.map((k) => `${k}=${String(e.defense!.options[k])}`).join(',')));
  }
  if (e.adversarialTraining) {
    parts.push('--at', shellArg(e.adversarialTraining.kind), '--at-eps', String(+(e.adversarialTraining.eps * 255).toFixed(4)));
    if (e.adversarialTraining.beta !== null && e.adversarialTraining.kind === 'trades') parts.push('--trades-beta', String(e.adversarialTraining.beta));
  }
  if (e.robustAcc !== null) parts.push('--robust-eval');
  parts.push('--out', shellArg(e.path));
  return parts.join(' ');
}

function evalDefense(e: EvaluateInput): string {
  if (!e.defense) return 'none';
  const keys = Object.keys(e.defense.options).sort();
  return keys.length === 0 ? e.defense.name : `${e.defense.name}(${keys.map((k) => `${k}=${JSON.stringify(e.defense!.options[k])}`).join(', ')})`;
}
function evalAt(e: EvaluateInput): string {
  const a = e.adversarialTraining;
  return a ? `${a.kind} ε_a=${+(a.eps * 255).toFixed(2)}/255` : 'none';
}

function evaluateSection(evs: EvaluateInput[]): Section {
  const labels = evs.map((e) => `${e.training === 'clean' ? 'clean' : e.training} → ${String(e.victim.model ?? 'victim')}${e.defense ? ` + ${evalDefense(e)}` : ''}${e.adversarialTraining ? ` + AT ${evalAt(e)}` : ''}`);
  const uniq = labels.map((l, i) => (labels.filter((x) => x === l).length > 1 ? `${l} (${evs[i]!.path})` : l));
  const hasRobust = evs.some((e) => e.robustAcc !== null);
  const hasDefense = evs.some((e) => e.defense !== null);
  const hasAt = evs.some((e) => e.adversarialTraining !== null);
  const columns = ['result', 'training data', 'victim', ...(hasDefense ? ['defense'] : []), ...(hasAt ? ['adv. training'] : []), 'epochs', 'final acc (%)', 'worst acc (%)', 'best acc (%)', ...(hasRobust ? ['robust acc (%)'] : [])];
  const firstNum = columns.indexOf('epochs');
  const items: Item[] = [{
    kind: 'table', id: 'evaluate-results', title: 'Victims', columns, numeric: columns.map((_, i) => i >= firstNum),
    rows: evs.map((e) => [e.path, e.training, String(e.victim.model ?? '—'), ...(hasDefense ? [evalDefense(e)] : []), ...(hasAt ? [evalAt(e)] : []), String(e.curve.length || (e.victim.epochs ?? '—')), fmtAcc(e.finalAcc), fmtAcc(e.worstAcc), fmtAcc(e.bestAcc), ...(hasRobust ? [fmtAcc(e.robustAcc)] : [])]),
    caption: 'Clean test accuracy of each victim (gue evaluate).',
  }];
  const series = evs.map((e, i) => ({ label: uniq[i]!, dots: true, points: e.curve.map((y, j) => ({ x: j + 1, y })) })).filter((sr) => sr.points.length > 0);
  if (series.length > 0) {
    items.push({ kind: 'line', id: 'evaluate-epochs', title: 'Clean test accuracy against victim epoch', xLabel: 'victim epoch', yLabel: 'clean test accuracy (%)', yDomain: [0, 100], series });
  }
  return {
    id: 'evaluate', kind: 'evaluate', title: evs.length === 1 ? `Victim: ${uniq[0]}` : `Victims: ${evs.length} evaluations`,
    sources: evs.map((e) => e.path), meta: [], commands: evs.map(evaluateCommandLine), notes: [], items,
  };
}

// ---------------------------------------------------------------- the plan

export function planReport(inputs: readonly ReportInput[], o: PlanOptions = {}): ReportPlan {
  const sections: Section[] = [];
  const exps = inputs.filter((i): i is ExperimentInput => i.kind === 'experiment');
  const trains = inputs.filter((i): i is TrainInput => i.kind === 'train');
  const evals = inputs.filter((i): i is EvaluateInput => i.kind === 'evaluate');
  const used = new Set<string>();
  for (const ex of exps) {
    const s = experimentSection(ex, o);
    let id = s.id;
    for (let k = 2; used.has(id); k++) id = `${s.id}-${k}`;
    used.add(id);
    if (id !== s.id) {
      const old = s.id;
      s.id = id;
      const re = (x: string) => x.replace(old.replace(/^exp-/, ''), id.replace(/^exp-/, ''));
      for (const it of s.items) {
        it.id = re(it.id);
        if (it.kind === 'grid') for (const f of it.figures) f.id = re(f.id);
      }
    }
    sections.push(s);
  }
  if (trains.length > 0) sections.push(trainSection(trains, o));
  if (evals.length > 0) sections.push(evaluateSection(evals));

  const datasets = [...new Set(inputs.map((i) => (i.kind === 'experiment' || i.kind === 'train' ? i.dataset : (i.trainingMeta?.dataset as string | undefined) ?? null)).filter((d): d is string => typeof d === 'string'))];
  const versions: ReportPlan['versions'] = [];
  for (const i of inputs) {
    if (!i.versions) continue;
    const key = JSON.stringify(i.versions);
    const v = versions.find((x) => JSON.stringify(x.versions) === key);
    if (v) v.sources.push(i.path);
    else versions.push({ sources: [i.path], versions: i.versions });
  }
  const title = o.title ?? (exps.length === 1 && exps[0]!.title ? exps[0]!.title : exps.length > 0 ? `GUE experiments: ${exps.map((e) => e.experiment).join(', ')}` : trains.length > 0 && evals.length === 0 ? 'GUE generator training' : 'GUE report');
  return { title, inputs: inputs.map((i) => ({ kind: i.kind, path: i.path })), datasets, versions, command: o.command ?? null, sections };
}

/** Every figure and table in the plan, flattened (grids expanded), in page order. */
export function planItems(plan: ReportPlan): (LineFigure | TableFigure | GridFigure)[] {
  const out: (LineFigure | TableFigure | GridFigure)[] = [];
  for (const s of plan.sections) for (const it of s.items) {
    out.push(it);
    if (it.kind === 'grid') out.push(...it.figures);
  }
  return out;
}
