// dtypes, TypedArray round trips, creation functions and conversions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arange, empty, emptyLike, full, fullLike, linspace, memory, ones, onesLike, randint, randintLike, randLike, randn, randnLike,
  randperm, rand, scalar, scope, tensor, zeros, zerosLike, DTYPES, elementSize, isFloating, type DType,
} from '../src/engine/index.js';
import { assertClose } from './helpers/gradcheck.js';

describe('TypedArray round trips', () => {
  test('float32 (Float32Array, exact float32 values)', () => {
    scope(() => {
      const src = new Float32Array([1.5, -2.25, 3.1415927, 1e-30, -0, 65504.5]);
      const t = tensor(src, { shape: [2, 3] });
      assert.equal(t.dtype, 'float32');
      assert.deepEqual(t.shape, [2, 3]);
      const out = t.toTypedArray();
      assert.ok(out instanceof Float32Array);
      assert.deepEqual(Array.from(out), Array.from(src));
      assert.ok(Object.is(out[4], -0));
      assert.deepEqual(t.toFloat32Array(), src);
    });
  });
  test('float64 keeps full double precision', () => {
    scope(() => {
      const src = new Float64Array([Math.PI, 1 / 3, 1e300, -5e-324, Number.MAX_SAFE_INTEGER]);
      const t = tensor(src);
      assert.equal(t.dtype, 'float64');
      const out = t.toTypedArray();
      assert.ok(out instanceof Float64Array);
      assert.deepEqual(Array.from(out), Array.from(src));
    });
  });
  test('int64 via BigInt64Array, including values beyond 2^53', () => {
    scope(() => {
      const src = BigInt64Array.from([0n, -1n, 2n ** 62n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 42n]);
      const t = tensor(src, { shape: [3, 2] });
      assert.equal(t.dtype, 'int64');
      const out = t.toTypedArray();
      assert.ok(out instanceof BigInt64Array);
      assert.deepEqual(Array.from(out), Array.from(src));
      assert.equal(t.toArray()[5], 42);
    });
  });
  test('uint8 (Uint8Array) keeps 0..255', () => {
    scope(() => {
      const src = Uint8Array.from([0, 1, 127, 128, 254, 255]);
      const t = tensor(src);
      assert.equal(t.dtype, 'uint8');
      const out = t.toTypedArray();
      assert.ok(out instanceof Uint8Array);
      assert.deepEqual(Array.from(out), Array.from(src));
      // uint8 arithmetic wraps like PyTorch
      assert.deepEqual(t.add(1).toArray(), [1, 2, 128, 129, 255, 0]);
    });
  });
  test('bool from a Uint8Array with dtype bool, and from JS booleans', () => {
    scope(() => {
      const t = tensor(Uint8Array.from([1, 0, 1, 1]), { dtype: 'bool', shape: [2, 2] });
      assert.equal(t.dtype, 'bool');
      const out = t.toTypedArray();
      assert.ok(out instanceof Uint8Array);
      assert.deepEqual(Array.from(out), [1, 0, 1, 1]);
      const b = tensor([[true, false], [false, true]]);
      assert.equal(b.dtype, 'bool');
      assert.deepEqual(b.toArray(), [1, 0, 0, 1]);
      assert.equal(b.sum().item(), 2);
      assert.equal(tensor([true]).item(), 1);
    });
  });
  test('int32 (Int32Array) keeps the full range', () => {
    scope(() => {
      const src = Int32Array.from([-(2 ** 31), -1, 0, 7, 2 ** 31 - 1]);
      const t = tensor(src);
      assert.equal(t.dtype, 'int32');
      const out = t.toTypedArray();
      assert.ok(out instanceof Int32Array);
      assert.deepEqual(Array.from(out), Array.from(src));
    });
  });
  test('a subarray view (non-zero byteOffset) copies just its own elements', () => {
    scope(() => {
      const base = new Float32Array([1, 2, 3, 4, 5, 6]);
      assert.deepEqual(tensor(base.subarray(2, 5)).toArray(), [3, 4, 5]);
      const b64 = new BigInt64Array([9n, 8n, 7n, 6n]);
      assert.deepEqual(tensor(b64.subarray(1, 3)).toArray(), [8, 7]);
    });
  });
  test('the data is copied in: mutating the source later does not change the tensor', () => {
    scope(() => {
      const src = new Float32Array([1, 2, 3]);
      const t = tensor(src);
      src[0] = 100;
      assert.deepEqual(t.toArray(), [1, 2, 3]);
      const out = t.toTypedArray() as Float32Array;
      out[1] = 50;
      assert.deepEqual(t.toArray(), [1, 2, 3]);
    });
  });
  test('TypedArray with a different requested dtype converts', () => {
    scope(() => {
      const t = tensor(new Float32Array([1.75, -2.5]), { dtype: 'int64' });
      assert.equal(t.dtype, 'int64');
      assert.deepEqual(t.toArray(), [1, -2]); // truncation toward zero
      const d = tensor(Int32Array.from([3, -4]), { dtype: 'float64' });
      assert.equal(d.dtype, 'float64');
      assert.deepEqual(d.toArray(), [3, -4]);
      const b = tensor(Int32Array.from([0, 5, -1]), { dtype: 'bool' });
      assert.deepEqual(b.toArray(), [0, 1, 1]);
    });
  });
  test('a buffer whose length does not match the shape throws', () => {
    assert.throws(() => tensor(new Float32Array(6), { shape: [2, 2] }), /fromBuffer.*bytes/);
    assert.throws(() => tensor(new Float32Array(6), { shape: [2, -3] }), /invalid shape/);
  });
  test('every dtype has the documented element size and floating flag', () => {
    scope(() => {
      for (const d of DTYPES) {
        const t = zeros([3], { dtype: d });
        assert.equal(t.dtype, d);
        assert.equal((t.toTypedArray() as { byteLength: number }).byteLength, 3 * elementSize(d), d);
      }
      assert.deepEqual(DTYPES.filter(isFloating), ['float32', 'float64', 'float16', 'bfloat16']);
    });
  });
  test(
    'float16 round trip through its own toTypedArray output',
    () => {
      scope(() => {
        const h = tensor([1, 2, -0.5]).to('float16');
        const back = tensor(h.toTypedArray(), { dtype: 'float16' });
        assert.deepEqual(back.to('float32').toArray(), [1, 2, -0.5]);
      });
    },
  );
});

describe('tensor() from nested arrays', () => {
  test('infers the shape (0-d, 1-d, 3-d) and defaults to float32', () => {
    scope(() => {
      const s = tensor(3.5);
      assert.deepEqual(s.shape, []);
      assert.equal(s.item(), 3.5);
      assert.equal(s.dtype, 'float32');
      assert.deepEqual(tensor([1, 2, 3]).shape, [3]);
      const t = tensor([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]);
      assert.deepEqual(t.shape, [2, 3, 2]);
      assert.equal(t.ndim, 3);
      assert.equal(t.numel, 12);
      assert.equal(t.size(1), 3);
      assert.equal(t.size(-1), 2);
      assert.throws(() => t.size(3), /out of range/);
      assert.deepEqual(t.toArray(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      assert.deepEqual(t.strides, [6, 2, 1]);
      assert.ok(t.isContiguous());
      assert.ok(!t.transpose(0, 2).isContiguous());
      const e = tensor([]);
      assert.deepEqual(e.shape, [0]);
      assert.equal(e.numel, 0);
      assert.deepEqual(e.toArray(), []);
    });
  });
  test('explicit dtypes for nested data', () => {
    scope(() => {
      const l = tensor([[1, -2], [3, 4]], { dtype: 'int64' });
      assert.equal(l.dtype, 'int64');
      assert.deepEqual(l.toArray(), [1, -2, 3, 4]);
      assert.equal(tensor([1, 2], { dtype: 'int32' }).dtype, 'int32');
      assert.deepEqual(tensor([1, 0, 1], { dtype: 'bool' }).toArray(), [1, 0, 1]);
      assert.deepEqual(tensor([0.1], { dtype: 'float64' }).toArray(), [0.1]);
      assert.notEqual(tensor([0.1]).toArray()[0], 0.1); // float32 rounding
      assert.deepEqual(tensor([1, 2, 3, 4], { shape: [2, 2] }).shape, [2, 2]);
    });
  });
  test(
    'dtype bool from numbers normalises to 0/1 (nonzero is true), as from an Int32Array',
    () => {
      scope(() => {
        assert.deepEqual(tensor([1, 0, 2], { dtype: 'bool' }).toArray(), [1, 0, 1]);
        assert.deepEqual(tensor([0.5, 0], { dtype: 'bool' }).toArray(), [1, 0]);
        assert.deepEqual(tensor(Uint8Array.from([0, 2, 255]), { dtype: 'bool' }).toArray(), [0, 1, 1]);
      });
    },
  );
  test('ragged arrays throw', () => {
    assert.throws(() => tensor([[1, 2], [3]]), /ragged/);
    assert.throws(() => tensor([[1, 2, 3], [4, 5]]), /ragged/);
    assert.throws(() => tensor([[[1], [2]], [[3]]]), /ragged/);
    assert.throws(() => tensor([1, 2, 3], { shape: [2, 2] }), /shape mismatch/);
  });
  test(
    'ragged arrays whose total count happens to match the inferred shape throw',
    () => {
      assert.throws(() => tensor([[1], [2, 3], []]), /ragged/);
      assert.throws(() => tensor([[1, 2], [3, [4]]] as never), /ragged/);
    },
  );
});

describe('to() conversions', () => {
  test('float → int truncates toward zero, → bool is nonzero, bool → float is 0/1', () => {
    scope(() => {
      const x = tensor([-2.7, -0.5, 0, 0.5, 2.7]);
      assert.deepEqual(x.to('int64').toArray(), [-2, 0, 0, 0, 2]);
      assert.deepEqual(x.to('int32').toArray(), [-2, 0, 0, 0, 2]);
      assert.deepEqual(x.long().toArray(), [-2, 0, 0, 0, 2]);
      assert.deepEqual(x.to('bool').toArray(), [1, 1, 0, 1, 1]);
      assert.deepEqual(x.to('bool').to('float32').toArray(), [1, 1, 0, 1, 1]);
      assert.deepEqual(tensor([300, -1], { dtype: 'int64' }).to('uint8').toArray(), [44, 255]);
      assertClose(x.to('float64').toArray(), [-2.7, -0.5, 0, 0.5, 2.7].map((v) => Math.fround(v)));
      assert.equal(arange(3).float().dtype, 'float32');
      assert.deepEqual(tensor([1.5]).to({ dtype: 'float16' }).to('float32').toArray(), [1.5]);
      assert.deepEqual(tensor([1.5]).to('bfloat16').to('float64').toArray(), [1.5]);
    });
  });
  test('to() with the same dtype aliases unless copy is requested; clone copies', () => {
    scope(() => {
      const x = tensor([1, 2]);
      const same = x.to('float32');
      const copy = x.to({ dtype: 'float32', copy: true });
      const cl = x.clone();
      x.add_(10);
      assert.deepEqual(same.toArray(), [11, 12]);
      assert.deepEqual(copy.toArray(), [1, 2]);
      assert.deepEqual(cl.toArray(), [1, 2]);
      assert.equal(x.cpu().device, 'cpu');
      assert.equal(x.device, 'cpu');
    });
  });
  test('shape ops: view shares storage, reshape of a transposed tensor copies', () => {
    scope(() => {
      const x = arange(6, undefined, 1, { dtype: 'float32' });
      const v = x.view(2, 3);
      x.mul_(2);
      assert.deepEqual(v.toArray(), [0, 2, 4, 6, 8, 10]);
      const tr = v.T;
      assert.deepEqual(tr.reshape(6).toArray(), [0, 6, 2, 8, 4, 10]);
      assert.deepEqual(tr.contiguous().strides, [2, 1]);
      assert.ok(zeros([2, 3, 4, 5]).contiguous('channelsLast').isContiguous(true));
    });
  });
  test('type promotion: int64 + float32 → float32, int + int stays int, float32 + float64 → float64', () => {
    scope(() => {
      assert.equal(arange(3).add(tensor([0.5])).dtype, 'float32');
      assert.equal(arange(3).add(arange(3)).dtype, 'int64');
      assert.equal(tensor([1]).add(tensor([1], { dtype: 'float64' })).dtype, 'float64');
      assert.equal(arange(3).mul(2).dtype, 'int64');
      assert.equal(arange(3).div(2).dtype, 'float32'); // true division
      assert.deepEqual(arange(3).div(2).toArray(), [0, 0.5, 1]);
    });
  });
});

describe('creation functions', () => {
  test('zeros / ones / full / empty / scalar with dtypes', () => {
    scope(() => {
      const z = zeros([2, 3]);
      assert.equal(z.dtype, 'float32');
      assert.deepEqual(z.shape, [2, 3]);
      assert.deepEqual(z.toArray(), [0, 0, 0, 0, 0, 0]);
      assert.deepEqual(ones([2], { dtype: 'int64' }).toTypedArray(), BigInt64Array.from([1n, 1n]));
      assert.deepEqual(full([2, 2], 7.5, { dtype: 'float64' }).toArray(), [7.5, 7.5, 7.5, 7.5]);
      assert.deepEqual(full([3], 1, { dtype: 'bool' }).toArray(), [1, 1, 1]);
      assert.deepEqual(empty([4, 0]).shape, [4, 0]);
      assert.equal(empty([4, 0]).numel, 0);
      const s = scalar(2.5, { dtype: 'float64' });
      assert.deepEqual(s.shape, []);
      assert.equal(s.item(), 2.5);
      assert.deepEqual(zeros([]).shape, []);
      assert.throws(() => zeros([2, 1.5]), /invalid shape/);
      assert.throws(() => ones([-1]), /invalid shape/);
    });
  });
  test('*Like variants copy shape and dtype, and accept overrides', () => {
    scope(() => {
      const ref = tensor([[1, 2, 3]], { dtype: 'float64' });
      for (const [name, t] of [['zerosLike', zerosLike(ref)], ['onesLike', onesLike(ref)], ['fullLike', fullLike(ref, 4)], ['emptyLike', emptyLike(ref)], ['randLike', randLike(ref)], ['randnLike', randnLike(ref)]] as const) {
        assert.deepEqual(t.shape, [1, 3], name);
        assert.equal(t.dtype, 'float64', name);
      }
      assert.deepEqual(zerosLike(ref).toArray(), [0, 0, 0]);
      assert.deepEqual(onesLike(ref).toArray(), [1, 1, 1]);
      assert.deepEqual(fullLike(ref, 4).toArray(), [4, 4, 4]);
      assert.equal(onesLike(ref, { dtype: 'int32' }).dtype, 'int32');
      const ri = randintLike(ref, 0, 3);
      assert.equal(ri.dtype, 'float64');
      assert.ok(ri.toArray().every((v) => Number.isInteger(v) && v >= 0 && v < 3));
      assert.equal(randintLike(ref, 0, 3, { dtype: 'int64' }).dtype, 'int64');
    });
  });
  test('arange: int64 for integer args, float32 otherwise; step; negative step; dtype override', () => {
    scope(() => {
      const a = arange(5);
      assert.equal(a.dtype, 'int64');
      assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
      assert.deepEqual(arange(2, 11, 3).toArray(), [2, 5, 8]);
      assert.deepEqual(arange(5, 0, -2).toArray(), [5, 3, 1]);
      const f = arange(0, 1, 0.25);
      assert.equal(f.dtype, 'float32');
      assert.deepEqual(f.toArray(), [0, 0.25, 0.5, 0.75]);
      assert.equal(arange(3, undefined, 1, { dtype: 'float64' }).dtype, 'float64');
      assert.deepEqual(arange(0).shape, [0]);
    });
  });
  test('linspace includes both ends', () => {
    scope(() => {
      const l = linspace(0, 1, 5, { dtype: 'float64' });
      assert.deepEqual(l.toArray(), [0, 0.25, 0.5, 0.75, 1]);
      assert.equal(linspace(-1, 1, 3).dtype, 'float32');
      assert.deepEqual(linspace(-1, 1, 3).toArray(), [-1, 0, 1]);
      assert.deepEqual(linspace(2, 2, 1).toArray(), [2]);
    });
  });
  test('rand in [0, 1), randn roughly standard normal', () => {
    scope(() => {
      const r = rand([2000]).toArray();
      assert.ok(r.every((v) => v >= 0 && v < 1));
      const mean = r.reduce((a, b) => a + b) / r.length;
      assert.ok(Math.abs(mean - 0.5) < 0.05, `rand mean ${mean}`);
      const n = randn([4000], { dtype: 'float64' });
      assert.equal(n.dtype, 'float64');
      assert.ok(Math.abs(n.mean().item()) < 0.08);
      assert.ok(Math.abs(n.std().item() - 1) < 0.08);
    });
  });
  test('randint stays in [low, high) and hits both ends', () => {
    scope(() => {
      const r = randint(-3, 4, [5000]);
      assert.equal(r.dtype, 'int64');
      const v = r.toArray();
      assert.ok(v.every((x) => Number.isInteger(x) && x >= -3 && x < 4));
      assert.equal(Math.min(...v), -3);
      assert.equal(Math.max(...v), 3);
      assert.equal(randint(0, 2, [3], { dtype: 'int32' }).dtype, 'int32');
      assert.deepEqual(randint(5, 6, [4]).toArray(), [5, 5, 5, 5]);
    });
  });
  test('randperm is a permutation of 0..n-1', () => {
    scope(() => {
      for (const n of [1, 7, 100]) {
        const p = randperm(n);
        assert.equal(p.dtype, 'int64');
        const v = p.toArray();
        assert.deepEqual([...v].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
      }
      assert.notDeepEqual(randperm(50).toArray(), Array.from({ length: 50 }, (_, i) => i));
      assert.deepEqual(randperm(0).shape, [0]);
    });
  });
  test('creation functions honour every supported dtype', () => {
    scope(() => {
      const ds: DType[] = ['float32', 'float64', 'int64', 'int32', 'uint8'];
      for (const d of ds) {
        assert.equal(ones([2], { dtype: d }).dtype, d);
        assert.equal(full([2], 3, { dtype: d }).dtype, d);
        assert.deepEqual(full([2], 3, { dtype: d }).toArray(), [3, 3]);
        assert.equal(arange(3, undefined, 1, { dtype: d }).dtype, d);
      }
    });
  });
  test('item() reads 0-d and one-element tensors of every dtype', () => {
    scope(() => {
      assert.equal(scalar(3, { dtype: 'int64' }).item(), 3);
      assert.equal(tensor([[2.5]]).item(), 2.5);
      assert.equal(scalar(1, { dtype: 'bool' }).item(), 1);
      assert.equal(scalar(200, { dtype: 'uint8' }).item(), 200);
      assert.throws(() => tensor([1, 2]).item(), /item.*exactly one element/);
    });
  });
  test('toString describes the tensor and a disposed tensor', () => {
    const t = zeros([2, 3], { dtype: 'int32' });
    assert.equal(String(t), 'Tensor(shape=[2,3], dtype=int32, device=cpu)');
    t.dispose();
    assert.equal(String(t), 'Tensor(disposed)');
    assert.ok(memory().tensors >= 0);
  });
});
