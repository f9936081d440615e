// The results file of an experiment, <out>/results.json: one row per cell in a fixed format that
// `gue report` reads. Rows of cells that have not run yet are 'pending' with null measurements.
import type { ResolvedCell } from './cells.js';
import type { ExperimentSpec, Json } from './schema.js';

export type CellStatus = 'done' | 'pending' | 'failed';

export interface ProtectInfo {
  hash: string;
  method: string;
  linf255: number;
  meanAbs255: number;
  changed: number;
  /** GUE: outer steps the generator was trained for. */
  genSteps: number | null;
  seconds: number;
  generatorRun: string | null;
  meta: Record<string, unknown>;
}

export interface VictimSummary {
  finalAcc: number;
  worstAcc: number;
  bestAcc: number;
  robustAcc: number | null;
  curve: number[];
  seconds: number;
}

export interface ResultRow {
  cell: string;
  status: CellStatus;
  error: string | null;
  method: string;
  eps255: number;
  norm: string;
  fraction: number;
  payoff: string | null;
  lowerLoss: string | null;
  genSteps: number | null;
  defense: string;
  defenseOptions: Json;
  at: string;
  atEps255: number;
  model: string;
  epochs: number;
  seed: number;
  finalAcc: number | null;
  worstAcc: number | null;
  bestAcc: number | null;
  robustAcc: number | null;
  curve: number[] | null;
  protectDir: string | null;
  generatorRun: string | null;
  linf255: number | null;
  seconds: number | null;
  /** Set when the victim was not trained again: '<experiment>/<cell>' that measured the same victim (--cache). */
  victimFrom?: string;
}

export interface ResultsFile {
  experiment: string;
  title: string;
  figure: string;
  dataset: string;
  trainSize: number;
  createdAt: string;
  /** The command line that ran it (the CLI records it; `gue report` shows it). */
  command?: string;
  versions: Record<string, string | number | boolean>;
  rows: ResultRow[];
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

/** protectRoot: where the protect folders live, relative to the experiment folder ('protect' unless --cache moved them). */
export function rowFor(cell: ResolvedCell, status: CellStatus, error: string | null, protect: ProtectInfo | null, victim: VictimSummary | null, protectRoot = 'protect'): ResultRow {
  const p = cell.protect;
  const gue = p.method === 'gue';
  const vs = cell.victimSpec;
  const at = typeof vs.at === 'string' ? vs.at : 'none';
  const atEps = at === 'none' ? 0 : typeof vs.atEps255 === 'number' ? vs.atEps255 : typeof cell.victim.atEps === 'number' ? cell.victim.atEps * 255 : 0;
  return {
    cell: cell.id,
    status,
    error,
    method: p.method,
    eps255: p.eps255,
    norm: p.norm,
    fraction: gue ? (p.train!.fraction as number) : 1,
    payoff: gue ? (p.train!.payoff as string) : null,
    lowerLoss: gue ? ((p.train!.lowerLoss as string | undefined) ?? 'ce') : null,
    genSteps: protect?.genSteps ?? null,
    defense: typeof vs.defense === 'string' ? vs.defense : 'none',
    defenseOptions: vs.defenseOptions ?? {},
    at,
    atEps255: r2(atEps),
    model: cell.victim.model as string,
    epochs: cell.victim.epochs as number,
    seed: cell.seed,
    finalAcc: victim?.finalAcc ?? null,
    worstAcc: victim?.worstAcc ?? null,
    bestAcc: victim?.bestAcc ?? null,
    robustAcc: victim?.robustAcc ?? null,
    curve: victim?.curve ?? null,
    protectDir: cell.protectHash ? `${protectRoot}/${cell.protectHash}` : null,
    generatorRun: gue && cell.protectHash ? `${protectRoot}/${cell.protectHash}/run` : null,
    linf255: p.method === 'clean' ? 0 : protect?.linf255 ?? null,
    seconds: victim ? Math.round((victim.seconds + (protect?.seconds ?? 0)) * 10) / 10 : null,
  };
}

export function resultsFile(spec: ExperimentSpec, trainSize: number, createdAt: string, versions: Record<string, string | number | boolean>, rows: ResultRow[], command?: string): ResultsFile {
  return { experiment: spec.name, title: spec.title, figure: spec.figure, dataset: spec.dataset.name, trainSize, createdAt, ...(command ? { command } : {}), versions, rows };
}

/** A plain-text table of the rows (for the CLI). */
export function formatTable(rows: ResultRow[]): string {
  const fmt = (x: number | null) => (x === null ? '-' : x.toFixed(2));
  const head = ['cell', 'method', 'model', 'fraction', 'defense', 'at', 'final %', 'worst %', 'best %', 'robust %', 'status'];
  const body = rows.map((r) => [
    r.cell, r.method, r.model, String(r.fraction), r.defense, r.at === 'none' ? 'none' : `${r.at}@${r.atEps255}`,
    fmt(r.finalAcc), fmt(r.worstAcc), fmt(r.bestAcc), fmt(r.robustAcc), r.status === 'failed' ? `failed: ${r.error ?? ''}` : r.status,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
