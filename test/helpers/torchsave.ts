// Writes state-dict files in the format of PyTorch's torch.save (zip format, PyTorch ≥ 1.6), so the .pth
// reader is tested without Python. Written from the format description:
// - a zip (stored entries, CRC-32, each entry's data aligned to 64 bytes with an 'FB' padding extra field,
//   as PyTorch's miniz writer does) with <prefix>/data.pkl, <prefix>/byteorder ('little'),
//   <prefix>/data/<key> per storage, <prefix>/version ('3\n'), and <prefix>/.data/serialization_id;
// - data.pkl: a protocol-2 pickle of the OrderedDict, exactly as Python's pickler writes it: GLOBAL
//   collections.OrderedDict, EMPTY_TUPLE, REDUCE, then MARK key value ... SETITEMS, then the _metadata state
//   and BUILD; each tensor as GLOBAL torch._utils._rebuild_tensor_v2 with the argument tuple
//   (persistent id ('storage', torch.FloatStorage, key, location, numel), offset, size, stride,
//   requires_grad, OrderedDict()); strings, tuples, dicts and globals memoized with BINPUT and reused
//   with BINGET; ints as BININT1/BININT2/BININT/LONG1.
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../src/io/zip.js';

export interface SaveTensor {
  storage: 'FloatStorage' | 'HalfStorage' | 'LongStorage' | 'DoubleStorage' | 'IntStorage' | 'ByteStorage' | 'BoolStorage' | 'BFloat16Storage';
  /** The storage's raw little-endian bytes. Tensors sharing a key share a storage. */
  key: string;
  bytes: Uint8Array;
  numel: number;
  offset: number;
  size: number[];
  stride: number[];
  requiresGrad?: boolean;
  location?: string;
}

/** Contiguous strides of a shape. */
export function contiguousStride(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

class PickleWriter {
  private parts: number[] = [];
  private memo = new Map<string, number>();

  bytes(): Buffer {
    return Buffer.from(this.parts);
  }
  raw(...b: number[]): void {
    for (const x of b) this.parts.push(x);
  }
  private u32(n: number): void {
    this.raw(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  private put(id: string): void {
    const i = this.memo.size;
    this.memo.set(id, i);
    if (i < 256) this.raw(0x71, i);
    else {
      this.raw(0x72);
      this.u32(i);
    }
  }
  private get(id: string): boolean {
    const i = this.memo.get(id);
    if (i === undefined) return false;
    if (i < 256) this.raw(0x68, i);
    else {
      this.raw(0x6a);
      this.u32(i);
    }
    return true;
  }
  /** A fresh memo id for objects that are never shared (tuples, dicts). */
  private fresh = 0;
  memoFresh(): void {
    this.put(`#${this.fresh++}`);
  }
  proto(): void {
    this.raw(0x80, 2);
  }
  global(module: string, name: string): void {
    if (this.get(`g:${module}.${name}`)) return;
    this.raw(0x63, ...Buffer.from(`${module}\n${name}\n`, 'utf8'));
    this.put(`g:${module}.${name}`);
  }
  str(s: string): void {
    if (this.get(`s:${s}`)) return;
    const b = Buffer.from(s, 'utf8');
    this.raw(0x58);
    this.u32(b.length);
    this.raw(...b);
    this.put(`s:${s}`);
  }
  int(n: number): void {
    if (n >= 0 && n <= 0xff) this.raw(0x4b, n);
    else if (n >= 0 && n <= 0xffff) this.raw(0x4d, n & 0xff, n >>> 8);
    else if (n >= -(2 ** 31) && n < 2 ** 31) {
      this.raw(0x4a);
      this.u32(n >>> 0);
    } else {
      // LONG1: little-endian two's complement, minimal length
      let v = BigInt(n);
      const out: number[] = [];
      while (true) {
        out.push(Number(v & 0xffn));
        v >>= 8n;
        if ((v === 0n && (out[out.length - 1]! & 0x80) === 0) || (v === -1n && (out[out.length - 1]! & 0x80) !== 0)) break;
      }
      this.raw(0x8a, out.length, ...out);
    }
  }
  bool(b: boolean): void {
    this.raw(b ? 0x88 : 0x89);
  }
  /** A tuple of already-emitted items: the caller emits the items via fns. */
  tuple(items: (() => void)[]): void {
    if (items.length === 0) {
      this.raw(0x29);
      return;
    }
    if (items.length <= 3) {
      for (const f of items) f();
      this.raw(0x84 + items.length); // TUPLE1..3 = 0x85..0x87
    } else {
      this.raw(0x28);
      for (const f of items) f();
      this.raw(0x74);
    }
    this.memoFresh();
  }
  emptyOrderedDict(): void {
    this.global('collections', 'OrderedDict');
    this.raw(0x29, 0x52); // EMPTY_TUPLE REDUCE
    this.memoFresh();
  }
}

/** The protocol-2 pickle of an OrderedDict state dict (with _metadata) as torch.save writes it. */
export function statePickle(tensors: [string, SaveTensor][], metadata: [string, number][] = [['', 1]]): Buffer {
  const w = new PickleWriter();
  w.proto();
  w.emptyOrderedDict();
  // _batch_setitems: MARK k v ... SETITEMS per batch of up to 1000 (a single item uses SETITEM).
  for (let b = 0; b < tensors.length; b += 1000) {
    const batch = tensors.slice(b, b + 1000);
    if (batch.length > 1) w.raw(0x28);
    for (const [k, t] of batch) {
      w.str(k);
      w.global('torch._utils', '_rebuild_tensor_v2');
      w.tuple([
        () => {
          w.tuple([() => w.str('storage'), () => w.global('torch', t.storage), () => w.str(t.key), () => w.str(t.location ?? 'cpu'), () => w.int(t.numel)]);
          w.raw(0x51); // BINPERSID
        },
        () => w.int(t.offset),
        () => w.tuple(t.size.map((s) => () => w.int(s))),
        () => w.tuple(t.stride.map((s) => () => w.int(s))),
        () => w.bool(t.requiresGrad ?? false),
        () => w.emptyOrderedDict(),
      ]);
      w.raw(0x52); // REDUCE
      w.memoFresh();
    }
    w.raw(batch.length > 1 ? 0x75 : 0x73);
  }
  // state: {'_metadata': OrderedDict({prefix: {'version': v}, ...})}, then BUILD
  w.raw(0x7d);
  w.memoFresh();
  w.str('_metadata');
  w.emptyOrderedDict();
  if (metadata.length > 1) w.raw(0x28);
  for (const [name, version] of metadata) {
    w.str(name);
    w.raw(0x7d);
    w.memoFresh();
    w.str('version');
    w.int(version);
    w.raw(0x73);
  }
  if (metadata.length > 1) w.raw(0x75);
  else if (metadata.length === 1) w.raw(0x73);
  w.raw(0x73); // SETITEM '_metadata'
  w.raw(0x62); // BUILD
  w.raw(0x2e); // STOP
  return w.bytes();
}

/** A zip archive of entries, laid out as PyTorch's writer does (stored, 64-byte aligned data). */
export function zipArchive(entries: [string, Uint8Array][], o: { deflate?: string[] } = {}): Buffer {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameB = Buffer.from(name, 'utf8');
    const deflate = o.deflate?.includes(name) ?? false;
    const body = deflate ? deflateRawSync(data) : Buffer.from(data);
    const crc = crc32(data);
    // Pad the extra field so the data starts at a multiple of 64 (miniz 'FB' records, as PyTorch).
    const headerLen = 30 + nameB.length;
    const pad = (64 - ((offset + headerLen + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(0x4246, 0);
    extra.writeUInt16LE(pad, 2);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0, 6);
    lh.writeUInt16LE(deflate ? 8 : 0, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(nameB.length, 26);
    lh.writeUInt16LE(extra.length, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(deflate ? 8 : 0, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(nameB.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, nameB);
    chunks.push(lh, nameB, extra, body);
    offset += lh.length + nameB.length + extra.length + body.length;
  }
  const cdBuf = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdBuf.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...chunks, cdBuf, eocd]);
}

/** A complete torch.save file of a state dict. */
export function torchSave(tensors: [string, SaveTensor][], o: { prefix?: string; metadata?: [string, number][]; deflate?: boolean } = {}): Buffer {
  const prefix = o.prefix ?? 'archive';
  const storages = new Map<string, Uint8Array>();
  for (const [, t] of tensors) if (!storages.has(t.key)) storages.set(t.key, t.bytes);
  const entries: [string, Uint8Array][] = [[`${prefix}/data.pkl`, statePickle(tensors, o.metadata)], [`${prefix}/byteorder`, Buffer.from('little')]];
  for (const [k, b] of storages) entries.push([`${prefix}/data/${k}`, b]);
  entries.push([`${prefix}/version`, Buffer.from('3\n')], [`${prefix}/.data/serialization_id`, Buffer.from('1234567890123456789012345678901234567890')]);
  return zipArchive(entries, { deflate: o.deflate ? entries.map((e) => e[0]) : [] });
}
