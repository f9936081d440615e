// The safetensors format (https://github.com/huggingface/safetensors), readable and writable by
// Python's `safetensors`:
//
//   8 bytes   N, the header length, unsigned 64-bit little-endian
//   N bytes   UTF-8 JSON: {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}},
//             padded with spaces so that the data starts at a multiple of 8
//   rest      the tensors' bytes, little-endian, row-major; offsets are relative to the data start
//
// The encoder lays tensors out as the reference implementation does (dtype alignment descending, then
// name), so every tensor is aligned and, without metadata, the output is byte-identical to
// `safetensors.torch.save_file`. The decoder validates the whole header before it creates any tensor.
import { endianness } from 'node:os';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DTYPE_CODE, EngineUnavailableError, Tensor, elementSize, native, type DType } from '../engine/index.js';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';
import { CheckpointError, messageOf, quoteName } from './errors.js';

export { CheckpointError } from './errors.js';

/** Header lengths above this are rejected as corrupt (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

/** safetensors dtype names of the engine's dtypes. */
export const SAFETENSORS_DTYPE: Readonly<Record<DType, string>> = {
  float32: 'F32', float64: 'F64', int64: 'I64', uint8: 'U8', bool: 'BOOL', int32: 'I32', float16: 'F16', bfloat16: 'BF16',
};
const FROM_SAFETENSORS: ReadonlyMap<string, DType> = new Map(
  (Object.entries(SAFETENSORS_DTYPE) as [DType, string][]).map(([d, s]) => [s, d]),
);
// Position in the reference implementation's Dtype enum (increasing alignment); the layout sorts on it.
const LAYOUT_RANK: Readonly<Record<DType, number>> = {
  bool: 0, uint8: 1, float16: 7, bfloat16: 8, int32: 9, float32: 11, float64: 12, int64: 13,
};
// Known to the format but not to the engine: reported as unsupported rather than unknown.
const OTHER_SAFETENSORS_DTYPES = new Set(['I8', 'I16', 'U16', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);

/** The tensors to write: a Map or a plain object of name -> Tensor. */
export type TensorDict = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

/** One tensor's entry in a validated header. Offsets are absolute positions in the file. */
export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte range [begin, end) in the file (already shifted by 8 + header length). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Entries in file (offset) order. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Header length N as stored in the first 8 bytes. */
  headerBytes: number;
  /** Where the data section starts (8 + N) and where the last tensor ends. */
  dataStart: number;
  dataEnd: number;
}

export interface DecodeOptions {
  /** Device for the created tensors (default 'cpu'). */
  device?: string;
  /** A name for error messages, usually the file path. */
  source?: string;
  /**
   * Accept bytes after the last tensor (default true). The reference implementation rejects them;
   * pass false to be as strict. Bytes between tensors are always rejected.
   */
  allowTrailingBytes?: boolean;
}

export interface SafetensorsContents {
  /** The tensors, in file order. */
  tensors: Map<string, Tensor>;
  /** The `__metadata__` string map ({} when absent). */
  metadata: Record<string, string>;
}

function checkHost(source: string | undefined): void {
  if (endianness() !== 'LE') throw new CheckpointError('safetensors data is little-endian; big-endian hosts are not supported', { source });
}

// ------------------------------------------------------------------ encoding

function entriesOf(tensors: TensorDict): [unknown, unknown][] {
  if (tensors instanceof Map) return [...(tensors as Map<unknown, unknown>).entries()];
  if (tensors === null || typeof tensors !== 'object' || Array.isArray(tensors)) {
    throw new CheckpointError('tensors must be a Map or a plain object of name -> Tensor');
  }
  return Object.entries(tensors);
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Encodes to the header and the tensors' bytes, in file order (no concatenation). */
export function encodeSafetensorsParts(tensors: TensorDict, metadata?: Readonly<Record<string, string>>): Uint8Array[] {
  checkHost(undefined);
  const items: { name: string; dtype: DType; shape: number[]; bytes: Uint8Array }[] = [];
  for (const [name, t] of entriesOf(tensors)) {
    if (typeof name !== 'string') throw new CheckpointError(`tensor names must be strings (got ${typeof name})`);
    if (name === METADATA_KEY) throw new CheckpointError(`'${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (LONE_SURROGATE.test(name)) throw new CheckpointError(`tensor name ${quoteName(name)} is not well-formed Unicode`);
    if (!(t instanceof Tensor)) throw new CheckpointError(`${quoteName(name)} is not a Tensor`);
    if (t.isDisposed) throw new CheckpointError(`tensor ${quoteName(name)} was already disposed`);
    const dtype = t.dtype;
    const shape = t.shape;
    const a = t.toTypedArray();
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const need = numelOf(shape) * elementSize(dtype);
    if (bytes.byteLength !== need) {
      throw new CheckpointError(`internal: tensor ${quoteName(name)} gave ${bytes.byteLength} bytes, expected ${need}`);
    }
    items.push({ name, dtype, shape, bytes });
  }
  items.sort((x, y) => LAYOUT_RANK[y.dtype] - LAYOUT_RANK[x.dtype] || compareUtf8(x.name, y.name));

  const fields: string[] = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new CheckpointError('metadata must be a plain object of string -> string');
    }
    const keys = Object.keys(metadata).sort(compareUtf8);
    const parts: string[] = [];
    for (const k of keys) {
      const v = metadata[k];
      if (typeof v !== 'string') throw new CheckpointError(`metadata value for ${quoteName(k)} must be a string (got ${typeof v})`);
      if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) throw new CheckpointError(`metadata entry ${quoteName(k)} is not well-formed Unicode`);
      parts.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    fields.push(`${JSON.stringify(METADATA_KEY)}:{${parts.join(',')}}`);
  }
  let offset = 0;
  for (const it of items) {
    const end = offset + it.bytes.byteLength;
    fields.push(`${JSON.stringify(it.name)}:{"dtype":"${SAFETENSORS_DTYPE[it.dtype]}","shape":[${it.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${fields.join(',')}}`, 'utf8');
  const n = json.length + ((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8 + n, 0x20);
  head.writeBigUInt64LE(BigInt(n), 0);
  json.copy(head, 8);
  return [head, ...items.map((it) => it.bytes)];
}

/** Encodes tensors (and optional string metadata) as a safetensors file image. */
export function encodeSafetensors(tensors: TensorDict, metadata?: Readonly<Record<string, string>>): Buffer {
  return Buffer.concat(encodeSafetensorsParts(tensors, metadata));
}

// ------------------------------------------------------------------ decoding

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates the header of a safetensors file image without creating tensors.
 * Throws CheckpointError for anything malformed.
 */
export function readSafetensorsHeader(buf: Uint8Array, opts: Pick<DecodeOptions, 'source' | 'allowTrailingBytes'> = {}): SafetensorsHeader {
  const source = opts.source;
  const fail: (msg: string) => never = (msg) => {
    throw new CheckpointError(msg, { source });
  };
  if (!(buf instanceof Uint8Array)) fail('expected the file contents as a Buffer/Uint8Array');
  const size = buf.byteLength;
  if (size < 8) fail(`not a safetensors file: ${size} bytes is shorter than the 8-byte header length (truncated or empty file)`);
  const n64 = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`not a safetensors file or corrupt: header length ${n64} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (8 + n > size) fail(`truncated or corrupt: header length ${n} runs past the end of the file (${size} bytes)`);
  if (n < 2) fail(`corrupt: header length ${n} is too short to hold a JSON object`);

  let text = '';
  try {
    text = utf8.decode(buf.subarray(8, 8 + n));
  } catch {
    fail('corrupt: the header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`corrupt: the header does not start with '{' (got ${JSON.stringify(text.slice(0, 16))})`);
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    fail(`corrupt: the header is not valid JSON (${messageOf(e)})`);
  }
  if (!isPlainObject(root)) fail('corrupt: the header is not a JSON object');
  const dataStart = 8 + n;
  const dataSize = size - dataStart;

  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(root as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (info === null) continue;
      if (!isPlainObject(info)) fail(`corrupt: '${METADATA_KEY}' must be an object of string values`);
      const pairs: [string, string][] = [];
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`corrupt: '${METADATA_KEY}' value for ${quoteName(k)} is not a string`);
        pairs.push([k, v as string]);
      }
      metadata = Object.fromEntries(pairs);
      continue;
    }
    const q = quoteName(name);
    if (!isPlainObject(info)) fail(`corrupt: the entry for tensor ${q} is not an object`);
    const o = info as Record<string, unknown>;
    if (!('dtype' in o)) fail(`corrupt: tensor ${q} has no dtype`);
    if (!('shape' in o)) fail(`corrupt: tensor ${q} has no shape`);
    if (!('data_offsets' in o)) fail(`corrupt: tensor ${q} has no data_offsets`);
    const st = o.dtype;
    if (typeof st !== 'string') fail(`corrupt: tensor ${q} has a non-string dtype`);
    const dtype = FROM_SAFETENSORS.get(st as string);
    if (dtype === undefined) {
      fail(
        OTHER_SAFETENSORS_DTYPES.has(st as string)
          ? `tensor ${q} has dtype ${st as string}, which gue does not support (supported: ${[...FROM_SAFETENSORS.keys()].join(', ')})`
          : `corrupt: tensor ${q} has unknown dtype ${JSON.stringify(st)}`,
      );
    }
    const d = dtype as DType;
    const shape = o.shape;
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`corrupt: tensor ${q} has an invalid shape ${JSON.stringify(shape)} (expected an array of non-negative integers)`);
    }
    const dims = shape as number[];
    const offs = o.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount)) {
      fail(`corrupt: tensor ${q} has invalid data_offsets ${JSON.stringify(offs)} (expected [begin, end] non-negative integers)`);
    }
    const [b, e] = offs as [number, number];
    if (e < b) fail(`corrupt: tensor ${q} has data_offsets [${b}, ${e}] with end before begin`);
    let numel = 1;
    for (const s of dims) {
      numel *= s;
      if (!Number.isSafeInteger(numel)) fail(`corrupt: tensor ${q} shape [${dims.join(', ')}] is too large`);
    }
    const need = numel * elementSize(d);
    if (!Number.isSafeInteger(need)) fail(`corrupt: tensor ${q} shape [${dims.join(', ')}] is too large`);
    if (e - b !== need) {
      fail(`corrupt: tensor ${q} data_offsets [${b}, ${e}] hold ${e - b} bytes but ${st as string} shape [${dims.join(', ')}] needs ${need}`);
    }
    if (e > dataSize) {
      fail(`truncated or corrupt: tensor ${q} data_offsets [${b}, ${e}] run past the end of the data (${dataSize} bytes)`);
    }
    entries.push({ name, dtype: d, shape: dims.slice(), begin: dataStart + b, end: dataStart + e });
  }

  // The data section must be covered exactly once, in offset order, from its start.
  entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let cursor = dataStart;
  let prev: SafetensorsEntry | null = null;
  for (const en of entries) {
    if (en.begin < cursor) {
      fail(`corrupt: tensor ${quoteName(en.name)} bytes [${en.begin - dataStart}, ${en.end - dataStart}] overlap tensor ${quoteName(prev!.name)}`);
    }
    if (en.begin > cursor) {
      fail(`corrupt: data bytes [${cursor - dataStart}, ${en.begin - dataStart}) before tensor ${quoteName(en.name)} belong to no tensor`);
    }
    cursor = en.end;
    prev = en;
  }
  if (opts.allowTrailingBytes === false && cursor !== size) {
    fail(`corrupt: ${size - cursor} bytes after the last tensor belong to no tensor`);
  }
  for (const en of entries) {
    if (en.dtype !== 'bool') continue;
    for (let i = en.begin; i < en.end; i++) {
      if (buf[i]! > 1) fail(`corrupt: BOOL tensor ${quoteName(en.name)} holds byte ${buf[i]} at element ${i - en.begin} (must be 0 or 1)`);
    }
  }
  return { entries, metadata, headerBytes: n, dataStart, dataEnd: cursor };
}

/**
 * Decodes a safetensors file image into tensors (copied into libtorch memory on `device`).
 * The whole header is validated first; on any error no tensor survives and a CheckpointError
 * (message prefixed with `source`) is thrown.
 */
export function decodeSafetensors(buf: Uint8Array, opts: DecodeOptions = {}): SafetensorsContents {
  checkHost(opts.source);
  const header = readSafetensorsHeader(buf, opts);
  const device = opts.device ?? 'cpu';
  const tensors = new Map<string, Tensor>();
  const created: Tensor[] = [];
  let current: SafetensorsEntry | null = null;
  try {
    for (const en of header.entries) {
      current = en;
      const t = Tensor.wrap(native().fromBuffer(buf.subarray(en.begin, en.end), en.shape, DTYPE_CODE[en.dtype], device));
      created.push(t);
      tensors.set(en.name, t);
    }
  } catch (e) {
    for (const t of created) t.dispose();
    if (e instanceof EngineUnavailableError) throw e;
    const en = current!;
    throw new CheckpointError(
      `could not create tensor ${quoteName(en.name)} (${en.dtype} [${en.shape.join(', ')}]) on device '${device}': ${messageOf(e)}`,
      { source: opts.source, cause: e },
    );
  }
  return { tensors, metadata: header.metadata };
}

// ------------------------------------------------------------------ files

function readFailure(path: string, e: unknown): CheckpointError {
  const code = (e as { code?: unknown }).code;
  const why =
    code === 'ENOENT' ? 'file not found'
      : code === 'EISDIR' ? 'is a directory, not a file'
        : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
          : code === 'ERR_FS_FILE_TOO_LARGE' ? 'file is too large to read into memory'
            : `cannot read: ${messageOf(e)}`;
  return new CheckpointError(why, { source: path, cause: e });
}

/** Reads a whole file for decoding, mapping I/O failures to CheckpointError naming the file. */
export async function readFileForCheckpoint(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw readFailure(resolve(path), e);
  }
}

/** Synchronous readFileForCheckpoint. */
export function readFileForCheckpointSync(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw readFailure(resolve(path), e);
  }
}

/** Writes tensors to a .safetensors file atomically. I/O failures throw AtomicWriteError. */
export async function saveSafetensors(path: string, tensors: TensorDict, metadata?: Readonly<Record<string, string>>): Promise<void> {
  await writeFileAtomic(path, encodeSafetensorsParts(tensors, metadata));
}

/** Synchronous saveSafetensors. */
export function saveSafetensorsSync(path: string, tensors: TensorDict, metadata?: Readonly<Record<string, string>>): void {
  writeFileAtomicSync(path, encodeSafetensorsParts(tensors, metadata));
}

/** Reads a .safetensors file. Every failure is a CheckpointError naming the file. */
export async function loadSafetensors(path: string, opts: Omit<DecodeOptions, 'source'> = {}): Promise<SafetensorsContents> {
  const buf = await readFileForCheckpoint(path);
  return decodeSafetensors(buf, { ...opts, source: resolve(path) });
}

/** Synchronous loadSafetensors. */
export function loadSafetensorsSync(path: string, opts: Omit<DecodeOptions, 'source'> = {}): SafetensorsContents {
  const buf = readFileForCheckpointSync(path);
  return decodeSafetensors(buf, { ...opts, source: resolve(path) });
}
