// Checkpoints: <base>.safetensors (the tensors) plus <base>.json (a sidecar with the caller's meta,
// the tensor list, the tensors file's size and SHA-256, and a format version).
//
// Both files are written atomically, tensors first and sidecar last, so an existing sidecar means the
// save finished. Each save gets a random id stored in both files: a crash between the two renames
// (new tensors, old sidecar) is detected on load instead of pairing old meta with new tensors.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DTYPES, type DType, type Tensor } from '../engine/index.js';
import { writeFileAtomic, writeFileAtomicSync, writeJsonAtomic, writeJsonAtomicSync } from './atomic.js';
import { CheckpointError, messageOf, quoteName } from './errors.js';
import {
  decodeSafetensors,
  encodeSafetensorsParts,
  readFileForCheckpoint,
  readFileForCheckpointSync,
  type TensorDict,
} from './safetensors.js';

export const CHECKPOINT_FORMAT = 'gue-checkpoint';
export const CHECKPOINT_VERSION = 1;
/** The base name used when a checkpoint path names a directory. */
export const DEFAULT_CHECKPOINT_NAME = 'checkpoint';
/** Keys of the safetensors `__metadata__` written by saveCheckpoint. */
export const CHECKPOINT_ID_KEY = 'gue.checkpoint.id';
export const CHECKPOINT_VERSION_KEY = 'gue.checkpoint.version';

export interface CheckpointPaths {
  /** The path without extension. */
  base: string;
  /** <base>.safetensors */
  tensors: string;
  /** <base>.json */
  sidecar: string;
}

export interface SidecarTensor {
  name: string;
  dtype: DType;
  shape: number[];
}

/** The JSON sidecar's content. */
export interface CheckpointSidecar<M = Record<string, unknown>> {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  id: string;
  savedAt: string;
  /** Size and SHA-256 (hex) of <base>.safetensors. */
  bytes: number;
  sha256: string;
  tensors: SidecarTensor[];
  meta: M;
}

export interface CheckpointData<M = Record<string, unknown>> {
  tensors: TensorDict;
  /** Any JSON-serializable plain object (hyper-parameters, epoch, RNG state, ...). */
  meta: M;
}

export interface LoadedCheckpoint<M = Record<string, unknown>> {
  tensors: Map<string, Tensor>;
  meta: M;
  id: string;
  paths: CheckpointPaths;
}

export interface SavedCheckpoint {
  id: string;
  paths: CheckpointPaths;
  bytes: number;
  sha256: string;
}

export interface LoadCheckpointOptions {
  /** Device for the loaded tensors (default 'cpu'). */
  device?: string;
}

/**
 * Resolves a checkpoint location. A directory (existing, or written with a trailing slash) means
 * `<dir>/checkpoint`; otherwise the path is the base, with a trailing .safetensors or .json dropped.
 */
export function checkpointPaths(pathOrDir: string): CheckpointPaths {
  const abs = resolve(pathOrDir);
  let isDir = /[\\/]$/.test(pathOrDir);
  if (!isDir) {
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      isDir = false;
    }
  }
  const base = isDir ? join(abs, DEFAULT_CHECKPOINT_NAME) : abs.replace(/\.(safetensors|json)$/, '');
  return { base, tensors: `${base}.safetensors`, sidecar: `${base}.json` };
}

/** True when a complete checkpoint (its sidecar) exists at this location. */
export function hasCheckpoint(pathOrDir: string): boolean {
  return existsSync(checkpointPaths(pathOrDir).sidecar);
}

// ------------------------------------------------------------------ saving

function plainMeta(meta: unknown): Record<string, unknown> {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new CheckpointError('checkpoint meta must be a plain JSON object');
  }
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(meta));
  } catch (e) {
    throw new CheckpointError(`checkpoint meta is not JSON-serializable: ${messageOf(e)}`, { cause: e });
  }
  return copy as Record<string, unknown>;
}

function prepare(data: CheckpointData<unknown>): { parts: Uint8Array[]; sidecar: CheckpointSidecar<unknown> } {
  if (data === null || typeof data !== 'object') throw new CheckpointError('saveCheckpoint needs {tensors, meta}');
  const meta = plainMeta(data.meta);
  const id = randomUUID();
  const parts = encodeSafetensorsParts(data.tensors, { [CHECKPOINT_ID_KEY]: id, [CHECKPOINT_VERSION_KEY]: String(CHECKPOINT_VERSION) });
  const hash = createHash('sha256');
  let bytes = 0;
  for (const p of parts) {
    hash.update(p);
    bytes += p.byteLength;
  }
  const entries = data.tensors instanceof Map ? [...data.tensors.entries()] : Object.entries(data.tensors as Record<string, Tensor>);
  const tensors: SidecarTensor[] = entries
    .map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    parts,
    sidecar: {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      id,
      savedAt: new Date().toISOString(),
      bytes,
      sha256: hash.digest('hex'),
      tensors,
      meta,
    },
  };
}

/**
 * Saves a checkpoint: <base>.safetensors then <base>.json, each atomically; creates the directory.
 * Invalid input throws CheckpointError; I/O failures throw AtomicWriteError.
 */
export async function saveCheckpoint<M extends object>(pathOrDir: string, data: CheckpointData<M>): Promise<SavedCheckpoint> {
  const paths = checkpointPaths(pathOrDir);
  const { parts, sidecar } = prepare(data);
  await mkdir(dirname(paths.base), { recursive: true });
  await writeFileAtomic(paths.tensors, parts);
  await writeJsonAtomic(paths.sidecar, sidecar);
  return { id: sidecar.id, paths, bytes: sidecar.bytes, sha256: sidecar.sha256 };
}

/** Synchronous saveCheckpoint. */
export function saveCheckpointSync<M extends object>(pathOrDir: string, data: CheckpointData<M>): SavedCheckpoint {
  const paths = checkpointPaths(pathOrDir);
  const { parts, sidecar } = prepare(data);
  mkdirSync(dirname(paths.base), { recursive: true });
  writeFileAtomicSync(paths.tensors, parts);
  writeJsonAtomicSync(paths.sidecar, sidecar);
  return { id: sidecar.id, paths, bytes: sidecar.bytes, sha256: sidecar.sha256 };
}

// ------------------------------------------------------------------ loading

function missingSidecar(paths: CheckpointPaths, e: unknown): CheckpointError {
  if ((e as { code?: unknown }).code !== 'ENOENT') {
    return new CheckpointError(`cannot read the checkpoint sidecar: ${messageOf(e)}`, { source: paths.sidecar, cause: e });
  }
  if (existsSync(paths.tensors)) {
    return new CheckpointError(
      `incomplete checkpoint: ${paths.tensors} exists but its sidecar ${paths.sidecar} is missing (the save was interrupted before it finished)`,
      { source: paths.base },
    );
  }
  return new CheckpointError(`no checkpoint here (neither ${paths.sidecar} nor ${paths.tensors} exists)`, { source: paths.base });
}

const isDType = (v: unknown): v is DType => typeof v === 'string' && (DTYPES as readonly string[]).includes(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses and validates a sidecar's text. */
export function parseCheckpointSidecar(text: string, source?: string): CheckpointSidecar {
  const fail: (msg: string) => never = (msg) => {
    throw new CheckpointError(msg, { source });
  };
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    fail(`corrupt checkpoint sidecar: not valid JSON (${messageOf(e)})`);
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) fail('corrupt checkpoint sidecar: not a JSON object');
  const o = j as Record<string, unknown>;
  if (o.format !== CHECKPOINT_FORMAT) fail(`not a gue checkpoint sidecar (format is ${JSON.stringify(o.format)}, expected "${CHECKPOINT_FORMAT}")`);
  if (typeof o.version !== 'number' || !Number.isInteger(o.version)) fail('corrupt checkpoint sidecar: version is missing');
  if (o.version !== CHECKPOINT_VERSION) {
    fail(`checkpoint format version ${o.version as number} is not supported (this build reads version ${CHECKPOINT_VERSION})`);
  }
  if (typeof o.id !== 'string' || o.id === '') fail('corrupt checkpoint sidecar: id is missing');
  if (!isCount(o.bytes)) fail('corrupt checkpoint sidecar: bytes is missing or invalid');
  if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) fail('corrupt checkpoint sidecar: sha256 is missing or invalid');
  if (!Array.isArray(o.tensors)) fail('corrupt checkpoint sidecar: tensors is not a list');
  const seen = new Set<string>();
  const tensors: SidecarTensor[] = [];
  for (const [i, t] of (o.tensors as unknown[]).entries()) {
    const e = t as Record<string, unknown> | null;
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string') fail(`corrupt checkpoint sidecar: tensors[${i}] has no name`);
    const name = e!.name as string;
    if (seen.has(name)) fail(`corrupt checkpoint sidecar: tensor ${quoteName(name)} is listed twice`);
    seen.add(name);
    if (!isDType(e!.dtype)) fail(`corrupt checkpoint sidecar: tensor ${quoteName(name)} has an invalid dtype ${JSON.stringify(e!.dtype)}`);
    if (!Array.isArray(e!.shape) || !(e!.shape as unknown[]).every(isCount)) {
      fail(`corrupt checkpoint sidecar: tensor ${quoteName(name)} has an invalid shape`);
    }
    tensors.push({ name, dtype: e!.dtype as DType, shape: (e!.shape as number[]).slice() });
  }
  const meta = o.meta;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) fail('corrupt checkpoint sidecar: meta is not an object');
  return {
    format: CHECKPOINT_FORMAT,
    version: o.version as number,
    id: o.id as string,
    savedAt: typeof o.savedAt === 'string' ? o.savedAt : '',
    bytes: o.bytes as number,
    sha256: o.sha256 as string,
    tensors,
    meta: meta as Record<string, unknown>,
  };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function finishLoad<M>(paths: CheckpointPaths, sidecar: CheckpointSidecar, buf: Buffer, opts: LoadCheckpointOptions): LoadedCheckpoint<M> {
  const mismatch = (msg: string): CheckpointError =>
    new CheckpointError(`${msg}; the checkpoint is incomplete or its files come from different saves`, { source: paths.base });
  if (buf.byteLength !== sidecar.bytes) {
    throw mismatch(`${paths.tensors} has ${buf.byteLength} bytes but the sidecar records ${sidecar.bytes}`);
  }
  const digest = createHash('sha256').update(buf).digest('hex');
  if (digest !== sidecar.sha256) throw mismatch(`the SHA-256 of ${paths.tensors} does not match the sidecar`);

  const { tensors, metadata } = decodeSafetensors(buf, { device: opts.device, source: paths.tensors });
  try {
    if (metadata[CHECKPOINT_ID_KEY] !== sidecar.id) {
      throw mismatch(`${paths.tensors} has checkpoint id ${JSON.stringify(metadata[CHECKPOINT_ID_KEY] ?? null)} but the sidecar has ${JSON.stringify(sidecar.id)}`);
    }
    const problems: string[] = [];
    const listed = new Map(sidecar.tensors.map((t) => [t.name, t]));
    const missing = sidecar.tensors.filter((t) => !tensors.has(t.name)).map((t) => quoteName(t.name));
    const extra = [...tensors.keys()].filter((n) => !listed.has(n)).map(quoteName);
    if (missing.length > 0) problems.push(`missing from the tensors file: ${missing.join(', ')}`);
    if (extra.length > 0) problems.push(`not listed in the sidecar: ${extra.join(', ')}`);
    for (const [name, t] of tensors) {
      const s = listed.get(name);
      if (s === undefined) continue;
      const dtype = t.dtype;
      const shape = t.shape;
      if (dtype !== s.dtype || !sameShape(shape, s.shape)) {
        problems.push(`${quoteName(name)} is ${dtype} [${shape.join(', ')}] in the file but ${s.dtype} [${s.shape.join(', ')}] in the sidecar`);
      }
    }
    if (problems.length > 0) throw mismatch(`the tensors do not match the sidecar's list (${problems.join('; ')})`);
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  return { tensors, meta: sidecar.meta as M, id: sidecar.id, paths };
}

/**
 * Loads a checkpoint saved by saveCheckpoint, checking the sidecar against the tensors file
 * (size, SHA-256, save id, tensor names, dtypes and shapes). Every failure is a CheckpointError;
 * a missing sidecar is reported as an incomplete checkpoint.
 */
export async function loadCheckpoint<M = Record<string, unknown>>(pathOrDir: string, opts: LoadCheckpointOptions = {}): Promise<LoadedCheckpoint<M>> {
  const paths = checkpointPaths(pathOrDir);
  let text: string;
  try {
    text = await readFile(paths.sidecar, 'utf8');
  } catch (e) {
    throw missingSidecar(paths, e);
  }
  const sidecar = parseCheckpointSidecar(text, paths.sidecar);
  const buf = await readTensorsFile(paths, false);
  return finishLoad<M>(paths, sidecar, buf, opts);
}

/** Synchronous loadCheckpoint. */
export function loadCheckpointSync<M = Record<string, unknown>>(pathOrDir: string, opts: LoadCheckpointOptions = {}): LoadedCheckpoint<M> {
  const paths = checkpointPaths(pathOrDir);
  let text: string;
  try {
    text = readFileSync(paths.sidecar, 'utf8');
  } catch (e) {
    throw missingSidecar(paths, e);
  }
  const sidecar = parseCheckpointSidecar(text, paths.sidecar);
  const buf = readTensorsFile(paths, true);
  return finishLoad<M>(paths, sidecar, buf, opts);
}

function readTensorsFile(paths: CheckpointPaths, sync: true): Buffer;
function readTensorsFile(paths: CheckpointPaths, sync: false): Promise<Buffer>;
function readTensorsFile(paths: CheckpointPaths, sync: boolean): Buffer | Promise<Buffer> {
  const wrap = (e: unknown): CheckpointError => {
    if (e instanceof CheckpointError && (e.cause as { code?: unknown } | undefined)?.code === 'ENOENT') {
      return new CheckpointError(`incomplete checkpoint: the sidecar exists but ${paths.tensors} is missing`, { source: paths.base, cause: e });
    }
    return e as CheckpointError;
  };
  if (sync) {
    try {
      return readFileForCheckpointSync(paths.tensors);
    } catch (e) {
      throw wrap(e);
    }
  }
  return readFileForCheckpoint(paths.tensors).catch((e: unknown) => {
    throw wrap(e);
  });
}
