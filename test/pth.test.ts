// Reading PyTorch .pth state dicts without Python and without executing code, and `gue import` of the GUE
// authors' U-Net weights. The files are written by test/helpers/torchsave.ts in torch.save's format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, memory, noGrad, rand, scope, type Tensor } from '../src/engine/index.js';
import { UNet } from '../src/nn/models/index.js';
import { loadGenerator } from '../src/game/train.js';
import { readPth, PthError } from '../src/io/pth.js';
import { readPickle, PickleError } from '../src/io/pickle.js';
import { importPthGenerator } from '../src/protect/import.js';
import { contiguousStride, statePickle, torchSave, zipArchive, type SaveTensor } from './helpers/torchsave.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');
const gue = (args: string[]) => {
  const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const f32bytes = (a: number[]): Uint8Array => new Uint8Array(Float32Array.from(a).buffer);

/** The state dict of a module as torch.save would store it (one storage per tensor, keys 0, 1, ...). */
function stateTensors(sd: Map<string, Tensor>, keyPrefix = ''): [string, SaveTensor][] {
  let i = 0;
  return [...sd].map(([k, t]) => {
    const a = t.toTypedArray();
    const isLong = t.dtype === 'int64';
    return [keyPrefix + k, {
      storage: isLong ? 'LongStorage' : 'FloatStorage', key: String(i++), bytes: new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
      numel: t.shape.reduce((x, y) => x * y, 1), offset: 0, size: t.shape, stride: contiguousStride(t.shape), location: 'cuda:0',
    } satisfies SaveTensor];
  });
}

test('readPth: contiguous, strided, offset, shared, half and long tensors; prefix from the archive', () => {
  const shared = f32bytes([0, 1, 2, 3, 4, 5]);
  const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer); // 1, -2, 0.5
  const long = new Uint8Array(new BigInt64Array([7n, -3n]).buffer);
  const file = torchSave([
    ['a', { storage: 'FloatStorage', key: '0', bytes: shared, numel: 6, offset: 0, size: [2, 3], stride: [3, 1] }],
    ['a_t', { storage: 'FloatStorage', key: '0', bytes: shared, numel: 6, offset: 0, size: [3, 2], stride: [1, 3] }],
    ['tail', { storage: 'FloatStorage', key: '0', bytes: shared, numel: 6, offset: 4, size: [2], stride: [1] }],
    ['h', { storage: 'HalfStorage', key: '1', bytes: half, numel: 3, offset: 0, size: [3], stride: [1] }],
    ['n', { storage: 'LongStorage', key: '2', bytes: long, numel: 2, offset: 1, size: [], stride: [] }],
  ], { prefix: 'gue_cifar10', metadata: [['', 1], ['bn', 2]] });
  const r = readPth(file, 'test.pth');
  assert.equal(r.prefix, 'gue_cifar10');
  assert.deepEqual([...r.tensors.keys()], ['a', 'a_t', 'tail', 'h', 'n']);
  assert.deepEqual(Array.from(r.tensors.get('a')!.data as Float32Array), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(r.tensors.get('a_t')!.shape, [3, 2]);
  assert.deepEqual(Array.from(r.tensors.get('a_t')!.data as Float32Array), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(Array.from(r.tensors.get('tail')!.data as Float32Array), [4, 5]);
  assert.equal(r.tensors.get('h')!.dtype, 'float16');
  assert.deepEqual(Array.from(r.tensors.get('h')!.data as Uint16Array), [0x3c00, 0xc000, 0x3800]);
  assert.equal(r.tensors.get('n')!.dtype, 'int64');
  assert.deepEqual(r.tensors.get('n')!.shape, []);
  assert.deepEqual(Array.from(r.tensors.get('n')!.data as BigInt64Array), [-3n]);
  // The same archive with deflated entries reads the same.
  const deflated = torchSave([['a', { storage: 'FloatStorage', key: '0', bytes: shared, numel: 6, offset: 0, size: [6], stride: [1] }]], { deflate: true });
  assert.deepEqual(Array.from(readPth(deflated).tensors.get('a')!.data as Float32Array), [0, 1, 2, 3, 4, 5]);
});

test('readPth rejects malicious and broken files with clear errors, executing nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-pth-'));
  try {
    const marker = join(dir, 'pwned');
    // GLOBAL os.system + REDUCE: what a malicious torch.load payload looks like.
    const evil = Buffer.concat([
      Buffer.from([0x80, 0x02]), Buffer.from('cos\nsystem\n'), Buffer.from([0x71, 0x00, 0x58]),
      (() => { const b = Buffer.alloc(4); b.writeUInt32LE(`touch ${marker}`.length); return b; })(), Buffer.from(`touch ${marker}`),
      Buffer.from([0x85, 0x52, 0x2e]),
    ]);
    assert.throws(() => readPickle(evil), (e: Error) => e instanceof PickleError && /os\.system/.test(e.message) && /refusing/.test(e.message));
    const file = zipArchive([['archive/data.pkl', evil], ['archive/version', Buffer.from('3\n')]]);
    assert.throws(() => readPth(file, 'evil.pth'), /refusing to load: the pickle references os\.system/);
    assert.equal(existsSync(marker), false);
    // builtins.eval via STACK_GLOBAL (protocol 4) is refused too.
    const sg = Buffer.concat([Buffer.from([0x80, 0x04, 0x8c, 8]), Buffer.from('builtins'), Buffer.from([0x8c, 4]), Buffer.from('eval'), Buffer.from([0x93, 0x2e])]);
    assert.throws(() => readPickle(sg), /builtins\.eval/);
    // NEWOBJ is refused.
    assert.throws(() => readPickle(Buffer.from([0x80, 0x02, 0x63, ...Buffer.from('collections\nOrderedDict\n'), 0x29, 0x81, 0x2e])), /NEWOBJ/);
    // Not a zip, legacy format, corrupt CRC, truncated.
    assert.throws(() => readPth(Buffer.from('hello world, not a zip'), 'x.pth'), (e: Error) => e instanceof PthError && /not a PyTorch zip/.test(e.message));
    assert.throws(() => readPth(Buffer.from([0x80, 0x02, 0x8a, 0x0a]), 'old.pth'), /legacy/);
    const good = torchSave([['a', { storage: 'FloatStorage', key: '0', bytes: f32bytes([1, 2]), numel: 2, offset: 0, size: [2], stride: [1] }]]);
    const bad = Buffer.from(good);
    const at = bad.indexOf(Buffer.from(f32bytes([1, 2])));
    bad[at] = bad[at]! ^ 0xff;
    assert.throws(() => readPth(bad, 'flip.pth'), /CRC-32 mismatch/);
    assert.throws(() => readPth(good.subarray(0, good.length - 30), 'cut.pth'), /end-of-central-directory|truncated|corrupt/);
    // A pickle that is valid but not a dict.
    const list = zipArchive([['archive/data.pkl', Buffer.from([0x80, 0x02, 0x5d, 0x2e])]]);
    assert.throws(() => readPth(list, 'list.pth'), /no state dict/);
    // The pickle writer's own output parses (sanity of the helper).
    assert.ok(readPickle(statePickle([])) !== null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("importPthGenerator: the authors' U-Net state dict (DataParallel prefix, saved on cuda:0) → gue generator, same tensors and outputs", () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-pth-'));
  const before = memory().tensors;
  try {
    const src = new UNet({ channels: 3, width: 4, generator: new Generator(11) });
    // Non-trivial BN buffers, as a trained generator has.
    noGrad(() => scope(() => {
      for (const [k, t] of src.stateDict()) {
        if (k.endsWith('running_mean')) t.copy_(rand(t.shape, { generator: new Generator(3) }).sub(0.5));
        if (k.endsWith('running_var')) t.copy_(rand(t.shape, { generator: new Generator(4) }).add(0.5));
      }
    }));
    src.eval();
    const pth = join(dir, 'gue_cifar10.pth');
    writeFileSync(pth, torchSave(stateTensors(src.stateDict(), 'module.'), { prefix: 'gue_cifar10' }));
    const r = importPthGenerator(pth, join(dir, 'imported'), { eps255: 8, imageSize: 32, numClasses: 10, dataset: 'cifar10' });
    assert.equal(r.channels, 3);
    assert.equal(r.width, 4);
    assert.equal(r.strippedPrefix, true);
    const { gen, meta } = loadGenerator(join(dir, 'imported'));
    try {
      assert.equal(meta.eps, 8 / 255);
      assert.equal(meta.width, 4);
      const a = src.stateDict();
      const b = gen.stateDict();
      assert.deepEqual([...b.keys()], [...a.keys()]);
      for (const [k, t] of a) assert.deepEqual(b.get(k)!.toArray(), t.toArray(), k);
      const diff = noGrad(() => scope(() => {
        const x = rand([2, 3, 32, 32], { generator: new Generator(5) });
        return src.forward(x).sub(gen.forward(x)).abs().max().item();
      }));
      assert.equal(diff, 0);
    } finally {
      gen.dispose();
      src.dispose();
    }
    // Wrong expectations and non-U-Net files are clear errors.
    assert.throws(() => importPthGenerator(pth, join(dir, 'x'), { eps255: 8, channels: 1, imageSize: 32, numClasses: 10, dataset: 'c' }), /3-channel images, not 1/);
    const other = join(dir, 'other.pth');
    writeFileSync(other, torchSave([['fc.weight', { storage: 'FloatStorage', key: '0', bytes: f32bytes([1, 2]), numel: 2, offset: 0, size: [2], stride: [1] }]]));
    assert.throws(() => importPthGenerator(other, join(dir, 'y'), { eps255: 8, imageSize: 32, numClasses: 10, dataset: 'c' }), /not a GUE U-Net state dict/);
    assert.equal(memory().tensors, before, 'no tensors leaked');

    // The CLI: import, refuse to overwrite, refuse a malicious file.
    let c = gue(['import', '--pth', pth, '-o', join(dir, 'cli')]);
    assert.equal(c.code, 0, c.err);
    assert.match(c.out, /width 4/);
    assert.ok(existsSync(join(dir, 'cli.safetensors')) && existsSync(join(dir, 'cli.json')));
    c = gue(['import', '--pth', pth, '-o', join(dir, 'cli')]);
    assert.equal(c.code, 2);
    assert.match(c.err, /already exists/);
    const evil = join(dir, 'evil.pth');
    writeFileSync(evil, zipArchive([['archive/data.pkl', Buffer.from([0x80, 0x02, ...Buffer.from('cposix\nsystem\n'), 0x2e])]]));
    c = gue(['import', '--pth', evil, '-o', join(dir, 'evil')]);
    assert.equal(c.code, 1);
    assert.match(c.err, /refusing to load: the pickle references posix\.system/);
    assert.equal(existsSync(join(dir, 'evil.json')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
