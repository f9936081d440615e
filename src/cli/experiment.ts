// `gue experiment <file|preset>`: runs a grid of protect → victim cells declared in a JSON/YAML file
// (docs/experiments.md), resumably, and prints one results table. Presets: presets/<group>/<name>.yaml.
import type { Command } from './main.js';
import { UsageError } from './args.js';
import { DEVICE_FLAG } from './common.js';
import { shellArg } from '../util/shell.js';
import { runParallel, type ParallelSummary } from './experiment-jobs.js';
import {
  ExperimentError, formatTable, listPresets, loadExperimentFile, planExperiment, resolveExperimentPath, runExperiment, type ExperimentSpec,
} from '../experiment/index.js';

/** The command line as results.json records it: the whole experiment, so without --only, --jobs and --json. */
function withoutRunFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') continue;
    if (a === '--only' || a === '--jobs') { i++; continue; }
    if (a.startsWith('--only=') || a.startsWith('--jobs=')) continue;
    out.push(a);
  }
  return out;
}

export const experimentCommand: Command = {
  spec: {
    name: 'experiment',
    summary: 'run a grid of protect → victim cells from a JSON/YAML file or a preset (cpu/table1, paper/fig3, ...); resumable',
    usage: 'gue experiment <file|preset> [--out dir] [--cache dir] [--only <cell-glob>] [--jobs N] [--dry-run] [--device cpu] [--json] | gue experiment --list-presets',
    positionals: { name: 'an experiment file or preset name', min: 0, max: 1 },
    flags: {
      out: { type: 'string', description: 'output folder (default runs/experiments/<name>)' },
      only: { type: 'string', description: 'run only the cells whose id matches this glob (* and ?)' },
      cache: { type: 'string', description: 'folder of the protect stages (default <out>/protect); experiments given the same --cache share their protected data and GUE generators' },
      jobs: { type: 'int', description: 'run cells in N worker processes (GUE_NUM_THREADS = cores / N each); on 2 cores, 2 keeps both busy', min: 1, default: 1 },
      'dry-run': { type: 'boolean', description: 'list the cells, what is done and what is cached; run nothing' },
      'list-presets': { type: 'boolean', description: 'list the shipped presets' },
      'train-size': { type: 'int', description: "override the file's dataset.trainSize (first N training images; 0 = all)", min: 0 },
      'test-size': { type: 'int', description: "override the file's dataset.testSize (first N test images; 0 = all)", min: 0 },
      'data-dir': { type: 'string', description: "override the file's dataset.dataDir" },
      ...DEVICE_FLAG,
    },
  },
  async run({ flags, positionals, given, argv, out }) {
    if (flags['list-presets'] === true) {
      const presets = listPresets();
      out.result({ presets: presets.map((p) => ({ name: p.name, path: p.path, summary: p.summary })) }, presets.map((p) => `${p.name.padEnd(18)}${p.summary}`).join('\n') || 'no presets found');
      return 0;
    }
    const arg = positionals[0];
    if (arg === undefined) throw new UsageError("'experiment' needs an experiment file or a preset name (gue experiment --list-presets lists them)");
    const path = resolveExperimentPath(arg);
    if (path === null) throw new UsageError(`'${arg}' is neither a file nor a preset; presets: ${listPresets().map((p) => p.name).join(', ')}`);
    let spec: ExperimentSpec;
    try {
      spec = loadExperimentFile(path);
    } catch (e) {
      if (e instanceof ExperimentError) throw new UsageError(e.message);
      throw e;
    }
    if (given.has('train-size')) spec.dataset.trainSize = flags['train-size'] as number;
    if (given.has('test-size')) spec.dataset.testSize = flags['test-size'] as number;
    if (given.has('data-dir')) spec.dataset.dataDir = flags['data-dir'] as string;
    const opts = {
      out: flags.out as string | undefined,
      only: flags.only as string | undefined,
      cache: flags.cache as string | undefined,
      command: ['gue', 'experiment', ...withoutRunFlags(argv)].map(shellArg).join(' '),
      device: given.has('device') ? (flags.device as string) : spec.device ?? 'cpu',
      onEvent: out.sink,
    };
    let plan;
    try {
      plan = planExperiment(spec, opts);
    } catch (e) {
      if (e instanceof ExperimentError) throw new UsageError(e.message);
      throw e;
    }
    if (flags['dry-run'] === true) {
      const cells = plan.cells.map((p) => ({
        cell: p.cell.id, selected: p.selected, status: p.status, error: p.error, method: p.cell.protect.method, protectDir: p.cell.protectHash ? `${opts.cache ?? 'protect'}/${p.cell.protectHash}` : null,
        protectCached: p.protectCached, victimFrom: p.victimFrom, model: p.cell.victim.model, epochs: p.cell.victim.epochs, seed: p.cell.seed, problems: p.cell.problems,
      }));
      const lines = [`${spec.name}: ${spec.title} (${spec.figure}; ${spec.dataset.name}${spec.dataset.trainSize ? `, first ${spec.dataset.trainSize} training images` : ''}) → ${plan.out}`];
      const w = Math.max(4, ...cells.map((c) => c.cell.length));
      lines.push(`${'cell'.padEnd(w)}  ${'status'.padEnd(8)}  protect`);
      for (const c of cells) {
        if (!c.selected) continue;
        const prot = c.protectDir === null ? 'none' : `${c.method} ${c.protectDir} ${c.protectCached ? '(cached)' : c.status === 'done' ? '(not kept; the cell is done)' : '(to make)'}`;
        lines.push(`${c.cell.padEnd(w)}  ${c.status.padEnd(8)}  ${prot}${c.victimFrom ? `; victim measured by ${c.victimFrom}, reused` : ''}`);
      }
      const sel = cells.filter((c) => c.selected);
      const protects = new Set(sel.filter((c) => c.status !== 'done' && !c.victimFrom && c.protectDir && !c.protectCached).map((c) => c.protectDir));
      const reuse = sel.filter((c) => c.status !== 'done' && c.victimFrom).length;
      lines.push(`${sel.length} cells: ${sel.filter((c) => c.status === 'done').length} done, ${sel.filter((c) => c.status !== 'done').length} to run${reuse ? ` (${reuse} reuse a measured victim)` : ''}; ${protects.size} protected datasets to make`);
      if (plan.problems.length) lines.push('problems (the run would refuse to start):', ...plan.problems.map((p) => `  ${p}`));
      out.result({ experiment: spec.name, out: plan.out, cells, problems: plan.problems }, lines.join('\n'));
      return plan.problems.length ? 2 : 0;
    }
    if (plan.problems.length) throw new UsageError(`${spec.name}: cannot run:\n  ${plan.problems.join('\n  ')}`);
    const jobs = flags.jobs as number;
    let s: ParallelSummary;
    if (jobs > 1) {
      const workerFlags = (['train-size', 'test-size', 'data-dir'] as const).flatMap((k) => (given.has(k) ? [`--${k}`, String(flags[k])] : []));
      s = await runParallel({ spec, plan, experiment: arg, workerFlags, cache: opts.cache, device: opts.device, jobs, command: opts.command, sink: out.sink });
    } else {
      s = runExperiment(spec, opts);
    }
    // The table shows the cells this call selected (every cell without --only).
    const mine = new Set([...s.ran, ...s.skipped, ...s.failed]);
    out.result(
      { ...(s.results ?? {}), out: plan.out, ran: s.ran, victimsReused: s.victimsReused, skipped: s.skipped, failed: s.failed } as unknown as Record<string, unknown>,
      `${spec.title}\n${formatTable((s.results?.rows ?? []).filter((r) => mine.has(r.cell)))}\n` +
        `results: ${plan.out}/results.json (${s.ran.length} ran${s.victimsReused.length ? `, ${s.victimsReused.length} of them reusing a measured victim` : ''}, ${s.skipped.length} already done, ${s.failed.length} failed)`,
    );
    return s.failed.length > 0 ? 1 : 0;
  },
};
