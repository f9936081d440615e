// Runs an experiment: for each cell, the protect stage (cached per protect config under <out>/protect/<hash>/,
// shared by every cell with the same config; a GUE generator run resumes from its checkpoint), then the victim
// stage (<out>/cells/<id>/). Finished cells are skipped, failed cells are recorded and the rest go on, and
// <out>/results.json is rewritten atomically after every cell.
//   <out>/experiment.json             the experiment as resolved (spec + cells)
//   <out>/protect/<hash>/protect.json what made the protected data, measured L∞, seconds (written last: the marker)
//   <out>/protect/<hash>/data/        the protected training set (saveDataset)
//   <out>/protect/<hash>/run/         GUE only: the generator run folder (trainGenerator; resumable)
//   <out>/cells/<id>/cell.json        the cell's resolved config;  result.json when done;  error.json when failed
//   <cache>/victims/<key>.json        a victim's measurement, keyed by the dataset, the protect hash, the resolved
//                                     victim config, the seed and the device kind: a cell of another experiment
//                                     (or of this one) with the same key reuses it instead of training it again
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { type ImageDataset, isStoredDataset, loadDataset, saveDataset, numBatches } from '../data/index.js';
import { trainGenerator, loadGenerator } from '../game/index.js';
import { poisonDataset, generatorPerturbation, runAttack } from '../attacks/index.js';
import { trainVictim } from '../victim/index.js';
import { writeJsonAtomicSync } from '../io/index.js';
import { scope } from '../engine/index.js';
import { silent, type EventSink } from '../util/events.js';
import { versions } from '../util/versions.js';
import { expandCells, matchGlob, shortHash, type ResolvedCell } from './cells.js';
import { loadExperimentData } from './data.js';
import { resultsFile, rowFor, type ProtectInfo, type ResultRow, type ResultsFile, type VictimSummary } from './results.js';
import { ExperimentError, type ExperimentSpec } from './schema.js';

export interface RunExperimentOptions {
  /** Output folder (default runs/experiments/<name>). */
  out?: string;
  /** Only cells whose id matches this glob (* and ?). */
  only?: string;
  device?: string;
  onEvent?: EventSink;
  /**
   * Folder of the protect stages (default <out>/protect). Experiments given the same cache share their protected
   * data: a GUE generator with the same config and dataset is trained once for all of them.
   */
  cache?: string;
  /** The command line, recorded in results.json. */
  command?: string;
  /** In-memory data instead of loading spec.dataset (tests, library users). */
  data?: { train: ImageDataset; test: ImageDataset };
}

export interface CellPlan {
  cell: ResolvedCell;
  selected: boolean;
  status: 'done' | 'pending' | 'failed';
  error: string | null;
  protectCached: boolean;
  /** A cell not done whose victim was measured before with the same key: '<experiment>/<cell>' that measured it. */
  victimFrom: string | null;
}

export interface ExperimentPlan {
  out: string;
  cells: CellPlan[];
  problems: string[];
}

export interface ExperimentSummary {
  out: string;
  results: ResultsFile;
  ran: string[];
  skipped: string[];
  failed: string[];
  /** Cells whose victim was measured before (the victim cache): counted in ran too. */
  victimsReused: string[];
  /** Protect hashes computed (or resumed) in this call, and those reused from the cache. */
  protectMade: string[];
  protectReused: string[];
}

export function defaultOut(spec: ExperimentSpec): string {
  return join('runs', 'experiments', spec.name);
}

// The victim trains with the cell's seed (trainVictim below); the written records say so. The hash keeps the
// resolved victim options as they were, so finished cells stay finished.
const victimAsRun = (c: ResolvedCell): Record<string, unknown> => ({ ...(c.victim as Record<string, unknown>), seed: c.seed });
const configHash = (c: ResolvedCell): string => shortHash({ id: c.id, seed: c.seed, protect: c.protect, protectHash: c.protectHash, victim: c.victim });

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

interface CellResultFile {
  configHash: string;
  row: ResultRow;
}

function cellState(out: string, c: ResolvedCell): { status: 'done' | 'pending' | 'failed'; error: string | null; result: CellResultFile | null } {
  const dir = join(out, 'cells', c.id);
  const res = readJson<CellResultFile>(join(dir, 'result.json'));
  if (res && res.configHash === configHash(c)) return { status: 'done', error: null, result: res };
  const err = readJson<{ configHash: string; error: string }>(join(dir, 'error.json'));
  if (err && err.configHash === configHash(c)) return { status: 'failed', error: err.error, result: null };
  return { status: 'pending', error: null, result: null };
}

/** The protect stages' folder, and the same folder relative to the experiment folder (as results.json records it). */
export function protectRoot(out: string, cache: string | undefined): { root: string; rel: string } {
  const root = cache ?? join(out, 'protect');
  return { root, rel: relative(out, root).split(sep).join('/') || '.' };
}

/** What made a protect stage (protect.json), whether or not its data is kept. */
function protectInfo(root: string, hash: string): ProtectInfo | null {
  return readJson<ProtectInfo>(join(root, hash, 'protect.json'));
}

export function protectDone(root: string, hash: string): ProtectInfo | null {
  const info = protectInfo(root, hash);
  return info && isStoredDataset(join(root, hash, 'data')) ? info : null;
}

/** Every cell's row as the files under <out> say (result.json / error.json, written by this process or another). */
function rowsOnDisk(out: string, cells: ResolvedCell[], root: string, rel: string): ResultRow[] {
  return cells.map((c) => {
    const st = cellState(out, c);
    if (st.result) return st.result.row;
    return rowFor(c, st.status, st.error, c.protectHash ? protectDone(root, c.protectHash) : null, null, rel);
  });
}

/**
 * The key of a victim measurement. Same dataset (name, sizes, folder), same protected training set (protect hash;
 * null = clean), same resolved victim config and seed, and same kind of device: on the CPU the result is the same
 * number to the last digit, so a cell of another experiment (Table 2's small-CNN row is Table 1's cell) reuses it.
 */
function victimKey(spec: ExperimentSpec, c: ResolvedCell, device: string): string {
  const d = spec.dataset;
  return shortHash({
    dataset: { name: d.name, trainSize: d.trainSize ?? 0, testSize: d.testSize ?? 0, dataDir: d.dataDir ?? null },
    protectHash: c.protectHash, victim: c.victim, seed: c.seed, device: device.split(':')[0],
  });
}

interface VictimCacheEntry {
  key: string;
  /** '<experiment>/<cell>' that measured it. */
  measuredBy: string;
  victim: VictimSummary;
}

const victimFile = (root: string, key: string): string => join(root, 'victims', `${key}.json`);

function victimCached(root: string, key: string): VictimCacheEntry | null {
  const e = readJson<VictimCacheEntry>(victimFile(root, key));
  return e && e.key === key && typeof e.victim?.finalAcc === 'number' && Array.isArray(e.victim.curve) ? e : null;
}

function keepVictim(root: string, key: string, measuredBy: string, victim: VictimSummary): void {
  mkdirSync(join(root, 'victims'), { recursive: true });
  writeJsonAtomicSync(victimFile(root, key), { key, measuredBy, victim, versions: versions() });
}

/** What would run: every cell's state, whether its protected data is cached, and the problems. */
export function planExperiment(spec: ExperimentSpec, o: RunExperimentOptions = {}): ExperimentPlan {
  const out = o.out ?? defaultOut(spec);
  const cells = expandCells(spec);
  const { root } = protectRoot(out, o.cache);
  const device = o.device ?? spec.device ?? 'cpu';
  if (o.only !== undefined && !cells.some((c) => matchGlob(o.only!, c.id))) {
    throw new ExperimentError(`--only '${o.only}' matches no cell; cells: ${cells.map((c) => c.id).join(', ')}`);
  }
  const plans = cells.map((cell): CellPlan => {
    const st = cellState(out, cell);
    return {
      cell, selected: o.only === undefined || matchGlob(o.only, cell.id), status: st.status, error: st.error,
      protectCached: cell.protectHash === null || protectDone(root, cell.protectHash) !== null,
      victimFrom: st.status === 'done' || o.data ? null : victimCached(root, victimKey(spec, cell, device))?.measuredBy ?? null,
    };
  });
  const problems = plans.filter((p) => p.selected).flatMap((p) => p.cell.problems);
  return { out, cells: plans, problems: [...new Set(problems)] };
}

/** Makes (or loads from the cache) the protected training set of a cell. */
function protectStage(root: string, rel: string, c: ResolvedCell, train: ImageDataset, device: string, sink: EventSink, made: Set<string>, reused: Set<string>): { ds: ImageDataset; info: ProtectInfo | null } {
  const p = c.protect;
  if (p.method === 'clean' || c.protectHash === null) return { ds: train, info: null };
  const hash = c.protectHash;
  const dir = join(root, hash);
  const cached = protectDone(root, hash);
  if (cached) {
    reused.add(hash);
    sink({ type: 'log', level: 'info', message: `  protect ${p.method} [${hash}]: cached` });
    return { ds: loadDataset(join(dir, 'data')).ds, info: cached };
  }
  made.add(hash);
  mkdirSync(dir, { recursive: true });
  writeJsonAtomicSync(join(dir, 'config.json'), { hash, protect: p, dataset: train.source });
  const t0 = Date.now();
  const eps = p.eps255 / 255;
  let dataset: ImageDataset;
  let report: { linf255: number; meanAbs255: number; changed: number };
  let genSteps: number | null = null;
  let meta: Record<string, unknown> = {};
  if (p.method === 'gue') {
    const runDir = join(dir, 'run');
    const ck = join(runDir, 'checkpoint.json');
    const opts = { ...(p.train as Record<string, unknown>), eps, device, checkpointEvery: (p.train!.checkpointEvery as number | undefined) ?? 300 };
    const gen = Math.max(1, Math.round(train.labels.length * (p.train!.fraction as number)));
    const total = numBatches(gen, { batchSize: p.train!.batchSize as number }) * (p.train!.epochs as number);
    const cap = p.steps && p.steps > 0 ? Math.min(p.steps, total) : total;
    // A finished generator kept without its checkpoint (e.g. committed to share a cache between machines: the
    // generator is 2 MB, the protected data and the checkpoint are not kept) is used as it is.
    const resume = existsSync(ck);
    const keptSteps = resume ? null : readJson<{ meta?: { steps?: number } }>(join(runDir, 'generator.json'))?.meta?.steps ?? null;
    const finished = keptSteps !== null && keptSteps >= cap;
    // A run killed before its first checkpoint has nothing to resume: start it again.
    if (!resume && !finished && existsSync(runDir) && readdirSync(runDir).length > 0) rmSync(runDir, { recursive: true, force: true });
    const done = finished ? cap : resume ? (readJson<{ meta: { step: number } }>(ck)?.meta.step ?? 0) : 0;
    if (finished) sink({ type: 'log', level: 'info', message: `  protect gue [${hash}]: using the finished generator in ${runDir}` });
    if (done < cap) {
      sink({ type: 'log', level: 'info', message: `  protect gue [${hash}]: ${resume ? `resuming the generator at step ${done}` : 'training a generator'} (${cap} outer steps)` });
      trainGenerator(train, { ...opts, maxSteps: cap - done }, runDir, resume, sink);
    }
    genSteps = finished ? keptSteps : readJson<{ meta: { step: number } }>(ck)?.meta.step ?? cap;
    const { gen: g, meta: gm } = loadGenerator(join(runDir, 'generator'), device);
    try {
      sink({ type: 'log', level: 'info', message: `  protect gue [${hash}]: protecting ${train.labels.length} images` });
      ({ dataset, report } = poisonDataset(train, generatorPerturbation(g, gm.eps), { eps, quantization: p.quantization, batchSize: p.poisonBatchSize, device }, sink, 'protect'));
    } finally {
      g.dispose();
    }
    meta = { generatorSteps: genSteps };
  } else {
    sink({ type: 'log', level: 'info', message: `  protect ${p.method} [${hash}]: running the attack` });
    const r = runAttack(p.method, train, { eps, norm: p.norm, seed: p.seed, device, quantization: p.quantization, batchSize: p.poisonBatchSize, options: p.options, onEvent: sink, task: p.method });
    dataset = r.dataset;
    report = r.report;
    meta = { options: r.options, ...r.meta };
  }
  const info: ProtectInfo = {
    hash, method: p.method, linf255: report.linf255, meanAbs255: report.meanAbs255, changed: report.changed, genSteps,
    seconds: (Date.now() - t0) / 1000, generatorRun: p.method === 'gue' ? `${rel}/${hash}/run` : null, meta,
  };
  saveDataset(join(dir, 'data'), dataset, { attack: p.method, eps255: p.eps255, protect: p, ...info, versions: versions() }, true);
  writeJsonAtomicSync(join(dir, 'protect.json'), { ...info, protect: p, versions: versions() });
  return { ds: dataset, info };
}

function victimStage(c: ResolvedCell, train: ImageDataset, test: ImageDataset, device: string, sink: EventSink): VictimSummary {
  const t0 = Date.now();
  const r = trainVictim(train, test, { ...(c.victim as Record<string, unknown>), seed: c.seed, device } as never, sink, `cell ${c.id}`);
  const any = r as unknown as Record<string, unknown>;
  const robust = [any.robustTestAcc, any.finalRobustAcc, any.robustAcc].find((v) => typeof v === 'number') as number | undefined;
  return {
    finalAcc: r.finalTestAcc, worstAcc: r.worstTestAcc, bestAcc: r.bestTestAcc, robustAcc: robust ?? null,
    curve: r.epochs.map((e) => e.testAcc), seconds: (Date.now() - t0) / 1000,
  };
}

/** Runs every selected cell that is not done. Throws ExperimentError before any work if a selected cell has problems. */
export function runExperiment(spec: ExperimentSpec, o: RunExperimentOptions = {}): ExperimentSummary {
  const sink = o.onEvent ?? silent;
  const device = o.device ?? spec.device ?? 'cpu';
  const plan = planExperiment(spec, o);
  if (plan.problems.length > 0) throw new ExperimentError(`${spec.name}: cannot run:\n  ${plan.problems.join('\n  ')}`);
  const out = plan.out;
  const { root, rel } = protectRoot(out, o.cache);
  mkdirSync(join(out, 'cells'), { recursive: true });
  const { train, test } = o.data ?? loadExperimentData(spec.dataset);
  const prev = readJson<ResultsFile>(join(out, 'results.json'));
  const createdAt = prev?.experiment === spec.name ? prev.createdAt : new Date().toISOString();
  writeJsonAtomicSync(join(out, 'experiment.json'), { spec, cells: plan.cells.map((p) => ({ id: p.cell.id, seed: p.cell.seed, protect: p.cell.protect, protectHash: p.cell.protectHash, victim: victimAsRun(p.cell) })) });

  const cells = plan.cells.map((p) => p.cell);
  // The rows are read back from the cells' files at every write, so they include the cells that another process (a
  // parallel --only run, a --jobs worker) finished since this one started.
  let rows = rowsOnDisk(out, cells, root, rel);
  const write = () => {
    rows = rowsOnDisk(out, cells, root, rel);
    writeJsonAtomicSync(join(out, 'results.json'), resultsFile(spec, train.labels.length, createdAt, versions(), rows, o.command));
  };
  write();

  const ran: string[] = [];
  const skipped: string[] = [];
  const failed: string[] = [];
  const victimsReused: string[] = [];
  const made = new Set<string>();
  const reused = new Set<string>();
  // Cells done before the victim cache existed seed it (all of them, not only the selected ones).
  if (!o.data) {
    for (const p of plan.cells) {
      const r = rows[p.cell.index]!;
      const key = victimKey(spec, p.cell, device);
      if (r.status !== 'done' || victimCached(root, key) || r.finalAcc === null || r.worstAcc === null || r.bestAcc === null || !r.curve) continue;
      const protectSeconds = p.cell.protectHash ? protectInfo(root, p.cell.protectHash)?.seconds ?? 0 : 0;
      keepVictim(root, key, r.victimFrom ?? `${spec.name}/${p.cell.id}`, {
        finalAcc: r.finalAcc, worstAcc: r.worstAcc, bestAcc: r.bestAcc, robustAcc: r.robustAcc, curve: r.curve,
        seconds: Math.max(0, Math.round(((r.seconds ?? 0) - protectSeconds) * 10) / 10),
      });
    }
  }
  const todo = plan.cells.filter((p) => p.selected);
  // The protected data of the previous cell stays in memory for the next one with the same hash.
  let last: { hash: string; ds: ImageDataset; info: ProtectInfo } | null = null;
  todo.forEach((p, k) => {
    const c = p.cell;
    const tag = `[${k + 1}/${todo.length}] cell ${c.id}`;
    const key = o.data ? null : victimKey(spec, c, device);
    // Read now: another process may have finished the cell since this one started (two runs with overlapping --only).
    if (cellState(out, c).result) {
      skipped.push(c.id);
      sink({ type: 'log', level: 'info', message: `${tag}: done (skipped)` });
      return;
    }
    sink({ type: 'log', level: 'info', message: `${tag}: ${c.protect.method} → ${c.victim.model as string}, ${c.victim.epochs as number} epochs` });
    const dir = join(out, 'cells', c.id);
    mkdirSync(dir, { recursive: true });
    rmSync(join(dir, 'error.json'), { force: true });
    writeJsonAtomicSync(join(dir, 'cell.json'), { id: c.id, configHash: configHash(c), seed: c.seed, protect: c.protect, protectHash: c.protectHash, victim: victimAsRun(c), dataset: spec.dataset });
    try {
      const kept = key ? victimCached(root, key) : null;
      if (kept) {
        // The same measurement exists: the protected data is not needed. The protect info comes from protect.json,
        // which stays when the data is not kept.
        const info = c.protectHash ? protectInfo(root, c.protectHash) : null;
        const row = { ...rowFor(c, 'done', null, info, kept.victim, rel), victimFrom: kept.measuredBy };
        writeJsonAtomicSync(join(dir, 'result.json'), { configHash: configHash(c), row, versions: versions() });
        ran.push(c.id);
        victimsReused.push(c.id);
        sink({ type: 'log', level: 'info', message: `${tag}: the same victim was measured by ${kept.measuredBy}: clean test accuracy ${kept.victim.finalAcc.toFixed(2)} % (worst ${kept.victim.worstAcc.toFixed(2)}), reused` });
        write();
        return;
      }
      let ds: ImageDataset;
      let info: ProtectInfo | null;
      if (last && c.protectHash === last.hash) {
        ({ ds, info } = last);
        reused.add(last.hash);
      } else {
        // scope(): frees whatever the stages leave behind (e.g. index tensors of their batch loops).
        ({ ds, info } = scope(() => protectStage(root, rel, c, train, device, sink, made, reused)));
        last = info && c.protectHash ? { hash: c.protectHash, ds, info } : last;
      }
      const v = scope(() => victimStage(c, ds, test, device, sink));
      const row = rowFor(c, 'done', null, info, v, rel);
      writeJsonAtomicSync(join(dir, 'result.json'), { configHash: configHash(c), row, versions: versions() });
      if (key) keepVictim(root, key, `${spec.name}/${c.id}`, v);
      ran.push(c.id);
      sink({ type: 'log', level: 'info', message: `${tag}: clean test accuracy ${v.finalAcc.toFixed(2)} % (worst ${v.worstAcc.toFixed(2)}, best ${v.bestAcc.toFixed(2)})` });
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      writeJsonAtomicSync(join(dir, 'error.json'), { configHash: configHash(c), error: msg, at: new Date().toISOString() });
      failed.push(c.id);
      sink({ type: 'log', level: 'warn', message: `${tag} failed: ${msg}` });
    }
    write();
  });
  return { out, results: resultsFile(spec, train.labels.length, createdAt, versions(), rows, o.command), ran, skipped, failed, victimsReused, protectMade: [...made], protectReused: [...reused] };
}


/**
 * Rewrites <out>/results.json from the cells' own result/error files: after several processes ran cells of the same
 * experiment (gue experiment --jobs N), each of which wrote results.json as it saw it. Returns null when no process
 * has written results.json yet (its dataset size comes from there).
 */
export function refreshResults(spec: ExperimentSpec, o: Pick<RunExperimentOptions, 'out' | 'cache' | 'command'> = {}): ResultsFile | null {
  const out = o.out ?? defaultOut(spec);
  const prev = readJson<ResultsFile>(join(out, 'results.json'));
  if (!prev) return null;
  const { root, rel } = protectRoot(out, o.cache);
  const rows = rowsOnDisk(out, expandCells(spec), root, rel);
  const res = resultsFile(spec, prev.trainSize, prev.experiment === spec.name ? prev.createdAt : new Date().toISOString(), versions(), rows, o.command ?? prev.command);
  writeJsonAtomicSync(join(out, 'results.json'), res);
  return res;
}
