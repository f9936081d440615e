// Declared, typed option tables for pluggable components (attacks, defenses): each component lists its
// options with types, defaults and bounds, and `resolveOptions` validates what a user or an experiment
// file gives against that table. Unknown keys and bad values are errors that name the component.
export type OptionType = 'number' | 'int' | 'string' | 'boolean';

export interface OptionSpec {
  type: OptionType;
  description: string;
  default: number | string | boolean;
  /** For number/int: inclusive bounds. */
  min?: number;
  max?: number;
  choices?: readonly string[];
}

export type OptionValues = Record<string, number | string | boolean>;

export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

/** Fills defaults and validates `givenRaw` (values may be strings, as from `--opt k=v`) against `spec`. */
export function resolveOptions(owner: string, spec: Record<string, OptionSpec>, givenRaw: Record<string, unknown> = {}): OptionValues {
  // Option names are camelCase; the kebab-case spelling of a flag (batch-size for batchSize) is accepted too.
  const given: Record<string, unknown> = {};
  for (const [raw, v] of Object.entries(givenRaw)) {
    const k = raw in spec ? raw : raw.replace(/-([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
    if (k in given) throw new OptionError(`option '${k}' of ${owner} is given twice`);
    given[k] = v;
  }
  const out: OptionValues = {};
  for (const k of Object.keys(given)) {
    if (!(k in spec)) {
      const names = Object.keys(spec);
      throw new OptionError(`unknown option '${k}' for ${owner}; ${names.length ? `available: ${names.join(', ')}` : 'it takes no options'}`);
    }
  }
  for (const [k, s] of Object.entries(spec)) {
    const raw = given[k];
    out[k] = raw === undefined ? s.default : convertOption(owner, k, s, raw);
  }
  return out;
}

function convertOption(owner: string, k: string, s: OptionSpec, raw: unknown): number | string | boolean {
  const where = `option '${k}' of ${owner}`;
  switch (s.type) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new OptionError(`${where} must be true or false; got '${String(raw)}'`);
    case 'string': {
      if (typeof raw !== 'string') throw new OptionError(`${where} must be a string; got ${JSON.stringify(raw)}`);
      if (s.choices && !s.choices.includes(raw)) throw new OptionError(`${where} must be one of ${s.choices.join(', ')}; got '${raw}'`);
      return raw;
    }
    default: {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw new OptionError(`${where} must be a number; got '${String(raw)}'`);
      if (s.type === 'int' && !Number.isInteger(n)) throw new OptionError(`${where} must be an integer; got ${n}`);
      if (s.min !== undefined && n < s.min) throw new OptionError(`${where} must be at least ${s.min}; got ${n}`);
      if (s.max !== undefined && n > s.max) throw new OptionError(`${where} must be at most ${s.max}; got ${n}`);
      return n;
    }
  }
}

/** Parses `k=v` strings (as from repeated/comma-separated `--opt`) into a raw record. */
export function parseKeyValues(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf('=');
    if (eq <= 0) throw new OptionError(`expected key=value, got '${it}'`);
    out[it.slice(0, eq).trim()] = it.slice(eq + 1).trim();
  }
  return out;
}
