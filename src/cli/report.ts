// `gue report <runs…> -o report.html`: one static, self-contained HTML page with the paper-style tables and
// figures of experiment folders, gue train run folders and gue evaluate --out folders (src/report).
import type { Command } from './main.js';
import { UsageError } from './args.js';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeFileAtomicSync } from '../io/index.js';

export const reportCommand: Command = {
  spec: {
    name: 'report',
    summary: 'write one static HTML page with tables and plots of experiments, train runs and evaluations',
    usage: 'gue report <experiment|train-run|evaluate-dir>... -o <report.html> [--title T] [--smooth N] [--overwrite]',
    positionals: { name: 'at least one input folder', min: 0, max: Number.MAX_SAFE_INTEGER },
    flags: {
      out: { type: 'string', description: 'the HTML file to write (also -o)' },
      title: { type: 'string', description: 'page title (default: from the inputs)' },
      smooth: { type: 'int', description: 'moving-average window in steps for per-step curves (1 = raw; default about 2 % of the run)', min: 1 },
      overwrite: { type: 'boolean', description: 'replace the output file if it exists' },
    },
  },
  async run({ flags, positionals, out }) {
    // The report stack (Observable Plot, d3, linkedom) loads here, not with every gue command: about half a second.
    const { buildReport, ReportInputError, planItems, shellArg } = await import('../report/index.js');
    // -o is the short form of --out (the flag parser knows only long flags).
    const paths: string[] = [];
    let file = flags.out as string | undefined;
    for (let i = 0; i < positionals.length; i++) {
      const p = positionals[i]!;
      if (p === '-o') {
        const v = positionals[++i];
        if (v === undefined) throw new UsageError('-o needs a value (the HTML file to write)');
        if (file !== undefined && file !== v) throw new UsageError('give the output file once (-o or --out)');
        file = v;
      } else if (p.startsWith('-') && p.length > 1) {
        throw new UsageError(`unknown flag ${p} for 'report'. Run 'gue report --help'.`);
      } else paths.push(p);
    }
    if (file === undefined) throw new UsageError(`-o <report.html> is required. Usage: ${reportCommand.spec.usage}`);
    if (paths.length === 0) throw new UsageError(`give at least one experiment, train-run or evaluate folder. Usage: ${reportCommand.spec.usage}`);
    const target = resolve(file);
    if (existsSync(target) && statSync(target).isDirectory()) throw new UsageError(`${file} is a folder; -o takes the HTML file to write`);
    if (existsSync(target) && flags.overwrite !== true) throw new UsageError(`${file} already exists; pass --overwrite to replace it`);
    if (!existsSync(dirname(target))) throw new UsageError(`${dirname(file)}: no such folder for the output file`);
    const command = ['gue', 'report', ...paths.map(shellArg), '-o', shellArg(file), ...(flags.title !== undefined ? ['--title', shellArg(flags.title as string)] : []), ...(flags.smooth !== undefined ? ['--smooth', String(flags.smooth)] : [])].join(' ');
    let built;
    try {
      built = buildReport(paths, { title: flags.title as string | undefined, smooth: flags.smooth as number | undefined, command });
    } catch (e) {
      if (e instanceof ReportInputError) throw new UsageError(e.message);
      throw e;
    }
    writeFileAtomicSync(target, built.html);
    const items = planItems(built.plan);
    const charts = items.filter((i) => i.kind === 'line').length;
    const tables = items.filter((i) => i.kind === 'table').length;
    const bytes = Buffer.byteLength(built.html, 'utf8');
    out.result(
      { report: file, bytes, sections: built.plan.sections.map((s) => ({ id: s.id, kind: s.kind, title: s.title })), charts, tables, inputs: built.plan.inputs },
      `wrote ${file} (${(bytes / 1024).toFixed(1)} KB): ${built.plan.sections.length} section(s), ${charts} chart(s), ${tables} table(s) from ${built.plan.inputs.length} input(s)`,
    );
    return 0;
  },
};
