// Reading what `gue report` is given. Each path is recognised by the files it holds:
//   experiment folder  results.json with "rows" (written by `gue experiment`); its cells' generator runs are
//                      `gue train` folders relative to it and are read too (for the ablation curves, Fig. 5
//                      of GUE, AAAI 2024);
//   train run folder   options.json with command "train" + metrics.jsonl (one JSON line per outer step), optional
//                      summary.json and proxy-victim accuracies (lines {"proxy": {...}} in metrics.jsonl or a
//                      proxy.jsonl file);
//   evaluate folder    results.json with command "evaluate" (written by `gue evaluate --out`).
// A results.json path is accepted in place of its folder. Anything else is a ReportInputError with a message
// that says what was expected. Nothing here touches the engine: reports are pure data.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** The user gave a path that is not a report input (a usage error: exit 2). */
export class ReportInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportInputError';
  }
}

export type CellStatus = 'done' | 'pending' | 'failed';

/** One cell of an experiment's results table (see `gue experiment`). */
export interface ExperimentRow {
  cell: string;
  status: CellStatus;
  error: string | null;
  method: string;
  eps255: number | null;
  norm: string | null;
  fraction: number | null;
  payoff: string | null;
  lowerLoss: string | null;
  genSteps: number | null;
  defense: string | null;
  defenseOptions: Record<string, unknown> | null;
  at: string | null;
  atEps255: number | null;
  model: string | null;
  epochs: number | null;
  seed: number | null;
  finalAcc: number | null;
  worstAcc: number | null;
  bestAcc: number | null;
  robustAcc: number | null;
  curve: number[];
  protectDir: string | null;
  generatorRun: string | null;
  linf255: number | null;
  seconds: number | null;
  /** The victim was not trained again: '<experiment>/<cell>' measured the same victim (gue experiment --cache). */
  victimFrom: string | null;
}

export interface ExperimentInput {
  kind: 'experiment';
  /** The path as given (for display). */
  path: string;
  dir: string;
  experiment: string;
  title: string | null;
  figure: string | null;
  dataset: string | null;
  trainSize: number | null;
  createdAt: string | null;
  versions: Record<string, unknown> | null;
  /** A command line recorded by the runner, when it recorded one. */
  command: string | null;
  rows: ExperimentRow[];
  /** The generator runs its rows name, by their path relative to the experiment folder (those that exist). */
  generatorRuns: Map<string, TrainInput>;
  /** Generator runs named by rows but missing or unreadable, with the reason. */
  missingRuns: { run: string; reason: string }[];
}

/** One outer step of a GUE training run (src/game/train.ts, StepMetrics + position). */
export interface StepRecord {
  step: number;
  epoch: number | null;
  f: number | null;
  g: number | null;
  gInner: number | null;
  q: number | null;
  lambda: number | null;
  gradQNorm: number | null;
  dot: number | null;
  gradFNorm: number | null;
  gradQwNorm: number | null;
  seconds: number | null;
}

/** A proxy victim trained on the generator's protection at some outer step. */
export interface ProxyRecord {
  step: number;
  acc: number;
  worstAcc: number | null;
}

export interface TrainInput {
  kind: 'train';
  path: string;
  dir: string;
  options: Record<string, unknown>;
  dataset: string | null;
  trainSize: number | null;
  data: Record<string, unknown> | null;
  versions: Record<string, unknown> | null;
  steps: StepRecord[];
  proxy: ProxyRecord[];
  summary: { steps: number | null; totalSteps: number | null; finished: boolean | null } | null;
  /** Lines of metrics.jsonl that could not be parsed (a run killed mid-write leaves at most one). */
  badLines: number;
}

export interface EvaluateInput {
  kind: 'evaluate';
  path: string;
  dir: string;
  training: string;
  trainingMeta: Record<string, unknown> | null;
  victim: Record<string, unknown>;
  curve: number[];
  finalAcc: number;
  worstAcc: number;
  bestAcc: number;
  robustAcc: number | null;
  /** Defense the victim trained with (result.defense), when any. */
  defense: { name: string; options: Record<string, unknown> } | null;
  /** Adversarial training (result.adversarialTraining), when any; eps in [0,1] units. */
  adversarialTraining: { kind: string; eps: number; beta: number | null } | null;
  versions: Record<string, unknown> | null;
}

export type ReportInput = ExperimentInput | TrainInput | EvaluateInput;

// ---------------------------------------------------------------- small typed readers

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

function numArray(v: unknown, what: string): number[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new Error(`${what} must be an array of numbers`);
  return v as number[];
}

// ---------------------------------------------------------------- experiment

const STATUSES: readonly CellStatus[] = ['done', 'pending', 'failed'];

function parseRow(r: unknown, i: number, file: string): ExperimentRow {
  const where = `${file}: rows[${i}]`;
  if (!isObj(r)) throw new Error(`${where} is not an object`);
  const status = r.status;
  if (typeof status !== 'string' || !STATUSES.includes(status as CellStatus)) {
    throw new Error(`${where}.status must be one of ${STATUSES.join(', ')}; got ${JSON.stringify(status)}`);
  }
  const method = str(r.method);
  if (method === null) throw new Error(`${where}.method must be a string`);
  const cell = str(r.cell) ?? `row ${i + 1}`;
  const finalAcc = num(r.finalAcc);
  if (status === 'done' && finalAcc === null) throw new Error(`${where} (cell ${cell}) is done but has no numeric finalAcc`);
  return {
    cell,
    status: status as CellStatus,
    error: str(r.error),
    method,
    eps255: num(r.eps255),
    norm: str(r.norm),
    fraction: num(r.fraction),
    payoff: str(r.payoff),
    lowerLoss: str(r.lowerLoss),
    genSteps: num(r.genSteps),
    defense: str(r.defense),
    defenseOptions: isObj(r.defenseOptions) ? r.defenseOptions : null,
    at: str(r.at),
    atEps255: num(r.atEps255),
    model: str(r.model),
    epochs: num(r.epochs),
    seed: num(r.seed),
    finalAcc,
    worstAcc: num(r.worstAcc),
    bestAcc: num(r.bestAcc),
    robustAcc: num(r.robustAcc),
    curve: numArray(r.curve, `${where}.curve`),
    protectDir: str(r.protectDir),
    generatorRun: str(r.generatorRun),
    linf255: num(r.linf255),
    seconds: num(r.seconds),
    victimFrom: str(r.victimFrom),
  };
}

function commandOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return (v as string[]).join(' ');
  return null;
}

/** 'Table 1', 'table-1', 'Fig. 3' → 'table1', 'fig3' (the experiment file's figure field is free text). */
export function normFigure(f: string | null): string | null {
  if (f === null) return null;
  const t = f.toLowerCase().replace(/[\s._-]+/g, '');
  const m = /^(table|tab|figure|fig)(\d+)/.exec(t);
  if (!m) return t;
  return `${m[1]!.startsWith('tab') ? 'table' : 'fig'}${m[2]}`;
}

function loadExperiment(given: string, dir: string, json: Obj): ExperimentInput {
  const file = join(dir, 'results.json');
  if (!Array.isArray(json.rows)) throw new Error(`${file}: "rows" must be an array`);
  const rows = json.rows.map((r, i) => parseRow(r, i, file));
  const generatorRuns = new Map<string, TrainInput>();
  const missingRuns: { run: string; reason: string }[] = [];
  for (const run of [...new Set(rows.map((r) => r.generatorRun).filter((r): r is string => r !== null))].sort()) {
    const runDir = resolve(dir, run);
    if (!existsSync(join(runDir, 'metrics.jsonl'))) {
      missingRuns.push({ run, reason: 'no metrics.jsonl' });
      continue;
    }
    try {
      generatorRuns.set(run, loadTrain(run, runDir));
    } catch (e) {
      missingRuns.push({ run, reason: (e as Error).message });
    }
  }
  return {
    kind: 'experiment',
    path: given,
    dir,
    experiment: str(json.experiment) ?? basename(dir),
    title: str(json.title),
    figure: normFigure(str(json.figure)),
    dataset: str(json.dataset),
    trainSize: num(json.trainSize),
    createdAt: str(json.createdAt),
    versions: isObj(json.versions) ? json.versions : null,
    command: commandOf(json.command),
    rows,
    generatorRuns,
    missingRuns,
  };
}

// ---------------------------------------------------------------- train run

function proxyOf(p: unknown, fallbackStep: number | null): ProxyRecord | null {
  if (!isObj(p)) return null;
  const step = num(p.step) ?? fallbackStep;
  const acc = num(p.acc) ?? num(p.testAcc) ?? num(p.finalAcc);
  if (step === null || acc === null) return null;
  return { step, acc, worstAcc: num(p.worstAcc) };
}

function loadTrain(given: string, dir: string): TrainInput {
  const optPath = join(dir, 'options.json');
  const opt = existsSync(optPath) ? readJson(optPath) : null;
  if (opt !== null && !isObj(opt)) throw new Error(`${optPath}: not a JSON object`);
  const metricsPath = join(dir, 'metrics.jsonl');
  let text: string;
  try {
    text = readFileSync(metricsPath, 'utf8');
  } catch (e) {
    throw new Error(`${metricsPath}: cannot read (${(e as Error).message})`);
  }
  const steps: StepRecord[] = [];
  const proxy: ProxyRecord[] = [];
  let badLines = 0;
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  lines.forEach((line, i) => {
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      badLines++;
      return;
    }
    if (!isObj(o)) {
      badLines++;
      return;
    }
    if (o.type === 'proxy' || o.kind === 'proxy') {
      const p = proxyOf(o, null);
      if (p) proxy.push(p);
      else badLines++;
      return;
    }
    if ('proxy' in o) {
      const p = proxyOf(o.proxy, num(o.step));
      if (p) proxy.push(p);
      else badLines++;
      return;
    }
    if (num(o.f) === null && num(o.g) === null && num(o.lambda) === null) {
      badLines++;
      return;
    }
    steps.push({
      step: num(o.step) ?? steps.length + 1,
      epoch: num(o.epoch),
      f: num(o.f), g: num(o.g), gInner: num(o.gInner), q: num(o.q), lambda: num(o.lambda),
      gradQNorm: num(o.gradQNorm), dot: num(o.dot), gradFNorm: num(o.gradFNorm), gradQwNorm: num(o.gradQwNorm),
      seconds: num(o.seconds),
    });
    void i;
  });
  const proxyPath = join(dir, 'proxy.jsonl');
  if (existsSync(proxyPath)) {
    for (const line of readFileSync(proxyPath, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        continue;
      }
      const p = isObj(o) && 'proxy' in o ? proxyOf(o.proxy, num(o.step)) : proxyOf(o, null);
      if (p) proxy.push(p);
    }
  }
  proxy.sort((a, b) => a.step - b.step);
  let summary: TrainInput['summary'] = null;
  const sumPath = join(dir, 'summary.json');
  if (existsSync(sumPath)) {
    const s = readJson(sumPath);
    if (isObj(s)) summary = { steps: num(s.steps), totalSteps: num(s.totalSteps), finished: typeof s.finished === 'boolean' ? s.finished : null };
  }
  const o = (opt ?? {}) as Obj;
  return {
    kind: 'train',
    path: given,
    dir,
    options: isObj(o.options) ? o.options : {},
    dataset: str(o.dataset),
    trainSize: num(o.trainSize),
    // Runs trained by `gue experiment` record no CLI data flags; their source ('…/train-images-idx3-ubyte.gz[:N]')
    // says when only the first N images were used, which the reproducing command needs as --train-size N.
    data: isObj(o.data) ? o.data : firstN(str(o.dataset)),
    versions: isObj(o.versions) ? o.versions : null,
    steps,
    proxy,
    summary,
    badLines,
  };
}

// ---------------------------------------------------------------- evaluate

function loadEvaluate(given: string, dir: string, json: Obj): EvaluateInput {
  const file = join(dir, 'results.json');
  const result = json.result;
  if (!isObj(result)) throw new Error(`${file}: "result" must be an object (the victim's per-epoch record)`);
  const epochs = Array.isArray(result.epochs) ? result.epochs : [];
  const curve = epochs.map((e, i) => {
    const v = isObj(e) ? num(e.testAcc) : null;
    if (v === null) throw new Error(`${file}: result.epochs[${i}].testAcc must be a number`);
    return v;
  });
  const finalAcc = num(result.finalTestAcc) ?? curve[curve.length - 1] ?? null;
  if (finalAcc === null) throw new Error(`${file}: no final accuracy (result.finalTestAcc) and no per-epoch curve`);
  return {
    kind: 'evaluate',
    path: given,
    dir,
    training: str(json.training) ?? 'unknown',
    trainingMeta: isObj(json.trainingMeta) ? json.trainingMeta : null,
    victim: isObj(json.victim) ? json.victim : {},
    curve,
    finalAcc,
    worstAcc: num(result.worstTestAcc) ?? (curve.length > 0 ? Math.min(...curve) : finalAcc),
    bestAcc: num(result.bestTestAcc) ?? (curve.length > 0 ? Math.max(...curve) : finalAcc),
    robustAcc: num(result.robustAcc) ?? num(json.robustAcc),
    defense: isObj(result.defense) && typeof result.defense.name === 'string'
      ? { name: result.defense.name, options: isObj(result.defense.options) ? result.defense.options : {} } : null,
    adversarialTraining: isObj(result.adversarialTraining) && typeof result.adversarialTraining.kind === 'string' && num(result.adversarialTraining.eps) !== null
      ? { kind: result.adversarialTraining.kind, eps: num(result.adversarialTraining.eps)!, beta: num(result.adversarialTraining.beta) } : null,
    versions: isObj(json.versions) ? json.versions : null,
  };
}

// ---------------------------------------------------------------- detection

/** Reads one report input; `path` is a folder (or a results.json / metrics.jsonl in one). */
export function loadReportInput(path: string): ReportInput {
  if (!existsSync(path)) throw new ReportInputError(`${path}: no such file or folder`);
  let dir = resolve(path);
  if (statSync(dir).isFile()) {
    const name = basename(dir);
    if (name !== 'results.json' && name !== 'metrics.jsonl' && name !== 'options.json') {
      throw new ReportInputError(`${path}: expected a folder written by gue experiment, gue train or gue evaluate --out (or its results.json)`);
    }
    dir = dirname(dir);
  }
  const results = join(dir, 'results.json');
  if (existsSync(results)) {
    const json = readJson(results);
    if (!isObj(json)) throw new Error(`${results}: not a JSON object`);
    if (Array.isArray(json.rows)) return loadExperiment(path, dir, json);
    if (json.command === 'evaluate') return loadEvaluate(path, dir, json);
    throw new ReportInputError(`${results}: neither an experiment's results (no "rows") nor a gue evaluate result (command is ${JSON.stringify(json.command ?? null)})`);
  }
  if (existsSync(join(dir, 'metrics.jsonl'))) {
    const opt = join(dir, 'options.json');
    if (existsSync(opt)) {
      const o = readJson(opt);
      if (isObj(o) && o.command !== undefined && o.command !== 'train') throw new ReportInputError(`${opt}: written by '${String(o.command)}', not by gue train`);
    }
    const t = loadTrain(path, dir);
    if (t.steps.length === 0 && t.proxy.length === 0) throw new Error(`${join(dir, 'metrics.jsonl')}: no step metrics yet (the run has not finished a step)`);
    return t;
  }
  throw new ReportInputError(
    `${path}: not a report input — expected an experiment folder (results.json with rows), a gue train run folder (options.json + metrics.jsonl) or a gue evaluate --out folder (results.json)`,
  );
}

/** Reads all inputs; the same folder given twice is read once. */
export function loadReportInputs(paths: string[]): ReportInput[] {
  if (paths.length === 0) throw new ReportInputError('give at least one experiment, train-run or evaluate folder');
  const seen = new Set<string>();
  const out: ReportInput[] = [];
  for (const p of paths) {
    const inp = loadReportInput(p);
    if (seen.has(inp.dir)) continue;
    seen.add(inp.dir);
    out.push(inp);
  }
  return out;
}

function firstN(source: string | null): Record<string, unknown> | null {
  const m = source === null ? null : /\[:(\d+)\]$/.exec(source);
  return m ? { 'train-size': Number(m[1]) } : null;
}
