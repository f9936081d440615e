// `gue experiment --jobs N`: runs the pending cells of an experiment in N worker processes, each a
// `gue experiment … --only <cell> --json` with its own libtorch threads (GUE_NUM_THREADS = cores / N unless set).
// Small models parallelise poorly inside one process; one-thread workers keep every core busy. A cell whose protected data does not exist yet is the only one of its protect hash to run until that data
// is made; then the others of the hash run in parallel on the cached data. Each worker's output goes to
// <out>/cells/<id>/worker.log; at the end results.json is rewritten from the cells' own files.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { protectDone, protectRoot, refreshResults, type CellPlan, type ExperimentPlan, type ExperimentSpec, type ResultsFile } from '../experiment/index.js';
import type { EventSink } from '../util/events.js';

const GUE_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'gue.js');

export interface ParallelOptions {
  spec: ExperimentSpec;
  plan: ExperimentPlan;
  /** What the workers run: the experiment file or preset name as given. */
  experiment: string;
  /** Extra flags for every worker (dataset overrides). */
  workerFlags: string[];
  cache: string | undefined;
  device: string;
  jobs: number;
  command: string;
  sink: EventSink;
}

export interface ParallelSummary {
  results: ResultsFile | null;
  ran: string[];
  victimsReused: string[];
  skipped: string[];
  failed: string[];
}

interface WorkerEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  last: Record<string, unknown> | null;
}

function startWorker(o: ParallelOptions, id: string, threads: string): { child: ChildProcess; done: Promise<WorkerEnd> } {
  const out = o.plan.out;
  const dir = join(out, 'cells', id);
  mkdirSync(dir, { recursive: true });
  const log = createWriteStream(join(dir, 'worker.log'));
  const args = [GUE_BIN, 'experiment', o.experiment, '--out', out, ...(o.cache ? ['--cache', o.cache] : []), '--device', o.device, ...o.workerFlags, '--only', id, '--json'];
  const child = spawn(process.execPath, args, { env: { ...process.env, GUE_NUM_THREADS: threads }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  child.stdout!.on('data', (b: Buffer) => {
    log.write(b);
    tail = (tail + b.toString('utf8')).slice(-65536);
  });
  child.stderr!.on('data', (b: Buffer) => log.write(b));
  const done = new Promise<WorkerEnd>((resolve) => {
    // A worker that cannot start (no node binary, no memory for a process) ends the cell as failed.
    let ended = false;
    child.on('error', (e) => {
      if (ended) return;
      ended = true;
      log.end(`\ngue experiment --jobs: the worker did not start: ${e.message}\n`);
      resolve({ code: null, signal: null, last: null });
    });
    child.on('close', (code, signal) => {
      if (ended) return;
      ended = true;
      log.end();
      const lines = tail.trim().split('\n');
      let last: Record<string, unknown> | null = null;
      try {
        last = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
      } catch {
        last = null;
      }
      resolve({ code, signal, last });
    });
  });
  return { child, done };
}

/** Runs the plan's selected, not-done cells in `jobs` worker processes. */
export async function runParallel(o: ParallelOptions): Promise<ParallelSummary> {
  const { root } = protectRoot(o.plan.out, o.cache);
  const threads = process.env.GUE_NUM_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / o.jobs)));
  const selected = o.plan.cells.filter((p) => p.selected);
  const skipped = selected.filter((p) => p.status === 'done').map((p) => p.cell.id);
  const queue: CellPlan[] = selected.filter((p) => p.status !== 'done');
  const total = queue.length;
  const making = new Set<string>();
  const running = new Map<string, { child: ChildProcess; done: Promise<{ id: string; end: WorkerEnd }> }>();
  const ran: string[] = [];
  const reused: string[] = [];
  const failed: string[] = [];
  let started = 0;
  let interrupted = false;
  const stopAll = () => {
    interrupted = true;
    for (const w of running.values()) w.child.kill('SIGTERM');
  };
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  try {
    o.sink({ type: 'log', level: 'info', message: `${o.spec.name}: ${total} cells to run in ${o.jobs} worker processes (${threads} libtorch thread${threads === '1' ? '' : 's'} each); logs in ${join(o.plan.out, 'cells', '<cell>', 'worker.log')}` });
    for (;;) {
      // Start what can start: a cell whose protected data is cached, clean, reused from a measured victim, or the
      // first of its protect hash (it makes the data; the others of the hash wait for it).
      while (!interrupted && running.size < o.jobs) {
        const k = queue.findIndex((p) => p.cell.protectHash === null || p.victimFrom !== null || !making.has(p.cell.protectHash));
        if (k < 0) break;
        const p = queue.splice(k, 1)[0]!;
        const hash = p.cell.protectHash;
        const makes = hash !== null && p.victimFrom === null && protectDone(root, hash) === null;
        if (makes) making.add(hash);
        started++;
        o.sink({ type: 'log', level: 'info', message: `[${started}/${total}] cell ${p.cell.id}: started${makes ? ` (makes protect ${hash})` : ''}` });
        const w = startWorker(o, p.cell.id, threads);
        running.set(p.cell.id, {
          child: w.child,
          done: w.done.then((end) => {
            if (makes) making.delete(hash);
            return { id: p.cell.id, end };
          }),
        });
      }
      if (running.size === 0) break;
      const { id, end } = await Promise.race([...running.values()].map((w) => w.done));
      running.delete(id);
      const last = end.last as { ran?: string[]; victimsReused?: string[]; rows?: { cell: string; finalAcc: number | null; worstAcc: number | null; error: string | null }[] } | null;
      const row = last?.rows?.find((r) => r.cell === id);
      if (end.code === 0 && last?.ran?.includes(id) && row && row.finalAcc !== null) {
        ran.push(id);
        if (last.victimsReused?.includes(id)) reused.push(id);
        o.sink({ type: 'log', level: 'info', message: `cell ${id}: clean test accuracy ${row.finalAcc.toFixed(2)} % (worst ${row.worstAcc?.toFixed(2) ?? '-'})${last.victimsReused?.includes(id) ? ', a measured victim reused' : ''}` });
      } else {
        failed.push(id);
        const why = row?.error ?? (end.signal ? `worker killed by ${end.signal}` : `worker exit ${end.code ?? '?'}`);
        o.sink({ type: 'log', level: 'warn', message: `cell ${id} failed: ${why} (see ${join(o.plan.out, 'cells', id, 'worker.log')})` });
      }
    }
  } finally {
    process.removeListener('SIGINT', stopAll);
    process.removeListener('SIGTERM', stopAll);
  }
  const results = refreshResults(o.spec, { out: o.plan.out, cache: o.cache, command: o.command });
  if (interrupted) failed.push(...queue.map((p) => p.cell.id));
  return { results, ran, victimsReused: reused, skipped, failed };
}
