// A minimal Protocol Buffers wire-format encoder and a top-level field reader: just what writing an ONNX
// ModelProto (and reading its metadata back) needs, without a protobuf dependency.
// Wire format (https://protobuf.dev/programming-guides/encoding/): each field is a varint key
// (field number << 3 | wire type) followed by a varint (type 0), 8 bytes (type 1), a length-prefixed
// payload (type 2: strings, bytes, nested messages, packed arrays) or 4 bytes (type 5).

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const utf8 = new TextEncoder();

/** Builds one message. Nested messages are built by their own writer and added with `message`. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  // Small scratch buffer for keys and varints; flushed into `chunks` when full.
  private scratch = new Uint8Array(256);
  private used = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.size + this.used;
  }

  private flush(): void {
    if (this.used > 0) {
      this.chunks.push(this.scratch.slice(0, this.used));
      this.size += this.used;
      this.used = 0;
    }
  }

  private rawVarint(v: number | bigint): void {
    if (this.used + 10 > this.scratch.length) this.flush();
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
      while (v > 0x7f) {
        this.scratch[this.used++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      this.scratch[this.used++] = v;
      return;
    }
    // Negative or large values: 64-bit two's complement, as protobuf encodes int64.
    let b = BigInt.asUintN(64, BigInt(v));
    while (b > 0x7fn) {
      this.scratch[this.used++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.scratch[this.used++] = Number(b);
  }

  private key(field: number, wire: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new Error(`protobuf: bad field number ${field}`);
    this.rawVarint(field * 8 + wire);
  }

  private raw(bytes: Uint8Array): void {
    if (bytes.length <= 64) {
      if (this.used + bytes.length > this.scratch.length) this.flush();
      this.scratch.set(bytes, this.used);
      this.used += bytes.length;
      return;
    }
    this.flush();
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  /** int32/int64/uint64/bool/enum field (varint). Integers only; int64 may be a bigint. */
  varint(field: number, v: number | bigint | boolean): this {
    const n = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    if (typeof n === 'number' && !Number.isInteger(n)) throw new Error(`protobuf: field ${field}: ${n} is not an integer`);
    this.key(field, WIRE_VARINT);
    this.rawVarint(n);
    return this;
  }

  /** float field (wire type 5, little-endian IEEE 754 single). */
  float(field: number, v: number): this {
    this.key(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.raw(b);
    return this;
  }

  /** double field (wire type 1). */
  double(field: number, v: number): this {
    this.key(field, WIRE_I64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.raw(b);
    return this;
  }

  /** bytes field. The array is referenced, not copied, until `finish`. */
  bytes(field: number, b: Uint8Array): this {
    this.key(field, WIRE_LEN);
    this.rawVarint(b.length);
    this.raw(b);
    return this;
  }

  /** string field (UTF-8). */
  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  /** Embedded message field. */
  message(field: number, m: ProtoWriter): this {
    this.key(field, WIRE_LEN);
    this.rawVarint(m.length);
    m.flush();
    for (const c of m.chunks) {
      this.flush();
      this.chunks.push(c);
      this.size += c.length;
    }
    return this;
  }

  /** The encoded message. */
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** One field read from a message: varints as bigint, fixed-size values as their raw bytes, length-delimited as bytes. */
export interface ProtoField {
  field: number;
  wire: number;
  /** Wire type 0: the value. */
  int?: bigint;
  /** Wire types 1, 2 and 5: the payload (a view into the input). */
  data?: Uint8Array;
}

/** Thrown for bytes that are not a well-formed protobuf message. */
export class ProtoDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoDecodeError';
  }
}

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtoDecodeError('truncated varint');
    const b = buf[pos++]!;
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [v, pos];
    shift += 7n;
  }
  throw new ProtoDecodeError('varint longer than 10 bytes');
}

/** Reads the top-level fields of a message (nested messages are returned as bytes to read in turn). */
export function readFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [k, p] = readVarint(buf, pos);
    pos = p;
    const field = Number(k >> 3n);
    const wire = Number(k & 7n);
    if (field < 1) throw new ProtoDecodeError(`bad field number ${field}`);
    if (wire === WIRE_VARINT) {
      const [v, q] = readVarint(buf, pos);
      pos = q;
      out.push({ field, wire, int: v });
    } else if (wire === WIRE_I64 || wire === WIRE_I32) {
      const n = wire === WIRE_I64 ? 8 : 4;
      if (pos + n > buf.length) throw new ProtoDecodeError('truncated fixed-size field');
      out.push({ field, wire, data: buf.subarray(pos, pos + n) });
      pos += n;
    } else if (wire === WIRE_LEN) {
      const [len, q] = readVarint(buf, pos);
      pos = q;
      if (len > BigInt(buf.length - pos)) throw new ProtoDecodeError('length-delimited field runs past the end');
      const n = Number(len);
      out.push({ field, wire, data: buf.subarray(pos, pos + n) });
      pos += n;
    } else {
      throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    }
  }
  return out;
}

const utf8d = new TextDecoder('utf-8', { fatal: true });

/** Decodes a string field's bytes (strict UTF-8). */
export function decodeString(b: Uint8Array): string {
  try {
    return utf8d.decode(b);
  } catch {
    throw new ProtoDecodeError('invalid UTF-8 in a string field');
  }
}
