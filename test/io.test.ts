// src/io: atomic writes, the safetensors format (byte layout checked against the reference
// implementation's own test vectors), validation of malformed files, and checkpoints.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { tensor, memory, native, type Tensor, type DType } from '../src/engine/index.js';
import {
  CheckpointError,
  AtomicWriteError,
  writeFileAtomic,
  writeFileAtomicSync,
  writeJsonAtomic,
  writeJsonAtomicSync,
  tempPathFor,
  encodeSafetensors,
  decodeSafetensors,
  readSafetensorsHeader,
  saveSafetensors,
  saveSafetensorsSync,
  loadSafetensors,
  loadSafetensorsSync,
  saveCheckpoint,
  saveCheckpointSync,
  loadCheckpoint,
  loadCheckpointSync,
  hasCheckpoint,
  checkpointPaths,
  CHECKPOINT_ID_KEY,
} from '../src/io/index.js';

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'gue-io-test-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});
let dirCount = 0;
function freshDir(): string {
  const d = join(root, `d${dirCount++}`);
  mkdirSync(d);
  return d;
}

// ------------------------------------------------------------------ helpers

/** The raw little-endian bytes of a tensor. */
function rawBytes(t: Tensor): Buffer {
  const a = t.toTypedArray();
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function le64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** A safetensors image built by hand: header text (optionally space-padded to 8) and data bytes. */
function build(header: string | object, data: Uint8Array | number[] = [], opts: { pad?: boolean; n?: number | bigint } = {}): Buffer {
  let h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  if (opts.pad ?? true) h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  return Buffer.concat([le64(opts.n ?? h.length), h, Buffer.from(data instanceof Uint8Array ? data : Uint8Array.from(data))]);
}

function f32(...v: number[]): Buffer {
  return Buffer.from(new Float32Array(v).buffer);
}

/** Deterministic pseudo-random bytes (xorshift32). */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r() & 0xff;
  return out;
}

/** Asserts fn throws a CheckpointError whose message matches re (and names `source` when given). */
function throwsCheckpoint(fn: () => unknown, re: RegExp, source?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    assert.match(e.message, re);
    if (source !== undefined) assert.ok(e.message.includes(source), `message should name ${source}: ${e.message}`);
    return true;
  });
}
async function rejectsCheckpoint(p: Promise<unknown>, re: RegExp, source?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    assert.match(e.message, re);
    if (source !== undefined) assert.ok(e.message.includes(source), `message should name ${source}: ${e.message}`);
    return true;
  });
}

function disposeAll(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

function noTempFiles(dir: string): void {
  const left = readdirSync(dir).filter((f) => f.endsWith('.tmp'));
  assert.deepEqual(left, [], `temp files left behind in ${dir}`);
}

/** One tensor of every dtype, with edge-case values, plus the expected raw bytes. */
function everyDtype(): { name: string; t: Tensor; bytes: Buffer; dtype: DType; shape: number[] }[] {
  const out: { name: string; t: Tensor; bytes: Buffer; dtype: DType; shape: number[] }[] = [];
  const add = (name: string, t: Tensor, bytes: Buffer, dtype: DType, shape: number[]): void => {
    out.push({ name, t, bytes, dtype, shape });
  };
  // float32: NaN with a payload, -0, ±Inf, smallest subnormal, max, random bits.
  const f32bits = new Uint32Array([0x7fc01234, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x7f7fffff, 0x3f800000, 0xdeadbeef]);
  add('f32', tensor(new Float32Array(f32bits.buffer.slice(0)), { shape: [2, 4] }), Buffer.from(f32bits.buffer), 'float32', [2, 4]);
  const f64bits = new BigUint64Array([0x7ff8000000000abcn, 0x8000000000000000n, 0x0000000000000001n, 0x7fefffffffffffffn, 0x3ff0000000000000n, 0xc00921fb54442d18n]);
  add('f64', tensor(new Float64Array(f64bits.buffer.slice(0)), { shape: [3, 2] }), Buffer.from(f64bits.buffer), 'float64', [3, 2]);
  const i64 = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 123456789012345n]);
  add('i64', tensor(i64.slice(), { shape: [5] }), Buffer.from(i64.buffer), 'int64', [5]);
  const i32 = new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1, 42, 7]);
  add('i32', tensor(i32.slice(), { shape: [1, 2, 3] }), Buffer.from(i32.buffer), 'int32', [1, 2, 3]);
  const u8 = Uint8Array.from({ length: 256 }, (_, i) => i);
  add('u8', tensor(u8.slice(), { shape: [16, 16] }), Buffer.from(u8), 'uint8', [16, 16]);
  const b = Uint8Array.from([1, 0, 0, 1, 1]);
  add('bool', tensor(b.slice(), { shape: [5], dtype: 'bool' }), Buffer.from(b), 'bool', [5]);
  // Half types via conversion from exactly representable values; expected IEEE / bfloat16 bit patterns.
  const hv = new Float32Array([1, -2, 0.5, -0, Infinity, 65504]);
  add('f16', tensor(hv.slice(), { shape: [6], dtype: 'float16' }), Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x8000, 0x7c00, 0x7bff]).buffer), 'float16', [6]);
  const bv = new Float32Array([1, -2, 0.5, -0, Infinity, 3]);
  add('bf16', tensor(bv.slice(), { shape: [6], dtype: 'bfloat16' }), Buffer.from(new Uint16Array([0x3f80, 0xc000, 0x3f00, 0x8000, 0x7f80, 0x4040]).buffer), 'bfloat16', [6]);
  // Scalars and zero-size tensors.
  add('scalar_f64', tensor(new Float64Array([-3.25]), { shape: [] }), Buffer.from(new Float64Array([-3.25]).buffer), 'float64', []);
  add('scalar_bool', tensor(new Uint8Array([1]), { shape: [], dtype: 'bool' }), Buffer.from([1]), 'bool', []);
  add('empty_f32', tensor(new Float32Array(0), { shape: [0] }), Buffer.alloc(0), 'float32', [0]);
  add('empty_i64', tensor(new BigInt64Array(0), { shape: [2, 0, 3] }), Buffer.alloc(0), 'int64', [2, 0, 3]);
  add('empty_f16', tensor(new Float32Array(0), { shape: [0, 4], dtype: 'float16' }), Buffer.alloc(0), 'float16', [0, 4]);
  return out;
}

// A valid two-tensor file used by the malformed-input tests.
const VALID_HEADER = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}';
function validFile(): Buffer {
  return build(VALID_HEADER, [...f32(1, 2), 7, 8, 9]);
}

// ------------------------------------------------------------------ safetensors: round trips

describe('safetensors round trip', () => {
  test('every dtype, scalar and zero-size shapes are bit-exact', () => {
    const cases = everyDtype();
    for (const c of cases) {
      assert.equal(c.t.dtype, c.dtype, c.name);
      assert.deepEqual(c.t.shape, c.shape, c.name);
      assert.ok(rawBytes(c.t).equals(c.bytes), `${c.name}: tensor creation gave unexpected bits`);
    }
    const buf = encodeSafetensors(new Map(cases.map((c) => [c.name, c.t])));
    const { tensors, metadata } = decodeSafetensors(buf);
    assert.deepEqual(metadata, {});
    assert.deepEqual([...tensors.keys()].sort(), cases.map((c) => c.name).sort());
    for (const c of cases) {
      const t = tensors.get(c.name)!;
      assert.equal(t.dtype, c.dtype, c.name);
      assert.deepEqual(t.shape, c.shape, c.name);
      assert.equal(t.device, 'cpu');
      assert.ok(rawBytes(t).equals(c.bytes), `${c.name}: bits changed in the round trip`);
    }
    // Re-encoding the decoded tensors reproduces the file byte for byte.
    assert.ok(encodeSafetensors(tensors).equals(buf));
    disposeAll(tensors);
    for (const c of cases) c.t.dispose();
  });

  test('a plain object works as the tensor dict', () => {
    const a = tensor([1.5, -2.5]);
    const buf = encodeSafetensors({ w: a });
    const { tensors } = decodeSafetensors(buf);
    assert.deepEqual(tensors.get('w')!.toArray(), [1.5, -2.5]);
    disposeAll(tensors);
    a.dispose();
  });

  test('all 65536 float16 and bfloat16 bit patterns survive decode -> encode', () => {
    const all = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) all[i] = i;
    const bytes = Buffer.from(all.buffer);
    for (const [st, dtype] of [['F16', 'float16'], ['BF16', 'bfloat16']] as const) {
      const file = build(`{"h":{"dtype":"${st}","shape":[256,256],"data_offsets":[0,131072]}}`, bytes);
      const { tensors } = decodeSafetensors(file);
      const t = tensors.get('h')!;
      assert.equal(t.dtype, dtype);
      assert.ok(rawBytes(t).equals(bytes), `${st} bits changed`);
      assert.ok(encodeSafetensors(tensors).equals(file), `${st} re-encode differs`);
      t.dispose();
    }
  });

  test('random float32/float64 bit patterns (NaN payloads included) survive a round trip', () => {
    const b32 = randomBytes(4 * 1000, 7);
    const b64 = randomBytes(8 * 500, 11);
    const t32 = tensor(new Float32Array(b32.slice().buffer), { shape: [10, 100] });
    const t64 = tensor(new Float64Array(b64.slice().buffer), { shape: [500] });
    const { tensors } = decodeSafetensors(encodeSafetensors({ t32, t64 }));
    assert.ok(rawBytes(tensors.get('t32')!).equals(Buffer.from(b32)));
    assert.ok(rawBytes(tensors.get('t64')!).equals(Buffer.from(b64)));
    disposeAll(tensors);
    t32.dispose();
    t64.dispose();
  });

  test('non-contiguous tensors are written in row-major order', () => {
    const a = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    const at = a.T; // [3, 2], non-contiguous
    assert.equal(at.isContiguous(), false);
    const { tensors } = decodeSafetensors(encodeSafetensors({ at }));
    assert.deepEqual(tensors.get('at')!.shape, [3, 2]);
    assert.deepEqual(tensors.get('at')!.toArray(), [1, 4, 2, 5, 3, 6]);
    disposeAll(tensors);
    at.dispose();
    a.dispose();
  });

  test('metadata round trip (unicode, empty values, a __proto__ key)', () => {
    const meta = Object.fromEntries([
      ['framework', 'pt'],
      ['ünïcödé ✓', 'değer 🚀'],
      ['empty', ''],
      ['json', '{"nested": [1, 2]}'],
      ['__proto__', 'not a prototype'],
    ]) as Record<string, string>;
    const t = tensor([1, 2, 3], { dtype: 'int32' });
    const buf = encodeSafetensors({ t }, meta);
    const { tensors, metadata } = decodeSafetensors(buf);
    assert.deepEqual(Object.entries(metadata).sort(), Object.entries(meta).sort());
    assert.equal(Object.getPrototypeOf(metadata), Object.prototype);
    assert.deepEqual(tensors.get('t')!.toArray(), [1, 2, 3]);
    disposeAll(tensors);
    t.dispose();
  });

  test('save/load files (async and sync), with a device option', async () => {
    const dir = freshDir();
    const a = tensor([[1, 2], [3, 4]], { dtype: 'float64' });
    const p = join(dir, 'm.safetensors');
    await saveSafetensors(p, { a }, { k: 'v' });
    const r = await loadSafetensors(p, { device: 'cpu' });
    assert.deepEqual(r.metadata, { k: 'v' });
    assert.deepEqual(r.tensors.get('a')!.toArray(), [1, 2, 3, 4]);
    disposeAll(r.tensors);
    const p2 = join(dir, 'm2.safetensors');
    saveSafetensorsSync(p2, new Map([['a', a]]));
    assert.ok(readFileSync(p2).equals(encodeSafetensors({ a })));
    const r2 = loadSafetensorsSync(p2);
    assert.deepEqual(r2.tensors.get('a')!.shape, [2, 2]);
    disposeAll(r2.tensors);
    noTempFiles(dir);
    a.dispose();
  });
});

// ------------------------------------------------------------------ safetensors: byte layout

describe('safetensors byte layout', () => {
  test('one F32 tensor [2] = (1, 2): header and bytes exactly as the spec says', () => {
    const t = tensor(new Float32Array([1, 2]));
    const json = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    assert.equal(json.length, 54);
    const expected = Buffer.concat([
      Buffer.from([56, 0, 0, 0, 0, 0, 0, 0]), // N = 54 padded up to 56
      Buffer.from(json, 'ascii'),
      Buffer.from('  ', 'ascii'),
      Buffer.from([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40]), // 1.0f, 2.0f little-endian
    ]);
    assert.ok(encodeSafetensors({ x: t }).equals(expected), encodeSafetensors({ x: t }).toString('latin1'));
    const { tensors } = decodeSafetensors(expected);
    assert.deepEqual(tensors.get('x')!.toArray(), [1, 2]);
    disposeAll(tensors);
    t.dispose();
  });

  test("matches the reference implementation's test vectors (safetensors tensor.rs)", () => {
    // test_serialization_forced_alignement: "attn0", F32 [1,1,2,3] = 0..5 -> header length 72.
    const t = tensor(new Float32Array([0, 1, 2, 3, 4, 5]), { shape: [1, 1, 2, 3] });
    const out = encodeSafetensors({ attn0: t });
    const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    assert.ok(out.equals(Buffer.concat([le64(72), Buffer.from(json), Buffer.alloc(72 - json.length, 0x20), f32(0, 1, 2, 3, 4, 5)])));
    t.dispose();
    // test_empty: no tensors -> "{}" padded to 8.
    assert.deepEqual([...encodeSafetensors(new Map())], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    // test_empty with metadata {"framework": "pt"} -> header length 40.
    const withMeta = encodeSafetensors(new Map(), { framework: 'pt' });
    assert.ok(withMeta.equals(Buffer.concat([le64(40), Buffer.from('{"__metadata__":{"framework":"pt"}}     ')])));
    const d = decodeSafetensors(withMeta);
    assert.equal(d.tensors.size, 0);
    assert.deepEqual(d.metadata, { framework: 'pt' });
  });

  test('a file written by Python safetensors 0.8.0 (all dtypes + metadata) decodes, and re-encodes byte-identically', () => {
    // safetensors.serialize({...}, metadata={"format": "pt"}) with: a F32 [2] = 1, 2; b.bf16 BF16 [2] = 1.5, -3;
    // c I64 [] = -5; d BOOL [3] = 1, 0, 1; e F16 [0]; f I32 [2, 1] = 7, -7; g U8 [1] = 200; h F64 [1] = 0.1.
    const py = Buffer.from(
      '4AEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJjIjp7ImR0eXBlIjoiSTY0Iiwic2hhcGUiOltdLCJkYXRh' +
        'X29mZnNldHMiOlswLDhdfSwiaCI6eyJkdHlwZSI6IkY2NCIsInNoYXBlIjpbMV0sImRhdGFfb2Zmc2V0cyI6WzgsMTZdfSwiYSI6' +
        'eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6WzE2LDI0XX0sImYiOnsiZHR5cGUiOiJJMzIiLCJzaGFw' +
        'ZSI6WzIsMV0sImRhdGFfb2Zmc2V0cyI6WzI0LDMyXX0sImIuYmYxNiI6eyJkdHlwZSI6IkJGMTYiLCJzaGFwZSI6WzJdLCJkYXRh' +
        'X29mZnNldHMiOlszMiwzNl19LCJlIjp7ImR0eXBlIjoiRjE2Iiwic2hhcGUiOlswXSwiZGF0YV9vZmZzZXRzIjpbMzYsMzZdfSwi' +
        'ZyI6eyJkdHlwZSI6IlU4Iiwic2hhcGUiOlsxXSwiZGF0YV9vZmZzZXRzIjpbMzYsMzddfSwiZCI6eyJkdHlwZSI6IkJPT0wiLCJz' +
        'aGFwZSI6WzNdLCJkYXRhX29mZnNldHMiOlszNyw0MF19fSAgICD7/////////5qZmZmZmbk/AACAPwAAAEAHAAAA+f///8A/QMDI' +
        'AQAB',
      'base64',
    );
    assert.equal(py.length, 528);
    const { tensors, metadata } = decodeSafetensors(py, { allowTrailingBytes: false });
    assert.deepEqual(metadata, { format: 'pt' });
    const got = Object.fromEntries([...tensors].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, bytes: [...rawBytes(t)] }]));
    const le = (a: { buffer: ArrayBufferLike }): number[] => [...new Uint8Array(a.buffer)];
    assert.deepEqual(got, {
      c: { dtype: 'int64', shape: [], bytes: le(new BigInt64Array([-5n])) },
      h: { dtype: 'float64', shape: [1], bytes: le(new Float64Array([0.1])) },
      a: { dtype: 'float32', shape: [2], bytes: le(new Float32Array([1, 2])) },
      f: { dtype: 'int32', shape: [2, 1], bytes: le(new Int32Array([7, -7])) },
      'b.bf16': { dtype: 'bfloat16', shape: [2], bytes: le(new Uint16Array([0x3fc0, 0xc040])) },
      e: { dtype: 'float16', shape: [0], bytes: [] },
      g: { dtype: 'uint8', shape: [1], bytes: [200] },
      d: { dtype: 'bool', shape: [3], bytes: [1, 0, 1] },
    });
    const asF32 = tensors.get('b.bf16')!.to('float32');
    assert.deepEqual(asF32.toArray(), [1.5, -3]);
    asF32.dispose();
    assert.ok(encodeSafetensors(tensors, { format: 'pt' }).equals(py), 'our encoder differs from Python safetensors');
    disposeAll(tensors);
  });

  test('layout: dtype alignment descending then name, every tensor aligned, data contiguous', () => {
    const ts = new Map<string, Tensor>([
      ['z_bool', tensor(new Uint8Array([1, 0, 1]), { dtype: 'bool' })],
      ['a_u8', tensor(new Uint8Array([5]))],
      ['f16', tensor([1, 2, 3], { dtype: 'float16' })],
      ['bf16', tensor([1], { dtype: 'bfloat16' })],
      ['i32', tensor([1, 2, 3], { dtype: 'int32' })],
      ['b_f32', tensor([1])],
      ['a_f32', tensor([1, 2, 3])],
      ['f64', tensor([1], { dtype: 'float64' })],
      ['i64', tensor([1, 2], { dtype: 'int64' })],
    ]);
    const buf = encodeSafetensors(ts);
    const h = readSafetensorsHeader(buf);
    assert.deepEqual(h.entries.map((e) => e.name), ['i64', 'f64', 'a_f32', 'b_f32', 'i32', 'bf16', 'f16', 'a_u8', 'z_bool']);
    assert.equal(h.dataStart % 8, 0);
    assert.equal(h.headerBytes % 8, 0);
    let cursor = h.dataStart;
    for (const e of h.entries) {
      assert.equal(e.begin, cursor);
      const size = { int64: 8, float64: 8, float32: 4, int32: 4, bfloat16: 2, float16: 2, uint8: 1, bool: 1 }[e.dtype as string]!;
      assert.equal(e.begin % size, 0, `${e.name} misaligned`);
      cursor = e.end;
    }
    assert.equal(cursor, buf.length);
    // The header is compact JSON padded with spaces, and parses as the spec describes.
    const n = Number(buf.readBigUInt64LE(0));
    const text = buf.subarray(8, 8 + n).toString('utf8');
    assert.match(text, /^\{[^ ]*\} *$/);
    const j = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    assert.deepEqual(j.i64, { dtype: 'I64', shape: [2], data_offsets: [0, 16] });
    assert.deepEqual(j.z_bool, { dtype: 'BOOL', shape: [3], data_offsets: [buf.length - 8 - n - 3, buf.length - 8 - n] });
    for (const t of ts.values()) t.dispose();
  });

  test('tensor names that look like integers or contain JSON specials keep their layout order', () => {
    const ts = new Map<string, Tensor>([
      ['10', tensor([1])],
      ['2', tensor([2])],
      ['q"uote\\\n', tensor([3])],
      ['é', tensor([4])],
    ]);
    const buf = encodeSafetensors(ts);
    const h = readSafetensorsHeader(buf);
    // UTF-8 byte order, as Rust sorts Strings.
    assert.deepEqual(h.entries.map((e) => e.name), ['10', '2', 'q"uote\\\n', 'é']);
    const { tensors } = decodeSafetensors(buf);
    for (const [k, t] of ts) assert.deepEqual(tensors.get(k)!.toArray(), t.toArray());
    disposeAll(tensors);
    for (const t of ts.values()) t.dispose();
  });

  test('invalid inputs to the encoder are rejected', () => {
    const t = tensor([1]);
    throwsCheckpoint(() => encodeSafetensors({ __metadata__: t }), /reserved/);
    throwsCheckpoint(() => encodeSafetensors({ ['bad\uD800']: t }), /well-formed/);
    throwsCheckpoint(() => encodeSafetensors({ x: 3 as unknown as Tensor }), /not a Tensor/);
    throwsCheckpoint(() => encodeSafetensors({ x: t }, { k: 1 as unknown as string }), /must be a string/);
    const gone = tensor([1]);
    gone.dispose();
    throwsCheckpoint(() => encodeSafetensors({ gone }), /disposed/);
    t.dispose();
  });
});

// ------------------------------------------------------------------ safetensors: malformed input

describe('safetensors validation', () => {
  test('the valid fixture decodes', () => {
    const { tensors } = decodeSafetensors(validFile());
    assert.deepEqual(tensors.get('a')!.toArray(), [1, 2]);
    assert.deepEqual(tensors.get('b')!.toArray(), [7, 8, 9]);
    disposeAll(tensors);
  });

  test('every truncation of a valid file is a CheckpointError naming the source', () => {
    const full = validFile();
    for (let len = 0; len < full.length; len++) {
      throwsCheckpoint(() => decodeSafetensors(full.subarray(0, len), { source: 'trunc.safetensors' }), /truncated|too short|not a safetensors|runs past|corrupt/, 'trunc.safetensors');
    }
    throwsCheckpoint(() => decodeSafetensors(Buffer.alloc(0), { source: 'e.safetensors' }), /shorter than the 8-byte/, 'e.safetensors');
    throwsCheckpoint(() => decodeSafetensors(full.subarray(0, 7)), /shorter than the 8-byte/);
    throwsCheckpoint(() => decodeSafetensors(full.subarray(0, 20)), /runs past the end of the file/);
    throwsCheckpoint(() => decodeSafetensors(full.subarray(0, full.length - 1)), /tensor "b".*run past the end of the data/);
  });

  test('bad header lengths', () => {
    const data = f32(1, 2);
    throwsCheckpoint(() => decodeSafetensors(build(VALID_HEADER, data, { n: 2n ** 64n - 1n })), /over the 100000000-byte limit/);
    throwsCheckpoint(() => decodeSafetensors(build(VALID_HEADER, data, { n: 100_000_001 })), /limit/);
    throwsCheckpoint(() => decodeSafetensors(build(VALID_HEADER, data, { n: 5000 })), /runs past the end of the file/);
    throwsCheckpoint(() => decodeSafetensors(Buffer.concat([le64(0), data])), /too short to hold a JSON object/);
  });

  test('header text: UTF-8, JSON, object', () => {
    const bad = build(VALID_HEADER, [...f32(1, 2), 7, 8, 9]);
    bad[20] = 0xff; // inside the JSON
    throwsCheckpoint(() => decodeSafetensors(bad, { source: 'u.safetensors' }), /not valid UTF-8/, 'u.safetensors');
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}     ')]);
    throwsCheckpoint(() => decodeSafetensors(Buffer.concat([le64(bom.length), bom])), /does not start with '\{'/);
    throwsCheckpoint(() => decodeSafetensors(build('[1, 2, 3]')), /does not start with '\{'/);
    throwsCheckpoint(() => decodeSafetensors(build(' {}')), /does not start with '\{'/);
    throwsCheckpoint(() => decodeSafetensors(build('{"a":{"dtype":"F32"')), /not valid JSON/);
    throwsCheckpoint(() => decodeSafetensors(build('{"a":1}')), /entry for tensor "a" is not an object/);
    throwsCheckpoint(() => decodeSafetensors(build('{"a":[]}')), /not an object/);
    throwsCheckpoint(() => decodeSafetensors(build('{"a":null}')), /not an object/);
    // Garbage bytes (NULs) as padding are not valid JSON whitespace.
    const nul = Buffer.concat([Buffer.from('{}'), Buffer.alloc(6)]);
    throwsCheckpoint(() => decodeSafetensors(Buffer.concat([le64(8), nul])), /not valid JSON/);
  });

  test('entries: missing fields, bad dtype, bad shape, bad offsets', () => {
    const d8 = f32(1, 2);
    const one = (info: unknown): Buffer => build({ a: info }, d8);
    const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
    throwsCheckpoint(() => decodeSafetensors(one({ shape: [2], data_offsets: [0, 8] }), { source: 'm.st' }), /"a" has no dtype/, 'm.st');
    throwsCheckpoint(() => decodeSafetensors(one({ dtype: 'F32', data_offsets: [0, 8] })), /"a" has no shape/);
    throwsCheckpoint(() => decodeSafetensors(one({ dtype: 'F32', shape: [2] })), /"a" has no data_offsets/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, dtype: 'F33' })), /unknown dtype "F33"/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, dtype: 'f32' })), /unknown dtype "f32"/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, dtype: 7 })), /non-string dtype/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, dtype: 'I8', shape: [8] })), /dtype I8, which gue does not support/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, shape: [-2] })), /invalid shape \[-2\]/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, shape: [1.5] })), /invalid shape/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, shape: ['2'] })), /invalid shape/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, shape: 2 })), /invalid shape/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, shape: null })), /invalid shape/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, shape: [2 ** 53] })), /invalid shape/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, shape: [2 ** 30, 2 ** 30, 2 ** 30] })), /too large/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, shape: [3] })), /hold 8 bytes but F32 shape \[3\] needs 12/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, shape: [] })), /needs 4/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, data_offsets: [0] })), /invalid data_offsets/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, data_offsets: [0, 8, 8] })), /invalid data_offsets/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, data_offsets: [-8, 0] })), /invalid data_offsets/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, data_offsets: [0, 8.5] })), /invalid data_offsets/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, data_offsets: '0,8' })), /invalid data_offsets/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, data_offsets: [8, 0] })), /end before begin/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, data_offsets: [4, 12] })), /run past the end of the data/);
    throwsCheckpoint(() => decodeSafetensors(one({ ...ok, data_offsets: [2 ** 40, 2 ** 40 + 8] })), /run past the end/);
    // The same header with enough data is fine (sanity check of the helper).
    const r = decodeSafetensors(one(ok));
    disposeAll(r.tensors);
  });

  test('overlapping, gapped and out-of-order offsets', () => {
    const data = f32(1, 2, 3, 4);
    throwsCheckpoint(
      () => decodeSafetensors(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data)),
      /"b" bytes \[4, 12\] overlap tensor "a"/,
    );
    throwsCheckpoint(
      () => decodeSafetensors(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data)),
      /overlap/,
    );
    throwsCheckpoint(
      () => decodeSafetensors(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [12, 16] } }, data)),
      /bytes \[4, 12\) before tensor "b" belong to no tensor/,
    );
    throwsCheckpoint(() => decodeSafetensors(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data)), /\[0, 4\) before tensor "a"/);
    // Header order different from offset order is valid (the reference sorts by offsets too).
    const r = decodeSafetensors(build({ b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data));
    assert.deepEqual([...r.tensors.keys()], ['a', 'b']);
    assert.deepEqual(r.tensors.get('b')!.toArray(), [3, 4]);
    disposeAll(r.tensors);
    // Zero-size tensors may share an offset.
    const z = decodeSafetensors(
      build({ e1: { dtype: 'F32', shape: [0], data_offsets: [4, 4] }, a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, e2: { dtype: 'I64', shape: [0, 3], data_offsets: [4, 4] }, b: { dtype: 'F32', shape: [3], data_offsets: [4, 16] } }, data),
    );
    assert.deepEqual(z.tensors.get('e2')!.shape, [0, 3]);
    assert.deepEqual(z.tensors.get('b')!.toArray(), [2, 3, 4]);
    disposeAll(z.tensors);
  });

  test('trailing bytes: allowed by default, rejected with allowTrailingBytes: false', () => {
    const f = Buffer.concat([validFile(), Buffer.from('garbage')]);
    const r = decodeSafetensors(f);
    assert.deepEqual(r.tensors.get('b')!.toArray(), [7, 8, 9]);
    disposeAll(r.tensors);
    throwsCheckpoint(() => decodeSafetensors(f, { allowTrailingBytes: false }), /7 bytes after the last tensor/);
    const r2 = decodeSafetensors(validFile(), { allowTrailingBytes: false });
    disposeAll(r2.tensors);
  });

  test('metadata and BOOL content are validated', () => {
    const d = f32(1, 2);
    const t = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
    throwsCheckpoint(() => decodeSafetensors(build({ __metadata__: { k: 1 }, t }, d)), /value for "k" is not a string/);
    throwsCheckpoint(() => decodeSafetensors(build({ __metadata__: ['x'], t }, d)), /must be an object/);
    throwsCheckpoint(() => decodeSafetensors(build({ __metadata__: 'x', t }, d)), /must be an object/);
    const nullMeta = decodeSafetensors(build({ __metadata__: null, t }, d));
    assert.deepEqual(nullMeta.metadata, {});
    disposeAll(nullMeta.tensors);
    throwsCheckpoint(() => decodeSafetensors(build({ b: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] } }, [1, 2, 0])), /BOOL tensor "b" holds byte 2 at element 1/);
  });

  test('no tensor leaks when tensor creation fails; engine errors become CheckpointError', () => {
    const before = memory().tensors;
    throwsCheckpoint(() => decodeSafetensors(validFile(), { device: 'nonsense-device', source: 'dev.st' }), /could not create tensor .* on device 'nonsense-device'/, 'dev.st');
    assert.equal(memory().tensors, before);
    // Fault injection: the second tensor's creation fails; the first must be freed, nothing returned.
    const n = native();
    const orig = n.fromBuffer!;
    let calls = 0;
    n.fromBuffer = (...args: unknown[]) => {
      if (++calls === 2) throw new Error('injected failure');
      return orig(...args);
    };
    try {
      throwsCheckpoint(() => decodeSafetensors(validFile(), { source: 'inj.st' }), /could not create tensor "b" \(uint8 \[3\]\) on device 'cpu': injected failure/, 'inj.st');
    } finally {
      n.fromBuffer = orig;
    }
    assert.equal(calls, 2);
    assert.equal(memory().tensors, before, 'the first tensor leaked');
  });

  test('fuzz: random corruption yields a result or a CheckpointError, never anything else', () => {
    const base = encodeSafetensors(
      new Map<string, Tensor>([
        ['w', tensor([1, 2, 3, 4], { shape: [2, 2] })],
        ['idx', tensor([1, 2], { dtype: 'int64' })],
        ['m', tensor(new Uint8Array([1, 0]), { dtype: 'bool' })],
      ]),
      { note: 'fuzz' },
    );
    const r = prng(12345);
    const start = memory().tensors;
    let ok = 0;
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const f = Buffer.from(base);
      const flips = 1 + (r() % 3);
      for (let k = 0; k < flips; k++) {
        // Mostly hit the length and the header, where structure lives.
        const pos = r() % 4 === 0 ? r() % f.length : r() % Math.min(f.length, 8 + 160);
        f[pos] = r() & 0xff;
      }
      const cut = r() % 5 === 0 ? r() % f.length : f.length;
      try {
        const res = decodeSafetensors(f.subarray(0, cut), { source: 'fuzz.st' });
        ok++;
        disposeAll(res.tensors);
      } catch (e) {
        assert.ok(e instanceof CheckpointError, `non-CheckpointError thrown: ${String(e)}`);
        assert.ok(e.message.startsWith('fuzz.st: '));
        rejected++;
      }
    }
    assert.ok(rejected > 1000, `expected most corruptions to be rejected (${rejected})`);
    assert.ok(ok > 0, 'some corruptions (in data bytes) should still decode');
    assert.equal(memory().tensors, start, 'decode leaked tensors');
  });

  test('loading a missing file, a directory, or a bad file names the file', async () => {
    const dir = freshDir();
    const missing = join(dir, 'nope.safetensors');
    await rejectsCheckpoint(loadSafetensors(missing), /file not found/, 'nope.safetensors');
    throwsCheckpoint(() => loadSafetensorsSync(missing), /file not found/, 'nope.safetensors');
    await rejectsCheckpoint(loadSafetensors(dir), /is a directory/, dir);
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, validFile().subarray(0, 30));
    await rejectsCheckpoint(loadSafetensors(bad), /runs past the end/, 'bad.safetensors');
    throwsCheckpoint(() => loadSafetensorsSync(bad), /runs past the end/, 'bad.safetensors');
  });
});

// ------------------------------------------------------------------ atomic writes

describe('atomic writes', () => {
  test('write, overwrite, JSON; no temp files left', async () => {
    const dir = freshDir();
    const p = join(dir, 'f.bin');
    await writeFileAtomic(p, Buffer.from([1, 2, 3]));
    assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
    await writeFileAtomic(p, 'héllo');
    assert.equal(readFileSync(p, 'utf8'), 'héllo');
    await writeFileAtomic(p, [Buffer.from('ab'), new Uint8Array([0x63]), new Uint8Array(0)]);
    assert.equal(readFileSync(p, 'utf8'), 'abc');
    writeFileAtomicSync(p, 'sync');
    assert.equal(readFileSync(p, 'utf8'), 'sync');
    await writeFileAtomic(p, Buffer.alloc(0));
    assert.equal(readFileSync(p).length, 0);
    const j = join(dir, 'x.json');
    await writeJsonAtomic(j, { a: 1, b: [true, null] });
    assert.equal(readFileSync(j, 'utf8'), '{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}\n');
    writeJsonAtomicSync(j, [1]);
    assert.equal(readFileSync(j, 'utf8'), '[\n  1\n]\n');
    assert.deepEqual(readdirSync(dir).sort(), ['f.bin', 'x.json']);
  });

  test('a large multi-chunk write is complete', async () => {
    const dir = freshDir();
    const p = join(dir, 'big.bin');
    const chunks = Array.from({ length: 8 }, (_, i) => randomBytes(1 << 20, i + 1));
    await writeFileAtomic(p, chunks);
    assert.ok(readFileSync(p).equals(Buffer.concat(chunks)));
    writeFileAtomicSync(p, chunks.slice(0, 3));
    assert.ok(readFileSync(p).equals(Buffer.concat(chunks.slice(0, 3))));
    noTempFiles(dir);
  });

  test('temp files are hidden, in the same directory, and unique', () => {
    const p = join(root, 'some', 'target.safetensors');
    const a = tempPathFor(p);
    const b = tempPathFor(p);
    assert.notEqual(a, b);
    assert.equal(dirname(a), dirname(p));
    assert.ok(basename(a).startsWith('.target.safetensors.'));
    assert.ok(basename(a).includes(`.${process.pid}.`));
    assert.ok(basename(tempPathFor(join(root, 'x'.repeat(250)))).length <= 255);
  });

  test('missing directory: AtomicWriteError naming the path, nothing created', async () => {
    const dir = freshDir();
    const p = join(dir, 'missing', 'f.json');
    await assert.rejects(writeFileAtomic(p, 'x'), (e: unknown) => {
      assert.ok(e instanceof AtomicWriteError);
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.path, p);
      assert.match(e.message, /could not write .*missing\/f\.json \(does the directory exist\?\)/);
      return true;
    });
    assert.throws(() => writeJsonAtomicSync(p, {}), AtomicWriteError);
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a failure after the temp file exists removes it and leaves the original intact', async () => {
    const dir = freshDir();
    const p = join(dir, 'keep.txt');
    writeFileSync(p, 'original');
    const bad = [Buffer.from('new content'), 42 as unknown as Uint8Array];
    await assert.rejects(writeFileAtomic(p, bad), (e: unknown) => e instanceof AtomicWriteError && /chunk 1 is not a Uint8Array/.test(e.message));
    assert.throws(() => writeFileAtomicSync(p, bad), (e: unknown) => e instanceof AtomicWriteError && /left unchanged/.test(e.message));
    assert.equal(readFileSync(p, 'utf8'), 'original');
    assert.deepEqual(readdirSync(dir), ['keep.txt']);
  });

  test('a failing rename (target is a directory) removes the temp file and leaves the target intact', async () => {
    const dir = freshDir();
    const target = join(dir, 'occupied');
    mkdirSync(target);
    writeFileSync(join(target, 'inner'), 'data');
    await assert.rejects(writeFileAtomic(target, 'x'), AtomicWriteError);
    assert.throws(() => writeFileAtomicSync(target, 'x'), AtomicWriteError);
    assert.deepEqual(readdirSync(dir), ['occupied']);
    assert.equal(readFileSync(join(target, 'inner'), 'utf8'), 'data');
  });

  test('non-serializable JSON is rejected before touching the file', async () => {
    const dir = freshDir();
    const p = join(dir, 'v.json');
    writeFileSync(p, '{"old": true}\n');
    await assert.rejects(writeJsonAtomic(p, { n: 1n }), (e: unknown) => e instanceof AtomicWriteError && /not JSON-serializable/.test(e.message));
    assert.throws(() => writeJsonAtomicSync(p, undefined), AtomicWriteError);
    assert.equal(readFileSync(p, 'utf8'), '{"old": true}\n');
    assert.deepEqual(readdirSync(dir), ['v.json']);
  });

  test('concurrent writers: the file ends up whole, from one of them', async () => {
    const dir = freshDir();
    const p = join(dir, 'race.bin');
    const payloads = Array.from({ length: 16 }, (_, i) => Buffer.alloc(50_000 + i, i));
    await Promise.all(payloads.map((b) => writeFileAtomic(p, b)));
    const got = readFileSync(p);
    assert.ok(payloads.some((b) => b.equals(got)));
    assert.deepEqual(readdirSync(dir), ['race.bin']);
  });
});

// ------------------------------------------------------------------ checkpoints

interface Meta {
  epoch: number;
  args: { lr: number; tags: string[] };
  note: string;
}

function ckptTensors(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ['model.conv.weight', tensor(new Float32Array([0.1, -0.2, 0.3, 0.4, 5, 6]), { shape: [1, 2, 3] })],
    ['model.bn.num_batches', tensor(new BigInt64Array([17n]), { shape: [] })],
    ['delta', tensor([0.5, -0.25], { dtype: 'float16' })],
    ['mask', tensor(new Uint8Array([1, 0, 1]), { dtype: 'bool' })],
    ['empty', tensor(new Float32Array(0), { shape: [0, 3] })],
  ]);
}

function sameTensors(a: Map<string, Tensor>, b: Map<string, Tensor>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, t] of a) {
    const u = b.get(k)!;
    assert.equal(u.dtype, t.dtype, k);
    assert.deepEqual(u.shape, t.shape, k);
    assert.ok(rawBytes(u).equals(rawBytes(t)), `${k} bits differ`);
  }
}

function editSidecar(path: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(j);
  writeFileSync(path, JSON.stringify(j));
}

describe('checkpoints', () => {
  const meta: Meta = { epoch: 3, args: { lr: 0.1, tags: ['a', 'b'] }, note: 'ünïcode' };

  test('round trip with a base path (async)', async () => {
    const dir = freshDir();
    const ts = ckptTensors();
    const saved = await saveCheckpoint(join(dir, 'sub', 'run1'), { tensors: ts, meta });
    assert.equal(saved.paths.tensors, join(dir, 'sub', 'run1.safetensors'));
    assert.equal(saved.paths.sidecar, join(dir, 'sub', 'run1.json'));
    assert.deepEqual(readdirSync(join(dir, 'sub')).sort(), ['run1.json', 'run1.safetensors']);
    assert.ok(hasCheckpoint(join(dir, 'sub', 'run1')));
    const loaded = await loadCheckpoint<Meta>(join(dir, 'sub', 'run1'));
    assert.deepEqual(loaded.meta, meta);
    assert.equal(loaded.id, saved.id);
    sameTensors(ts, loaded.tensors);
    // The sidecar's own description of the checkpoint.
    const side = JSON.parse(readFileSync(saved.paths.sidecar, 'utf8')) as Record<string, unknown>;
    assert.equal(side.format, 'gue-checkpoint');
    assert.equal(side.version, 1);
    assert.equal(side.bytes, readFileSync(saved.paths.tensors).length);
    assert.match(side.sha256 as string, /^[0-9a-f]{64}$/);
    assert.deepEqual(side.tensors, [
      { name: 'delta', dtype: 'float16', shape: [2] },
      { name: 'empty', dtype: 'float32', shape: [0, 3] },
      { name: 'mask', dtype: 'bool', shape: [3] },
      { name: 'model.bn.num_batches', dtype: 'int64', shape: [] },
      { name: 'model.conv.weight', dtype: 'float32', shape: [1, 2, 3] },
    ]);
    assert.ok(readFileSync(saved.paths.sidecar, 'utf8').endsWith('}\n'));
    // The tensors file is plain safetensors carrying the save id.
    const plain = await loadSafetensors(saved.paths.tensors);
    assert.equal(plain.metadata[CHECKPOINT_ID_KEY], saved.id);
    disposeAll(plain.tensors);
    disposeAll(loaded.tensors);
    disposeAll(ts);
  });

  test('round trip with a directory, sync, and path spellings', () => {
    const dir = freshDir();
    const ts = ckptTensors();
    const saved = saveCheckpointSync(dir, { tensors: ts, meta });
    assert.equal(saved.paths.base, join(dir, 'checkpoint'));
    assert.deepEqual(checkpointPaths(`${join(dir, 'new')}/`).base, join(dir, 'new', 'checkpoint'));
    assert.deepEqual(checkpointPaths(join(dir, 'checkpoint.safetensors')), saved.paths);
    assert.deepEqual(checkpointPaths(join(dir, 'checkpoint.json')), saved.paths);
    for (const spelling of [dir, join(dir, 'checkpoint'), join(dir, 'checkpoint.json')]) {
      const l = loadCheckpointSync<Meta>(spelling);
      assert.deepEqual(l.meta, meta);
      sameTensors(ts, l.tensors);
      disposeAll(l.tensors);
    }
    noTempFiles(dir);
    disposeAll(ts);
  });

  test('saving again replaces the checkpoint', async () => {
    const dir = freshDir();
    const a = tensor([1, 2]);
    const b = tensor([3, 4, 5], { dtype: 'int32' });
    await saveCheckpoint(join(dir, 'c'), { tensors: { a }, meta: { step: 1 } });
    await saveCheckpoint(join(dir, 'c'), { tensors: { b }, meta: { step: 2 } });
    const l = await loadCheckpoint(join(dir, 'c'));
    assert.deepEqual(l.meta, { step: 2 });
    assert.deepEqual([...l.tensors.keys()], ['b']);
    assert.deepEqual(l.tensors.get('b')!.toArray(), [3, 4, 5]);
    disposeAll(l.tensors);
    assert.deepEqual(readdirSync(dir).sort(), ['c.json', 'c.safetensors']);
    a.dispose();
    b.dispose();
  });

  test('missing sidecar = incomplete; nothing = no checkpoint; missing tensors = incomplete', async () => {
    const dir = freshDir();
    const base = join(dir, 'ck');
    await rejectsCheckpoint(loadCheckpoint(base), /no checkpoint here/, base);
    throwsCheckpoint(() => loadCheckpointSync(base), /no checkpoint here/, base);
    assert.equal(hasCheckpoint(base), false);
    const t = tensor([1]);
    await saveSafetensors(`${base}.safetensors`, { t });
    await rejectsCheckpoint(loadCheckpoint(base), /incomplete checkpoint: .*ck\.safetensors exists but its sidecar .*ck\.json is missing/);
    throwsCheckpoint(() => loadCheckpointSync(base), /incomplete checkpoint/);
    assert.equal(hasCheckpoint(base), false);
    await saveCheckpoint(base, { tensors: { t }, meta: {} });
    rmSync(`${base}.safetensors`);
    await rejectsCheckpoint(loadCheckpoint(base), /incomplete checkpoint: the sidecar exists but .*ck\.safetensors is missing/);
    throwsCheckpoint(() => loadCheckpointSync(base), /incomplete checkpoint/);
    t.dispose();
  });

  test('tensors file from another save: size / hash / id mismatches', async () => {
    const dir = freshDir();
    const t1 = tensor([1, 2, 3]);
    const t2 = tensor([4, 5, 6]);
    const a = await saveCheckpoint(join(dir, 'a'), { tensors: { w: t1 }, meta: { n: 1 } });
    const b = await saveCheckpoint(join(dir, 'b'), { tensors: { w: t2, extra: t1 }, meta: { n: 2 } });
    const c = await saveCheckpoint(join(dir, 'c'), { tensors: { w: t2 }, meta: { n: 3 } });
    const before = memory().tensors;
    // Different size.
    copyFileSync(b.paths.tensors, a.paths.tensors);
    await rejectsCheckpoint(loadCheckpoint(join(dir, 'a')), /has \d+ bytes but the sidecar records \d+.*different saves/);
    // Same size, different content (a crash between the tensors rename and the sidecar rename).
    copyFileSync(c.paths.tensors, join(dir, 'a.safetensors'));
    editSidecar(a.paths.sidecar, (j) => {
      j.bytes = c.bytes;
    });
    await rejectsCheckpoint(loadCheckpoint(join(dir, 'a')), /SHA-256 .* does not match the sidecar/);
    // Hash updated too, but the save id still differs.
    editSidecar(a.paths.sidecar, (j) => {
      j.sha256 = c.sha256;
    });
    await rejectsCheckpoint(loadCheckpoint(join(dir, 'a')), /checkpoint id .* but the sidecar has/);
    assert.equal(memory().tensors, before, 'failed loads leaked tensors');
    t1.dispose();
    t2.dispose();
  });

  test('sidecar tensor list is cross-checked against the file', async () => {
    const dir = freshDir();
    const ts = ckptTensors();
    const s = await saveCheckpoint(join(dir, 'x'), { tensors: ts, meta: {} });
    const orig = readFileSync(s.paths.sidecar, 'utf8');
    const before = memory().tensors;
    const cases: [(j: Record<string, unknown>) => void, RegExp][] = [
      [(j) => (j.tensors as unknown[]).splice(0, 1), /not listed in the sidecar: "delta"/],
      [(j) => (j.tensors as unknown[]).push({ name: 'ghost', dtype: 'float32', shape: [1] }), /missing from the tensors file: "ghost"/],
      [(j) => ((j.tensors as { shape: number[] }[])[4]!.shape = [2, 3]), /"model\.conv\.weight" is float32 \[1, 2, 3\] in the file but float32 \[2, 3\] in the sidecar/],
      [(j) => ((j.tensors as { dtype: string }[])[2]!.dtype = 'uint8'), /"mask" is bool \[3\] in the file but uint8 \[3\]/],
    ];
    for (const [edit, re] of cases) {
      writeFileSync(s.paths.sidecar, orig);
      editSidecar(s.paths.sidecar, edit);
      await rejectsCheckpoint(loadCheckpoint(join(dir, 'x')), re, join(dir, 'x'));
      throwsCheckpoint(() => loadCheckpointSync(join(dir, 'x')), re);
    }
    assert.equal(memory().tensors, before, 'failed loads leaked tensors');
    writeFileSync(s.paths.sidecar, orig);
    const ok = await loadCheckpoint(join(dir, 'x'));
    disposeAll(ok.tensors);
    disposeAll(ts);
  });

  test('corrupt or foreign sidecars', async () => {
    const dir = freshDir();
    const t = tensor([1]);
    const s = await saveCheckpoint(join(dir, 'y'), { tensors: { t }, meta: { k: 1 } });
    const orig = readFileSync(s.paths.sidecar, 'utf8');
    const base = join(dir, 'y');
    writeFileSync(s.paths.sidecar, orig.slice(0, orig.length / 2));
    await rejectsCheckpoint(loadCheckpoint(base), /corrupt checkpoint sidecar: not valid JSON/, 'y.json');
    writeFileSync(s.paths.sidecar, '[]');
    await rejectsCheckpoint(loadCheckpoint(base), /not a JSON object/);
    const edits: [(j: Record<string, unknown>) => void, RegExp][] = [
      [(j) => (j.format = 'other'), /not a gue checkpoint sidecar/],
      [(j) => (j.version = 2), /format version 2 is not supported/],
      [(j) => delete j.id, /id is missing/],
      [(j) => (j.sha256 = 'abc'), /sha256 is missing or invalid/],
      [(j) => (j.bytes = -1), /bytes is missing or invalid/],
      [(j) => (j.tensors = {}), /tensors is not a list/],
      [(j) => (j.tensors = [{ dtype: 'float32', shape: [1] }]), /tensors\[0\] has no name/],
      [(j) => (j.tensors = [{ name: 't', dtype: 'F32', shape: [1] }]), /invalid dtype "F32"/],
      [(j) => (j.tensors = [{ name: 't', dtype: 'float32', shape: [-1] }]), /invalid shape/],
      [(j) => (j.tensors = [{ name: 't', dtype: 'float32', shape: [1] }, { name: 't', dtype: 'float32', shape: [1] }]), /listed twice/],
      [(j) => (j.meta = 5), /meta is not an object/],
    ];
    for (const [edit, re] of edits) {
      writeFileSync(s.paths.sidecar, orig);
      editSidecar(s.paths.sidecar, edit);
      await rejectsCheckpoint(loadCheckpoint(base), re, 'y.json');
    }
    t.dispose();
  });

  test('invalid meta or tensors are rejected before anything is written', async () => {
    const dir = freshDir();
    const t = tensor([1]);
    await rejectsCheckpoint(saveCheckpoint(join(dir, 'm'), { tensors: { t }, meta: null as unknown as object }), /meta must be a plain JSON object/);
    await rejectsCheckpoint(saveCheckpoint(join(dir, 'm'), { tensors: { t }, meta: [1] as unknown as object }), /meta must be a plain JSON object/);
    await rejectsCheckpoint(saveCheckpoint(join(dir, 'm'), { tensors: { t }, meta: { big: 1n } }), /not JSON-serializable/);
    await rejectsCheckpoint(saveCheckpoint(join(dir, 'm'), { tensors: { t: 1 as unknown as Tensor }, meta: {} }), /not a Tensor/);
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(existsSync(join(dir, 'm.json')), false);
    t.dispose();
  });
});
