// The experiment file (JSON or YAML): a named grid of cells, each a protect stage (make protected training
// data: none, a GUE generator, or a registered attack) followed by a victim stage (train a classifier on it,
// record its clean test accuracy per epoch). This file parses and validates the file's structure; every
// error names the offending key path. See docs/experiments.md for the full schema.
import { readFileSync, existsSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';

export class ExperimentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExperimentError';
  }
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export const DATASET_NAMES = ['fashion-mnist', 'cifar10', 'cifar100'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];
/** Image channels of each dataset, so that the planner can refuse a cell before anything runs. */
export const DATASET_CHANNELS: Readonly<Record<DatasetName, number>> = { 'fashion-mnist': 1, cifar10: 3, cifar100: 3 };

export interface DatasetSpec {
  name: DatasetName;
  /** Use only the first N training images (0 or absent: all). */
  trainSize?: number;
  /** Use only the first N test images (0 or absent: all). */
  testSize?: number;
  dataDir?: string;
}

export interface CellSpec {
  /** Explicit id (explicit cells only); otherwise derived from the grid values. */
  id?: string;
  protect: JsonObject;
  victim: JsonObject;
  seed?: number;
}

export interface ExperimentSpec {
  name: string;
  title: string;
  figure: string;
  description?: string;
  dataset: DatasetSpec;
  device?: string;
  defaults: { protect: JsonObject; victim: JsonObject; seed: number };
  /** Axis key → values; the cartesian product (in key order) gives cells. */
  grid: [string, Json[]][];
  cells: CellSpec[];
}

const TOP_KEYS = ['name', 'title', 'figure', 'description', 'dataset', 'device', 'defaults', 'grid', 'cells'];
const DATASET_KEYS = ['name', 'trainSize', 'testSize', 'dataDir'];
const DEFAULTS_KEYS = ['protect', 'victim', 'seed'];
const CELL_KEYS = ['id', 'protect', 'victim', 'seed'];

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

function unknownKeys(where: string, obj: JsonObject, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ExperimentError(`${where}: unknown key '${k}' (allowed: ${allowed.join(', ')})`);
  }
}

function str(where: string, v: unknown, required = true): string | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new ExperimentError(`${where} must be a non-empty string; got ${JSON.stringify(v)}`);
  return v;
}

function int(where: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ExperimentError(`${where} must be an integer ≥ ${min}; got ${JSON.stringify(v)}`);
  return v;
}

function stage(where: string, v: unknown): JsonObject {
  if (v === undefined) return {};
  if (!isObject(v)) throw new ExperimentError(`${where} must be a mapping of options; got ${JSON.stringify(v)}`);
  return v;
}

/** Axis keys: 'seed', 'protect', 'victim' (values are option mappings), 'protect.<key>', 'victim.<key>'. */
export function checkAxisKey(where: string, key: string): void {
  if (key === 'seed' || key === 'protect' || key === 'victim') return;
  const m = /^(protect|victim)\.([A-Za-z][A-Za-z0-9]*)$/.exec(key);
  if (!m) throw new ExperimentError(`${where}: bad axis '${key}'; axes are 'seed', 'protect', 'victim', 'protect.<option>' or 'victim.<option>'`);
}

/** Validates the structure of a parsed experiment file. `source` names it in messages. */
export function parseExperiment(raw: unknown, source: string): ExperimentSpec {
  if (!isObject(raw)) throw new ExperimentError(`${source}: the experiment must be a mapping at the top level`);
  // Top-level keys starting with 'x-' are ignored: a place for YAML anchors (&name) reused with merge keys (<<: *name).
  unknownKeys(source, Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-'))), TOP_KEYS);
  const name = str(`${source}: name`, raw.name)!;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new ExperimentError(`${source}: name '${name}' may use only letters, digits, '.', '_' and '-' (it names the output folder)`);
  const title = str(`${source}: title`, raw.title ?? name)!;
  const figure = str(`${source}: figure`, raw.figure)!;
  const description = str(`${source}: description`, raw.description, false);
  const device = str(`${source}: device`, raw.device, false);

  if (!isObject(raw.dataset)) throw new ExperimentError(`${source}: dataset must be a mapping with at least 'name' (${DATASET_NAMES.join(', ')})`);
  unknownKeys(`${source}: dataset`, raw.dataset, DATASET_KEYS);
  const dsName = str(`${source}: dataset.name`, raw.dataset.name)!;
  if (!(DATASET_NAMES as readonly string[]).includes(dsName)) throw new ExperimentError(`${source}: dataset.name must be one of ${DATASET_NAMES.join(', ')}; got '${dsName}'`);
  const dataset: DatasetSpec = { name: dsName as DatasetName };
  if (raw.dataset.trainSize !== undefined) dataset.trainSize = int(`${source}: dataset.trainSize`, raw.dataset.trainSize, 0);
  if (raw.dataset.testSize !== undefined) dataset.testSize = int(`${source}: dataset.testSize`, raw.dataset.testSize, 0);
  if (raw.dataset.dataDir !== undefined) dataset.dataDir = str(`${source}: dataset.dataDir`, raw.dataset.dataDir);

  const d = raw.defaults ?? {};
  if (!isObject(d)) throw new ExperimentError(`${source}: defaults must be a mapping with 'protect', 'victim' and/or 'seed'`);
  unknownKeys(`${source}: defaults`, d, DEFAULTS_KEYS);
  const defaults = {
    protect: stage(`${source}: defaults.protect`, d.protect),
    victim: stage(`${source}: defaults.victim`, d.victim),
    seed: d.seed === undefined ? 1 : int(`${source}: defaults.seed`, d.seed, 0),
  };

  const grid: [string, Json[]][] = [];
  if (raw.grid !== undefined) {
    if (!isObject(raw.grid)) throw new ExperimentError(`${source}: grid must be a mapping of axis → list of values`);
    for (const [k, vals] of Object.entries(raw.grid)) {
      checkAxisKey(`${source}: grid`, k);
      if (!Array.isArray(vals) || vals.length === 0) throw new ExperimentError(`${source}: grid.${k} must be a non-empty list of values`);
      vals.forEach((v, i) => {
        if ((k === 'protect' || k === 'victim') && !isObject(v)) throw new ExperimentError(`${source}: grid.${k}[${i}] must be a mapping of ${k} options`);
        if (k === 'seed') int(`${source}: grid.seed[${i}]`, v, 0);
      });
      grid.push([k, vals]);
    }
  }

  const cells: CellSpec[] = [];
  if (raw.cells !== undefined) {
    if (!Array.isArray(raw.cells)) throw new ExperimentError(`${source}: cells must be a list of {id?, protect?, victim?, seed?}`);
    raw.cells.forEach((c, i) => {
      const w = `${source}: cells[${i}]`;
      if (!isObject(c)) throw new ExperimentError(`${w} must be a mapping with protect and/or victim`);
      unknownKeys(w, c, CELL_KEYS);
      const cell: CellSpec = { protect: stage(`${w}.protect`, c.protect), victim: stage(`${w}.victim`, c.victim) };
      if (c.id !== undefined) {
        cell.id = str(`${w}.id`, c.id)!;
        if (!/^[A-Za-z0-9][A-Za-z0-9._=+-]*$/.test(cell.id)) throw new ExperimentError(`${w}.id '${cell.id}' may use only letters, digits and . _ = + - (it names a folder)`);
      }
      if (c.seed !== undefined) cell.seed = int(`${w}.seed`, c.seed, 0);
      cells.push(cell);
    });
  }
  if (grid.length === 0 && cells.length === 0) throw new ExperimentError(`${source}: give a 'grid' and/or a list of 'cells' (nothing to run)`);
  return { name, title, figure, description, dataset, device, defaults, grid, cells };
}

/** Reads a .json, .yaml or .yml experiment file. */
export function loadExperimentFile(path: string): ExperimentSpec {
  if (!existsSync(path)) throw new ExperimentError(`${path}: no such experiment file`);
  const text = readFileSync(path, 'utf8');
  const ext = extname(path).toLowerCase();
  let raw: unknown;
  try {
    raw = ext === '.json' ? JSON.parse(text) : parseYaml(text, { merge: true });
  } catch (e) {
    throw new ExperimentError(`${path}: not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseExperiment(raw, path);
}
