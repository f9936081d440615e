// A small, strict flag parser: every flag is declared with a type; unknown flags and bad values are
// usage errors (exit 2, no stack trace).
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagType = 'string' | 'int' | 'number' | 'boolean' | 'list';

export interface FlagSpec {
  type: FlagType;
  description: string;
  default?: string | number | boolean;
  /** For number/int: inclusive bounds. */
  min?: number;
  max?: number;
  choices?: readonly string[];
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  /** Max positional arguments (default 0). */
  positionals?: { name: string; min: number; max: number };
}

export const COMMON_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'boolean', description: 'machine-readable output: JSON lines, the last one is the result' },
  help: { type: 'boolean', description: 'show this help' },
};

export function parseFlags(spec: CommandSpec, argv: string[]): { flags: FlagValues; positionals: string[]; given: Set<string> } {
  const all = { ...COMMON_FLAGS, ...spec.flags };
  const flags: FlagValues = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let negated = false;
    if (!(name in all) && name.startsWith('no-') && all[name.slice(3)]?.type === 'boolean') {
      negated = true;
      name = name.slice(3);
    }
    const f = all[name];
    if (!f) throw new UsageError(`unknown flag --${name} for '${spec.name}'. Run 'gue ${spec.name} --help'.`);
    if (f.type === 'boolean') {
      if (value !== undefined && !['true', 'false', '1', '0'].includes(value)) throw new UsageError(`--${name} takes no value (or true/false)`);
      flags[name] = negated ? false : value === undefined ? true : value === 'true' || value === '1';
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    flags[name] = convert(name, f, value);
  }
  const given = new Set(Object.keys(flags));
  for (const [name, f] of Object.entries(all)) {
    if (flags[name] === undefined && f.default !== undefined) flags[name] = f.default;
  }
  const p = spec.positionals ?? { name: '', min: 0, max: 0 };
  if (positionals.length < p.min) throw new UsageError(`'${spec.name}' needs ${p.name}. Usage: ${spec.usage}`);
  if (positionals.length > p.max) throw new UsageError(`unexpected argument '${positionals[p.max]}'. Usage: ${spec.usage}`);
  return { flags, positionals, given };
}

function convert(name: string, f: FlagSpec, v: string): string | number | string[] {
  if (f.type === 'string') {
    if (f.choices && !f.choices.includes(v)) throw new UsageError(`--${name} must be one of ${f.choices.join(', ')}; got '${v}'`);
    return v;
  }
  if (f.type === 'list') return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number; got '${v}'`);
  if (f.type === 'int' && !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer; got '${v}'`);
  if (f.min !== undefined && n < f.min) throw new UsageError(`--${name} must be at least ${f.min}; got ${v}`);
  if (f.max !== undefined && n > f.max) throw new UsageError(`--${name} must be at most ${f.max}; got ${v}`);
  return n;
}

export function helpText(spec: CommandSpec): string {
  const all = { ...spec.flags, ...COMMON_FLAGS };
  const lines = [`${spec.summary}`, '', `Usage: ${spec.usage}`, '', 'Flags:'];
  for (const [name, f] of Object.entries(all)) {
    const def = f.default !== undefined ? ` (default ${String(f.default)})` : '';
    const ch = f.choices ? ` [${f.choices.join('|')}]` : '';
    lines.push(`  --${name}${f.type === 'boolean' ? '' : ' <' + f.type + '>'}`.padEnd(28) + `${f.description}${ch}${def}`);
  }
  return lines.join('\n');
}
