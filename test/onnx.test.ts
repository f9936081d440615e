// ONNX export (src/export/onnx.ts) and the protection-only runtime (src/protect/onnx-backend.ts):
// onnxruntime-node must compute what libtorch computes, clamp(x + ε·G(x), 0, 1) with G in eval mode,
// for 1 and 3 channels, sizes that are and are not multiples of 8; the metadata must round-trip; non-gue
// models are rejected clearly; and the ONNX path must work in a process where libtorch is unavailable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, memory, noGrad, rand, randn, scope, type Tensor } from '../src/engine/index.js';
import { UNet } from '../src/nn/models/unet.js';
import { exportOnnx, ONNX_IR_VERSION, ONNX_OPSET } from '../src/export/onnx.js';
import { readGueOnnxMeta, readOnnxHeader } from '../src/export/onnx-meta.js';
import { ProtoWriter, readFields } from '../src/export/protobuf.js';
import { createOnnxBackend } from '../src/protect/onnx-backend.js';
import { saveGenerator } from '../src/game/train.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');
const EPS = 8 / 255;
const tmp = mkdtempSync(join(tmpdir(), 'gue-onnx-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A small seeded U-Net with non-trivial BatchNorm statistics and affine parameters, in eval mode. */
function makeGenerator(channels: number, width: number, seed: number): UNet {
  const g = new Generator(seed);
  const gen = new UNet({ channels, width, generator: g });
  noGrad(() => scope(() => {
    // Random BN affine parameters (they start at 1 and 0), then train-mode forwards on shifted, scaled
    // inputs so the running mean and variance move away from 0 and 1.
    for (const [name, p] of gen.namedParameters()) {
      if (/\.(1|4)\.weight$/.test(name)) p.copy_(rand(p.shape, { generator: g }).mul(1.5).add(0.25));
      if (/\.(1|4)\.bias$/.test(name)) p.copy_(randn(p.shape, { generator: g }).mul(0.3));
    }
    gen.train();
    for (let i = 0; i < 4; i++) gen.forward(rand([3, channels, 16, 16], { generator: g }).mul(1 + i).add(0.2 * i));
  }));
  gen.eval();
  return gen;
}

function reference(gen: UNet, x: Tensor): Float32Array {
  return noGrad(() => scope(() => x.add(gen.forward(x).mul(EPS)).clamp(0, 1).toTypedArray() as Float32Array));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d;
  }
  return m;
}

test('protobuf: varints, negative int64, floats, strings and nested messages round-trip through readFields', () => {
  const inner = new ProtoWriter().string(1, 'ünïcode').varint(2, 300);
  const big = new Uint8Array(1000).map((_, i) => i % 251);
  const w = new ProtoWriter().varint(1, 0).varint(2, 127).varint(3, 128).varint(4, 2 ** 40).varint(5, -1).float(6, 1.5).message(7, inner).bytes(8, big);
  const b = w.finish();
  const f = readFields(b);
  assert.deepEqual(f.slice(0, 5).map((x) => x.int), [0n, 127n, 128n, 2n ** 40n, 2n ** 64n - 1n]);
  assert.deepEqual([...b.subarray(0, 4)], [0x08, 0x00, 0x10, 0x7f]);
  assert.equal(new DataView(f[5]!.data!.buffer, f[5]!.data!.byteOffset, 4).getFloat32(0, true), 1.5);
  const g = readFields(f[6]!.data!);
  assert.equal(new TextDecoder().decode(g[0]!.data), 'ünïcode');
  assert.equal(g[1]!.int, 300n);
  assert.deepEqual([...f[7]!.data!], [...big]);
  assert.throws(() => readFields(b.subarray(0, b.length - 3)), /runs past the end/);
});

test('onnxruntime matches libtorch (eval mode, clamp(x + ε·G(x), 0, 1)) for 1 and 3 channels, square, non-square and tiny sizes', async () => {
  const before = memory().tensors;
  const sizes: [number, number][] = [[28, 28], [32, 32], [20, 36], [24, 40], [3, 5]];
  for (const [channels, width, seed] of [[1, 4, 1], [3, 6, 2]] as const) {
    const gen = makeGenerator(channels, width, seed);
    const path = join(tmp, `g${channels}.onnx`);
    writeFileSync(path, exportOnnx(gen, { eps: EPS, channels }));
    const backend = await createOnnxBackend(path, { threads: 1 });
    try {
      assert.equal(backend.kind, 'onnxruntime');
      assert.equal(backend.channels, channels);
      assert.equal(backend.eps, EPS);
      const g = new Generator(100 + seed);
      for (const [h, w] of sizes) {
        const shape: [number, number, number, number] = [2, channels, h, w];
        const x = rand(shape, { generator: g });
        try {
          const xa = x.toTypedArray() as Float32Array;
          const ref = reference(gen, x);
          const out = await backend.run(xa, shape);
          const diff = maxAbsDiff(out, ref);
          assert.ok(diff <= 1e-4, `${channels}ch ${h}×${w}: max |onnxruntime − libtorch| = ${diff}`);
          // The protection itself: within the budget, inside [0,1], and not trivially zero.
          const delta = maxAbsDiff(out, xa);
          assert.ok(delta <= EPS + 1e-6, `${channels}ch ${h}×${w}: L∞ ${delta} > ε`);
          assert.ok(delta > 0.2 * EPS, `${channels}ch ${h}×${w}: the perturbation is nearly zero (${delta}); the test would not see a wrong graph`);
          assert.ok(out.every((v) => v >= 0 && v <= 1));
        } finally {
          x.dispose();
        }
      }
      await assert.rejects(backend.run(new Float32Array(2 * 8 * 8), [1, channels === 1 ? 2 : 1, 8, 8]), /takes \d-channel images/);
      await assert.rejects(backend.run(new Float32Array(5), [1, channels, 8, 8]), /needs/);
    } finally {
      await backend.dispose();
      gen.dispose();
    }
  }
  assert.equal(memory().tensors, before, 'tensors leaked');
});

test('metadata round trip: gue.kind, gue.eps, gue.channels, gue.width and extra keys; opset and IR version', () => {
  const gen = makeGenerator(3, 4, 7);
  try {
    const bytes = exportOnnx(gen, { eps: 4 / 255, channels: 3, extra: { 'gue.source': 'runs/x' } });
    const h = readOnnxHeader(bytes);
    assert.equal(h.irVersion, ONNX_IR_VERSION);
    assert.deepEqual(h.opsets, { '': ONNX_OPSET });
    assert.equal(h.producerName, 'gue');
    const m = readGueOnnxMeta(bytes);
    assert.equal(m.eps, 4 / 255);
    assert.equal(m.channels, 3);
    assert.equal(m.width, 4);
    assert.equal(m.metadata['gue.kind'], 'gue-generator');
    assert.equal(m.metadata['gue.source'], 'runs/x');
    assert.throws(() => exportOnnx(gen, { eps: 0, channels: 3 }), /eps must be in \(0, 1\]/);
    assert.throws(() => exportOnnx(gen, { eps: EPS, channels: 1 }), /3-channel/);
  } finally {
    gen.dispose();
  }
});

/** A valid ONNX model that is not a gue generator: y = Identity(x), with optional metadata. */
function identityModel(meta: Record<string, string> = {}, names = ['x', 'y']): Uint8Array {
  const vi = (n: string) => new ProtoWriter().string(1, n).message(2, new ProtoWriter().message(1, new ProtoWriter().varint(1, 1)));
  const node = new ProtoWriter().string(1, names[0]!).string(2, names[1]!).string(4, 'Identity');
  const graph = new ProtoWriter().message(1, node).string(2, 'g').message(11, vi(names[0]!)).message(12, vi(names[1]!));
  const m = new ProtoWriter().varint(1, 8).message(7, graph).message(8, new ProtoWriter().string(1, '').varint(2, 17));
  for (const [k, v] of Object.entries(meta)) m.message(14, new ProtoWriter().string(1, k).string(2, v));
  return m.finish();
}

test('clear errors: missing file, not ONNX, ONNX but not a gue generator, bad metadata, wrong graph interface', async () => {
  const cases: [string, Uint8Array | null, RegExp][] = [
    ['missing.onnx', null, /no such file/],
    ['text.onnx', new TextEncoder().encode('this is not a model\n'), /is not an ONNX model/],
    ['png.onnx', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), /is not an ONNX model/],
    ['plain.onnx', identityModel(), /is an ONNX model but not a gue generator \(no gue\.kind metadata\)/],
    ['other.onnx', identityModel({ 'gue.kind': 'classifier' }), /not a gue generator \(gue\.kind is 'classifier'\)/],
    ['badeps.onnx', identityModel({ 'gue.kind': 'gue-generator', 'gue.eps': 'abc', 'gue.channels': '3' }), /bad gue\.eps/],
    ['badch.onnx', identityModel({ 'gue.kind': 'gue-generator', 'gue.eps': '0.03', 'gue.channels': '0' }), /bad gue\.channels/],
    ['iface.onnx', identityModel({ 'gue.kind': 'gue-generator', 'gue.eps': '0.03', 'gue.channels': '3' }), /a gue generator has 'image' → 'protected'/],
  ];
  for (const [name, bytes, re] of cases) {
    const p = join(tmp, name);
    if (bytes) writeFileSync(p, bytes);
    await assert.rejects(createOnnxBackend(p), (e: Error) => {
      assert.match(e.message, re, name);
      assert.ok(e.message.includes(p), `${name}: the message names the file`);
      return true;
    });
  }
});

function gue(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => assert.ok(!/\n\s+at .+:\d+:\d+/.test(s), `stack trace leaked:\n${s}`);

test('gue export --onnx: writes a verified model, refuses to overwrite, clear usage errors', () => {
  const gen = makeGenerator(1, 4, 11);
  const run = join(tmp, 'run');
  try {
    saveGenerator(join(run, 'generator'), gen, {
      kind: 'gue-generator', eps: EPS, channels: 1, width: 4, imageShape: [1, 28, 28], numClasses: 10, dataset: 'synthetic', steps: 3, options: {}, versions: {},
    });
  } finally {
    gen.dispose();
  }
  const out = join(tmp, 'cli', 'g.onnx');
  const r = gue(['export', '--onnx', run, '-o', out, '--json']);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out.trim().split('\n').pop()!) as Record<string, number | string>;
  assert.equal(res.channels, 1);
  assert.equal(res.eps, EPS);
  assert.ok(typeof res.max_abs_diff === 'number' && res.max_abs_diff <= 1e-4);
  const bytes = readFileSync(out);
  assert.equal(res.bytes, bytes.length);
  assert.equal(readGueOnnxMeta(bytes).channels, 1);
  const mtime = statSync(out).mtimeMs;

  const usage: [string[], RegExp][] = [
    [['export', '--onnx', run, '-o', out], /already exists; pass --overwrite/],
    [['export', '--onnx', run], /-o <file\.onnx> is required/],
    [['export', '-o', join(tmp, 'x.onnx')], /--onnx <generator> is required/],
    [['export', '--onnx', run, '-o', join(tmp, 'x.bin')], /must end in \.onnx/],
    [['export', '--onnx', tmp, '-o', join(tmp, 'x.onnx')], /folder without generator\.json/],
    [['export', '--onnx', out, '-o', join(tmp, 'x.onnx')], /already an ONNX model/],
    [['export', '--onnx', run, 'stray'], /unexpected argument 'stray'/],
  ];
  for (const [args, re] of usage) {
    const u = gue(args);
    assert.equal(u.code, 2, `${args.join(' ')} → ${u.code}\n${u.err}`);
    assert.match(u.err, re);
    noStack(u.err);
  }
  assert.equal(statSync(out).mtimeMs, mtime, 'the existing output was touched');
  const missing = gue(['export', '--onnx', join(tmp, 'nope'), '-o', join(tmp, 'y.onnx')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no checkpoint here/);
  assert.ok(!existsSync(join(tmp, 'y.onnx')));
  const again = gue(['export', '--onnx', join(run, 'generator.safetensors'), '-o', out, '--overwrite', '--no-verify']);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /not verified/);
  assert.deepEqual(readFileSync(out), bytes, 'the export is deterministic');
});

test('without libtorch: the ONNX backend protects, the CLI loads, and libtorch commands say what is missing', async () => {
  const gen = makeGenerator(3, 4, 21);
  const path = join(tmp, 'nolib.onnx');
  const g = new Generator(5);
  const x = rand([1, 3, 30, 34], { generator: g });
  let expected: Float32Array;
  try {
    writeFileSync(path, exportOnnx(gen, { eps: EPS, channels: 3 }));
    expected = reference(gen, x);
    writeFileSync(join(tmp, 'x.f32'), x.toTypedArray() as Float32Array);
  } finally {
    x.dispose();
    gen.dispose();
  }
  // GUE_NATIVE points at a missing addon: native() throws EngineUnavailableError, as on an install without libtorch.
  const env = { ...process.env, GUE_NATIVE: join(tmp, 'absent', 'gue_native.node'), LD_PRELOAD: '' };
  const script = `
    import { readFileSync, existsSync } from 'node:fs';
    await import(${JSON.stringify(join(ROOT, 'dist', 'src', 'cli', 'commands.js'))});
    const { createOnnxBackend } = await import(${JSON.stringify(join(ROOT, 'dist', 'src', 'protect', 'onnx-backend.js'))});
    const b = await createOnnxBackend(${JSON.stringify(path)});
    const buf = readFileSync(${JSON.stringify(join(tmp, 'x.f32'))});
    const out = await b.run(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4), [1, 3, 30, 34]);
    await b.dispose();
    const maps = existsSync('/proc/self/maps') ? readFileSync('/proc/self/maps', 'utf8') : null;
    process.stdout.write(JSON.stringify({ out: Array.from(out), eps: b.eps, torchLoaded: maps === null ? null : /libtorch|libc10|gue_native/.test(maps) }) + '\\n');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { out: number[]; eps: number; torchLoaded: boolean | null };
  assert.equal(res.eps, EPS);
  assert.ok(maxAbsDiff(res.out, expected) <= 1e-4);
  if (res.torchLoaded !== null) assert.equal(res.torchLoaded, false, 'libtorch was loaded by the ONNX path');

  const help = gue(['export', '--help'], env);
  assert.equal(help.code, 0, help.err);
  assert.match(help.out, /--onnx/);
  for (const args of [['info'], ['export', '--onnx', join(tmp, 'run'), '-o', join(tmp, 'z.onnx')]]) {
    const f = gue(args, env);
    assert.equal(f.code, 1, `${args.join(' ')}: ${f.err}`);
    assert.match(f.err, /the libtorch engine is not built .*npm run setup/);
    noStack(f.err);
  }
  assert.ok(!existsSync(join(tmp, 'z.onnx')));
});
