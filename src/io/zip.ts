// A small ZIP reader (PKWARE APPNOTE 6.3): the central directory (with ZIP64 sizes and offsets), stored
// and deflated entries (node:zlib inflateRawSync), CRC-32 checked. Enough for PyTorch's .pth archives
// (torch.save since 1.6 writes an uncompressed zip). Encrypted entries and multi-disk archives are refused.
import { inflateRawSync } from 'node:zlib';

export class ZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipError';
  }
}

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u64(b: Buffer, o: number): number {
  const v = b.readBigUInt64LE(o);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError('ZIP64 value too large');
  return Number(v);
}

export class ZipReader {
  readonly entries: Map<string, ZipEntry>;

  constructor(private readonly buf: Buffer, private readonly source = 'zip') {
    this.entries = this.readDirectory();
  }

  private fail(msg: string): never {
    throw new ZipError(`${this.source}: ${msg}`);
  }

  private readDirectory(): Map<string, ZipEntry> {
    const b = this.buf;
    if (b.length < 22) this.fail('not a zip archive (too short)');
    let eocd = -1;
    for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 65535); i--) {
      if (b.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.fail('not a zip archive (no end-of-central-directory record)');
    if (b.readUInt16LE(eocd + 4) !== 0 || b.readUInt16LE(eocd + 6) !== 0) this.fail('multi-disk zip archives are not supported');
    let count = b.readUInt16LE(eocd + 10);
    let cdSize = b.readUInt32LE(eocd + 12);
    let cdOffset = b.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || b.readUInt32LE(loc) !== 0x07064b50) this.fail('ZIP64 locator missing');
      const z = u64(b, loc + 8);
      if (z + 56 > b.length || b.readUInt32LE(z) !== 0x06064b50) this.fail('ZIP64 end-of-central-directory record missing');
      count = u64(b, z + 32);
      cdSize = u64(b, z + 40);
      cdOffset = u64(b, z + 48);
    }
    if (cdOffset + cdSize > b.length) this.fail('truncated archive (central directory beyond the end of the file)');
    const entries = new Map<string, ZipEntry>();
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > b.length || b.readUInt32LE(p) !== 0x02014b50) this.fail(`corrupt central directory (entry ${i})`);
      const flags = b.readUInt16LE(p + 8);
      const method = b.readUInt16LE(p + 10);
      const crc = b.readUInt32LE(p + 16);
      let csize = b.readUInt32LE(p + 20);
      let size = b.readUInt32LE(p + 24);
      const nlen = b.readUInt16LE(p + 28);
      const xlen = b.readUInt16LE(p + 30);
      const clen = b.readUInt16LE(p + 32);
      let local = b.readUInt32LE(p + 42);
      const name = b.toString('utf8', p + 46, p + 46 + nlen);
      let x = p + 46 + nlen;
      const xend = x + xlen;
      while (x + 4 <= xend) {
        const id = b.readUInt16LE(x);
        const len = b.readUInt16LE(x + 2);
        if (id === 0x0001) {
          let q = x + 4;
          if (size === 0xffffffff) { size = u64(b, q); q += 8; }
          if (csize === 0xffffffff) { csize = u64(b, q); q += 8; }
          if (local === 0xffffffff) { local = u64(b, q); q += 8; }
        }
        x += 4 + len;
      }
      if (flags & 1) this.fail(`${name}: encrypted entries are not supported`);
      entries.set(name, { name, method, crc32: crc, compressedSize: csize, size, localOffset: local });
      p += 46 + nlen + xlen + clen;
    }
    return entries;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry's bytes (a view for stored entries), CRC-checked. */
  read(name: string): Buffer {
    const e = this.entries.get(name);
    if (!e) this.fail(`entry ${name} not found`);
    const b = this.buf;
    const lh = e.localOffset;
    if (lh + 30 > b.length || b.readUInt32LE(lh) !== 0x04034b50) this.fail(`${name}: corrupt local header`);
    const start = lh + 30 + b.readUInt16LE(lh + 26) + b.readUInt16LE(lh + 28);
    if (start + e.compressedSize > b.length) this.fail(`${name}: truncated entry`);
    const raw = b.subarray(start, start + e.compressedSize);
    let data: Buffer;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch (err) {
        this.fail(`${name}: corrupt deflate data (${(err as Error).message})`);
      }
    } else this.fail(`${name}: unsupported compression method ${e.method}`);
    if (data.length !== e.size) this.fail(`${name}: size ${data.length} does not match the directory (${e.size})`);
    if (crc32(data) !== e.crc32) this.fail(`${name}: CRC-32 mismatch (corrupt archive)`);
    return data;
  }
}
