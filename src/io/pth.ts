// Reads PyTorch state dicts saved by torch.save (zip format, PyTorch ≥ 1.6) without Python and without
// executing code. The archive holds <prefix>/data.pkl (a pickle of the state dict whose tensors refer to
// storages by persistent id ('storage', torch.FloatStorage, key, location, numel)), <prefix>/data/<key>
// (the raw little-endian bytes of each storage), and <prefix>/version, <prefix>/byteorder, ... The prefix is
// the file's base name at save time ('archive' for streams). The pickle is read by the restricted reader in
// pickle.ts; tensors are materialised from their storages with their offsets and strides, on the CPU
// whatever location they were saved from (e.g. 'cuda:0'). Legacy (pre-1.6, non-zip) files are refused.
import { readFileSync } from 'node:fs';
import type { DType } from '../engine/dtype.js';
import { ZipReader } from './zip.js';
import { PyDict, TensorRef, readPickle, type PyValue } from './pickle.js';

export class PthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PthError';
  }
}

/** A tensor read from a .pth: contiguous row-major data (float16/bfloat16 as raw Uint16 bits). */
export interface PthTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
}

const STORAGE_DTYPE: Record<string, [DType, number]> = {
  FloatStorage: ['float32', 4],
  DoubleStorage: ['float64', 8],
  HalfStorage: ['float16', 2],
  BFloat16Storage: ['bfloat16', 2],
  LongStorage: ['int64', 8],
  IntStorage: ['int32', 4],
  ByteStorage: ['uint8', 1],
  BoolStorage: ['bool', 1],
};

function makeArray(dtype: DType, n: number): PthTensor['data'] {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'int32': return new Int32Array(n);
    case 'uint8': case 'bool': return new Uint8Array(n);
    case 'float16': case 'bfloat16': return new Uint16Array(n);
  }
}

function viewOf(dtype: DType, bytes: Buffer): PthTensor['data'] {
  // Copy into an aligned buffer (zip entries need not be aligned to the element size).
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  switch (dtype) {
    case 'float32': return new Float32Array(ab);
    case 'float64': return new Float64Array(ab);
    case 'int64': return new BigInt64Array(ab);
    case 'int32': return new Int32Array(ab);
    case 'uint8': case 'bool': return new Uint8Array(ab);
    case 'float16': case 'bfloat16': return new Uint16Array(ab);
  }
}

export interface PthContents {
  /** The state dict's tensors in file order. */
  tensors: Map<string, PthTensor>;
  /** The archive prefix (the file's base name when it was saved). */
  prefix: string;
  /** Non-tensor entries of the dict, by key (reported, not used). */
  other: string[];
}

/** Parses a torch.save zip archive holding a (possibly nested under 'state_dict') dict of tensors. */
export function readPth(buf: Buffer, source = 'pth'): PthContents {
  if (buf.length >= 2 && buf[0] === 0x80) throw new PthError(`${source}: a legacy (pre-1.6, non-zip) PyTorch file; re-save it with a recent torch.save`);
  if (buf.length < 4 || buf.readUInt32LE(0) !== 0x04034b50) throw new PthError(`${source}: not a PyTorch zip archive (no zip signature)`);
  const zip = new ZipReader(buf, source);
  const pkl = zip.names().find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new PthError(`${source}: no <name>/data.pkl in the archive (is this a torch.save file? TorchScript archives are not supported)`);
  const prefix = pkl.slice(0, pkl.indexOf('/'));
  if (zip.has(`${prefix}/byteorder`)) {
    const order = zip.read(`${prefix}/byteorder`).toString('ascii').trim();
    if (order !== 'little') throw new PthError(`${source}: tensors are stored ${order}-endian; only little-endian files are supported`);
  }
  let root: PyValue = readPickle(zip.read(pkl), `${source}: ${pkl}`);
  for (const k of ['state_dict', 'model_state_dict', 'model']) {
    if (root instanceof PyDict && root.get(k) instanceof PyDict && ![...root.values()].some((v) => v instanceof TensorRef)) root = root.get(k)!;
  }
  if (!(root instanceof PyDict)) throw new PthError(`${source}: the file holds no state dict (its top-level object is not a dict)`);
  const tensors = new Map<string, PthTensor>();
  const other: string[] = [];
  const storages = new Map<string, PthTensor['data']>();
  for (const [k, v] of root) {
    if (typeof k !== 'string') throw new PthError(`${source}: state dict keys must be strings`);
    if (!(v instanceof TensorRef)) {
      other.push(k);
      continue;
    }
    const st = v.storage;
    const dt = STORAGE_DTYPE[st.storageType];
    if (!dt) throw new PthError(`${source}: ${k}: storage type torch.${st.storageType} is not supported`);
    const [dtype, esize] = dt;
    let data = storages.get(st.key);
    if (!data) {
      const name = `${prefix}/data/${st.key}`;
      if (!zip.has(name)) throw new PthError(`${source}: ${k}: storage ${name} is missing from the archive`);
      const bytes = zip.read(name);
      if (bytes.length < st.numel * esize) throw new PthError(`${source}: ${k}: storage ${st.key} has ${bytes.length} bytes, fewer than ${st.numel} × ${esize}`);
      data = viewOf(dtype, bytes);
      storages.set(st.key, data);
    }
    const n = v.size.reduce((a, s) => a * s, 1);
    const out = makeArray(dtype, n);
    // Gather through offset + strides (a state dict's tensors are usually contiguous, but need not be).
    const nd = v.size.length;
    const idx = new Array<number>(nd).fill(0);
    for (let i = 0; i < n; i++) {
      let src = v.offset;
      for (let d = 0; d < nd; d++) src += idx[d]! * v.stride[d]!;
      if (src < 0 || src >= data.length) throw new PthError(`${source}: ${k}: view reaches outside its storage`);
      (out as unknown as ArrayLike<unknown> & Record<number, unknown>)[i] = (data as unknown as ArrayLike<unknown>)[src];
      for (let d = nd - 1; d >= 0; d--) {
        if (++idx[d]! < v.size[d]!) break;
        idx[d] = 0;
      }
    }
    tensors.set(k, { dtype, shape: [...v.size], data: out });
  }
  return { tensors, prefix, other };
}

export function readPthFile(path: string): PthContents {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new PthError(`${path}: cannot read (${(e as Error).message})`);
  }
  return readPth(buf, path);
}
