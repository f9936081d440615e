// Expands an experiment into cells and resolves each cell's protect and victim configuration:
//   built-in defaults ← file defaults ← grid values (axis order) / an explicit cell's own values.
// Also computes the protect stage's cache key (a stable hash of everything that decides the protected
// data), and lists the problems that would stop a cell before any computation starts.
import { createHash } from 'node:crypto';
import { ATTACKS } from '../attacks/registry.js';
import { resolveOptions } from '../util/options.js';
import { CLASSIFIERS } from '../nn/models/index.js';
import { GENERATOR_ARCHS, TRAIN_DEFAULTS } from '../game/train.js';
import { CLS_GRADS, GEN_GRADS } from '../game/bome.js';
import { VICTIM_DEFAULTS, scaledMilestones } from '../victim/train.js';
import { channelProblem, resolveDefense } from '../defenses/index.js';
import { DATASET_CHANNELS, ExperimentError, type ExperimentSpec, type Json, type JsonObject } from './schema.js';

/** trainGenerator options newer than the shipped presets' results (omitted from the hashes at their defaults). */
const LATE_TRAIN_OPTIONS = ['resetEvery', 'genGrad', 'clsGrad', 'genArch', 'routeWeight', 'genOptim', 'gameAugment'];
/** Keys the runner itself interprets in a protect stage (the rest go to trainGenerator or are options). */
const PROTECT_COMMON = ['method', 'eps255', 'norm', 'seed', 'quantization', 'poisonBatchSize'];
/** GUE-only keys the runner interprets (not trainGenerator options as such). */
const GUE_RUNNER_KEYS = ['steps'];
/** trainGenerator options that a file may not set (the runner sets them). */
const GUE_FORBIDDEN = ['eps', 'maxSteps', 'device'];
/** trainVictim options that a file may not set (from the cell seed and --device). */
const VICTIM_FORBIDDEN = ['seed', 'device'];

export interface ProtectConfig {
  method: string;
  eps255: number;
  norm: 'linf' | 'l2';
  quantization: 'round' | 'floor';
  seed: number;
  poisonBatchSize: number;
  /** GUE: resolved trainGenerator options (without eps/device/maxSteps) and the total outer-step cap. */
  train?: Record<string, Json>;
  steps?: number;
  /** An attack: its options (validated against its table). */
  options?: Record<string, Json>;
}

export interface ResolvedCell {
  id: string;
  index: number;
  seed: number;
  protect: ProtectConfig;
  /** Stable hash of the protect config and the dataset; null for 'clean' (nothing to make). */
  protectHash: string | null;
  /** trainVictim options (experiment units converted: *Eps255 → *Eps in [0,1]). */
  victim: Record<string, Json>;
  /** The victim stage as written (merged, experiment units), for the results' labels. */
  victimSpec: JsonObject;
  /** What stops this cell from running in this build (unknown method, model, option, ...). */
  problems: string[];
}

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/** JSON with sorted keys: the same config always hashes the same. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

export function shortHash(v: unknown, n = 10): string {
  return createHash('sha256').update(stableJson(v)).digest('hex').slice(0, n);
}

function idValue(v: Json): string {
  if (isObject(v) && typeof v.label === 'string') return v.label;
  if (isObject(v)) return Object.entries(v).map(([k, x]) => (isObject(x) || Array.isArray(x) ? `${k}-${shortHash(x, 6)}` : `${k}-${String(x)}`)).join('+') || 'default';
  if (Array.isArray(v)) return shortHash(v, 6);
  return String(v);
}

function sanitize(id: string): string {
  const s = id.replace(/[^A-Za-z0-9._=+-]+/g, '_');
  return s.length <= 120 ? s : `${s.slice(0, 100)}~${shortHash(id, 8)}`;
}

function setPath(target: { protect: JsonObject; victim: JsonObject; seed: number }, axis: string, v: Json): void {
  if (axis === 'seed') target.seed = v as number;
  else if (axis === 'protect' || axis === 'victim') {
    // 'label' names the value in cell ids; it is not an option.
    const { label: _label, ...opts } = v as JsonObject;
    Object.assign(target[axis], opts);
  }
  else {
    const [stage, key] = axis.split('.') as ['protect' | 'victim', string];
    target[stage][key] = v;
  }
}

/** Converts experiment units: any key `<name>Eps255` becomes `<name>Eps` in [0,1] units (ε/255). */
function convertEps(o: JsonObject, where: string, problems: string[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(o)) {
    const m = /^([a-z][A-Za-z0-9]*)Eps255$/.exec(k);
    if (m) {
      if (typeof v !== 'number' || !(v >= 0)) problems.push(`${where}.${k} must be a number ≥ 0 (in 1/255 units); got ${JSON.stringify(v)}`);
      else out[`${m[1]}Eps`] = v / 255;
    } else out[k] = v;
  }
  return out;
}

const neutral = (v: Json): boolean => v === null || v === 'none' || v === 0 || v === false || (isObject(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0);

function resolveProtect(p: JsonObject, seed: number, where: string, problems: string[]): ProtectConfig {
  const method = typeof p.method === 'string' ? p.method : 'clean';
  if (typeof p.method !== 'string' && p.method !== undefined) problems.push(`${where}.method must be a string; got ${JSON.stringify(p.method)}`);
  const eps255 = p.eps255 ?? 8;
  if (typeof eps255 !== 'number' || !(eps255 > 0 && eps255 <= 255)) problems.push(`${where}.eps255 must be a number in (0, 255]; got ${JSON.stringify(eps255)}`);
  const norm = p.norm ?? 'linf';
  if (norm !== 'linf' && norm !== 'l2') problems.push(`${where}.norm must be 'linf' or 'l2'; got ${JSON.stringify(norm)}`);
  const quantization = p.quantization ?? 'round';
  if (quantization !== 'round' && quantization !== 'floor') problems.push(`${where}.quantization must be 'round' or 'floor'; got ${JSON.stringify(quantization)}`);
  const pseed = p.seed ?? seed;
  if (typeof pseed !== 'number' || !Number.isInteger(pseed) || pseed < 0) problems.push(`${where}.seed must be an integer ≥ 0; got ${JSON.stringify(pseed)}`);
  const pbs = p.poisonBatchSize ?? 500;
  if (typeof pbs !== 'number' || !Number.isInteger(pbs) || pbs < 1) problems.push(`${where}.poisonBatchSize must be an integer ≥ 1; got ${JSON.stringify(pbs)}`);
  const cfg: ProtectConfig = { method, eps255: eps255 as number, norm: norm as 'linf', quantization: quantization as 'round', seed: pseed as number, poisonBatchSize: pbs as number };
  const trainKeys = Object.keys(TRAIN_DEFAULTS);
  const rest = Object.fromEntries(Object.entries(p).filter(([k]) => !PROTECT_COMMON.includes(k)));
  const isGueKey = (k: string) => GUE_RUNNER_KEYS.includes(k) || trainKeys.includes(k) || /Eps255$/.test(k);
  if (method === 'clean') {
    for (const k of Object.keys(rest)) if (k !== 'options' && !isGueKey(k)) problems.push(`${where}: unknown protect option '${k}'`);
    return { ...cfg, eps255: 0 };
  }
  if (method === 'gue') {
    if (norm !== 'linf') problems.push(`${where}: GUE protects under the L∞ norm only (got norm '${String(norm)}')`);
    const train: Record<string, Json> = {};
    const conv = convertEps(Object.fromEntries(Object.entries(rest).filter(([k]) => k !== 'options' && !GUE_RUNNER_KEYS.includes(k))), where, problems);
    for (const [k, v] of Object.entries(conv)) {
      if (GUE_FORBIDDEN.includes(k)) problems.push(`${where}.${k} is set by the runner (use eps255 for the budget, steps for an outer-step cap, --device for the device)`);
      else if (!trainKeys.includes(k)) problems.push(`${where}: '${k}' is not an option of this build's trainGenerator (known: ${trainKeys.filter((x) => !GUE_FORBIDDEN.includes(x)).join(', ')})`);
      else if (k !== 'checkpointEvery' && k !== 'memoryFormat') train[k] = v;
    }
    const full = { ...(TRAIN_DEFAULTS as unknown as Record<string, Json>), ...train };
    delete full.eps; delete full.maxSteps; delete full.device; delete full.checkpointEvery; delete full.memoryFormat;
    // Options added after the first presets were run count only when set, so the caches and finished cells of
    // earlier runs keep their hashes.
    for (const k of LATE_TRAIN_OPTIONS) if (JSON.stringify(full[k]) === JSON.stringify((TRAIN_DEFAULTS as unknown as Record<string, Json>)[k])) delete full[k];
    full.seed = cfg.seed;
    const steps = p.steps ?? 0;
    if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 0) problems.push(`${where}.steps must be an integer ≥ 0 (0: all epochs); got ${JSON.stringify(steps)}`);
    if (typeof full.fraction !== 'number' || !(full.fraction > 0 && full.fraction <= 1)) problems.push(`${where}.fraction must be in (0, 1]; got ${JSON.stringify(full.fraction)}`);
    if (typeof full.surrogate === 'string' && !(full.surrogate in CLASSIFIERS)) problems.push(`${where}.surrogate: unknown model '${full.surrogate}'; available: ${Object.keys(CLASSIFIERS).join(', ')}`);
    if (!(GEN_GRADS as readonly Json[]).includes(full.genGrad ?? 'q')) problems.push(`${where}.genGrad must be one of ${GEN_GRADS.join(', ')}; got ${JSON.stringify(full.genGrad)}`);
    if (!(GENERATOR_ARCHS as readonly Json[]).includes(full.genArch ?? 'unet')) problems.push(`${where}.genArch must be one of ${GENERATOR_ARCHS.join(', ')}; got ${JSON.stringify(full.genArch)}`);
    if (!(CLS_GRADS as readonly Json[]).includes(full.clsGrad ?? 'bome')) problems.push(`${where}.clsGrad must be one of ${CLS_GRADS.join(', ')}; got ${JSON.stringify(full.clsGrad)}`);
    if (full.clsGrad === 'pessimistic' && (full.payoff ?? TRAIN_DEFAULTS.payoff) === 'surrogate') problems.push(`${where}: clsGrad 'pessimistic' needs payoff 'ce' or 'ce-clip' (the surrogate payoff is unbounded above over θ)`);
    if (p.options !== undefined && !neutral(p.options)) problems.push(`${where}.options: GUE takes its options as protect keys, not under 'options'`);
    const extra: Record<string, Json> = {};
    if (p.checkpointEvery !== undefined) extra.checkpointEvery = p.checkpointEvery;
    return { ...cfg, train: { ...full, ...extra }, steps: steps as number };
  }
  // A registered attack.
  const attack = ATTACKS[method];
  for (const k of Object.keys(rest)) if (k !== 'options' && !isGueKey(k)) problems.push(`${where}: unknown protect option '${k}' (attack options go under 'options')`);
  const options = rest.options ?? {};
  if (!isObject(options)) problems.push(`${where}.options must be a mapping; got ${JSON.stringify(options)}`);
  if (!attack) {
    problems.push(`${where}.method: unknown method '${method}'; available: clean, gue, ${Object.keys(ATTACKS).join(', ')}`);
    return { ...cfg, options: isObject(options) ? options : {} };
  }
  if (!attack.norms.includes(norm as 'linf')) problems.push(`${where}: attack '${method}' supports ${attack.norms.join(', ')}, not ${String(norm)}`);
  let resolved: Record<string, Json> = {};
  try {
    resolved = resolveOptions(`attack '${method}'`, attack.options, isObject(options) ? options : {});
  } catch (e) {
    problems.push(`${where}.options: ${(e as Error).message}`);
  }
  return { ...cfg, options: resolved };
}

function resolveVictim(v: JsonObject, where: string, problems: string[]): Record<string, Json> {
  const known = Object.keys(VICTIM_DEFAULTS);
  const conv = convertEps(v, where, problems);
  const out: Record<string, Json> = {};
  for (const [k, x] of Object.entries(conv)) {
    if (VICTIM_FORBIDDEN.includes(k)) problems.push(`${where}.${k} is set by the runner (the cell 'seed' and --device)`);
    else if (known.includes(k)) out[k] = x;
    // Options this build's trainVictim does not know (e.g. a defense before the defenses exist): harmless at
    // their neutral value ('none', 0, {}), an error otherwise.
    else if (!neutral(x)) problems.push(`${where}: '${k}' is not an option of this build's trainVictim (known: ${known.filter((y) => !VICTIM_FORBIDDEN.includes(y)).join(', ')})`);
  }
  const model = (out.model ?? VICTIM_DEFAULTS.model) as string;
  if (typeof model !== 'string' || !(model in CLASSIFIERS)) problems.push(`${where}.model: unknown model '${String(model)}'; available: ${Object.keys(CLASSIFIERS).join(', ')}`);
  const epochs = out.epochs ?? VICTIM_DEFAULTS.epochs;
  if (typeof epochs !== 'number' || !Number.isInteger(epochs) || epochs < 1) problems.push(`${where}.epochs must be an integer ≥ 1; got ${JSON.stringify(epochs)}`);
  const ms = out.milestones;
  if (ms === undefined) out.milestones = typeof epochs === 'number' ? scaledMilestones(epochs) : [];
  else if (ms === 'none') out.milestones = [];
  else if (!Array.isArray(ms) || !ms.every((m) => typeof m === 'number' && Number.isInteger(m) && m >= 1)) problems.push(`${where}.milestones must be a list of positive integers or 'none'; got ${JSON.stringify(ms)}`);
  return { ...(VICTIM_DEFAULTS as unknown as Record<string, Json>), ...out, model, epochs: epochs as number };
}

/** All cells of the experiment, in order: the grid's product (first axis slowest), then explicit cells. */
export function expandCells(spec: ExperimentSpec): ResolvedCell[] {
  const raw: { id: string; protect: JsonObject; victim: JsonObject; seed: number; where: string }[] = [];
  const clone = (o: JsonObject): JsonObject => JSON.parse(JSON.stringify(o)) as JsonObject;
  if (spec.grid.length > 0) {
    const counts = spec.grid.map(([, vals]) => vals.length);
    const total = counts.reduce((a, b) => a * b, 1);
    if (total > 10000) throw new ExperimentError(`${spec.name}: the grid has ${total} cells; split it (at most 10000)`);
    for (let n = 0; n < total; n++) {
      const c = { protect: clone(spec.defaults.protect), victim: clone(spec.defaults.victim), seed: spec.defaults.seed };
      const parts: string[] = [];
      let rem = n;
      const idx: number[] = [];
      for (let a = spec.grid.length - 1; a >= 0; a--) {
        idx[a] = rem % counts[a]!;
        rem = Math.floor(rem / counts[a]!);
      }
      spec.grid.forEach(([axis, vals], a) => {
        const v = vals[idx[a]!]!;
        setPath(c, axis, v);
        const short = axis.replace(/^(protect|victim)\./, '');
        parts.push(axis === 'protect' || axis === 'victim' ? idValue(v) : `${short}-${idValue(v)}`);
      });
      raw.push({ ...c, id: sanitize(parts.join('__')), where: `grid cell ${parts.join(', ')}` });
    }
  }
  spec.cells.forEach((cell, i) => {
    const c = { protect: clone(spec.defaults.protect), victim: clone(spec.defaults.victim), seed: cell.seed ?? spec.defaults.seed };
    setPath(c, 'protect', cell.protect);
    setPath(c, 'victim', cell.victim);
    const auto = [idValue(cell.protect), idValue(cell.victim)].filter((s) => s !== 'default').join('__');
    raw.push({ ...c, id: cell.id ?? sanitize(`cell${i + 1}${auto ? '__' + auto : ''}`), where: `cells[${i}]` });
  });
  const seen = new Map<string, string>();
  for (const r of raw) {
    const prev = seen.get(r.id);
    if (prev !== undefined) throw new ExperimentError(`${spec.name}: ${r.where} and ${prev} both have the id '${r.id}'; give explicit cells an 'id' or remove the duplicate`);
    seen.set(r.id, r.where);
  }
  return raw.map((r, index) => {
    const problems: string[] = [];
    const protect = resolveProtect(r.protect, r.seed, `${r.where}: protect`, problems);
    const victim = resolveVictim(r.victim, `${r.where}: victim`, problems);
    // Found here rather than when the cell runs, hours into the experiment.
    // The defense's name and options, and whether it can run on this dataset's images.
    let def: ReturnType<typeof resolveDefense> = null;
    try {
      def = resolveDefense(String(victim.defense ?? 'none'), isObject(victim.defenseOptions) ? victim.defenseOptions : {});
    } catch (e) {
      problems.push(`${r.where}: victim: ${(e as Error).message}`);
    }
    const problem = def?.defense.kind === 'data' ? channelProblem(def.defense, DATASET_CHANNELS[spec.dataset.name], spec.dataset.name) : null;
    if (problem) problems.push(`${r.where}: victim: ${problem}`);
    const hashed: Record<string, unknown> = { ...protect };
    if (protect.train) {
      const { checkpointEvery: _ignored, ...train } = protect.train;
      hashed.train = train;
    }
    const protectHash = protect.method === 'clean' ? null : shortHash({ dataset: { name: spec.dataset.name, trainSize: spec.dataset.trainSize ?? 0 }, protect: hashed });
    return { id: r.id, index, seed: r.seed, protect, protectHash, victim, victimSpec: r.victim, problems };
  });
}

/** Glob (* and ?) over cell ids. */
export function matchGlob(glob: string, id: string): boolean {
  const re = new RegExp(`^${glob.split('').map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\=-]/g, '\\$&'))).join('')}$`);
  return re.test(id);
}
