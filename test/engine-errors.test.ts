// libtorch errors become JS Errors that name the op; the process keeps running and nothing leaks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  F, Generator, cat, engineInfo, memory, ones, randint, scope, tensor, where, zeros, type Tensor,
} from '../src/engine/index.js';

/** Asserts fn throws a real JS Error whose message matches every pattern. */
function throwsError(fn: () => unknown, ...patterns: RegExp[]): Error {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== null, 'expected an error to be thrown');
  assert.ok(caught instanceof Error, `expected a JS Error, got ${String(caught)}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

const f = (shape: number[]): Tensor => ones(shape);
const i64 = (v: number[]): Tensor => tensor(v, { dtype: 'int64' });

describe('op errors name the op', () => {
  test('matmul shape mismatch (2x3 @ 2x3)', () => {
    scope(() => throwsError(() => f([2, 3]).matmul(f([2, 3])), /matmul/, /2x3/));
  });
  test('conv2d with the wrong number of input channels', () => {
    scope(() => throwsError(() => F.conv2d(f([1, 3, 5, 5]), f([2, 2, 3, 3])), /conv2d/, /channels/));
  });
  test('conv2d with a kernel larger than the (padded) input, and groups not dividing channels', () => {
    scope(() => {
      throwsError(() => F.conv2d(f([1, 1, 2, 2]), f([1, 1, 3, 3])), /conv2d/);
      throwsError(() => F.conv2d(f([1, 3, 4, 4]), f([2, 1, 3, 3]), null, { groups: 2 }), /conv2d/);
    });
  });
  test('convTranspose2d with mismatched channels', () => {
    scope(() => throwsError(() => F.convTranspose2d(f([1, 3, 4, 4]), f([2, 2, 3, 3])), /convTranspose2d/));
  });
  test('crossEntropy: float targets of the wrong shape; class index out of range; float class indices', () => {
    scope(() => {
      throwsError(() => F.crossEntropy(f([2, 3]), f([2, 4])), /crossEntropy/);
      throwsError(() => F.crossEntropy(f([2, 3]), f([2])), /crossEntropy/, /Long|scalar type/);
      throwsError(() => F.crossEntropy(f([2, 3]), i64([0, 7])), /crossEntropy/);
      throwsError(() => F.crossEntropy(f([2, 3]), i64([0, 1, 2])), /crossEntropy/);
    });
  });
  test('nllLoss with an out-of-range target', () => {
    scope(() => throwsError(() => F.nllLoss(f([2, 3]), i64([0, 5])), /nllLoss/, /out of bounds/));
  });
  test('indexSelect / gather with a float index; indexSelect out of range', () => {
    scope(() => {
      throwsError(() => f([3]).indexSelect(0, f([2])), /indexSelect/, /int/);
      throwsError(() => f([2, 3]).gather(1, f([2, 3])), /gather/, /int64/);
      throwsError(() => f([3]).indexSelect(0, i64([3])), /indexSelect/);
    });
  });
  test('where with a non-bool condition', () => {
    scope(() => throwsError(() => where(f([2]), f([2]), f([2])), /where/, /bool/));
  });
  test('shape errors: reshape, view, expand, cat, select, narrow, permute', () => {
    scope(() => {
      throwsError(() => f([6]).reshape(4, 2), /reshape/);
      throwsError(() => f([2, 3]).T.view(6), /view/);
      throwsError(() => f([2, 3]).expand(4, 3), /expand/);
      throwsError(() => cat([f([2, 3]), f([2, 4])]), /cat/);
      throwsError(() => f([2, 3]).select(0, 2), /select/);
      throwsError(() => f([2, 3]).narrow(1, 2, 2), /narrow/);
      throwsError(() => f([2, 3]).permute(0, 0), /permute/);
    });
  });
  test('nn functional errors: linear, batchNorm, pad, maxPool2d, avgPool2d, adaptiveAvgPool2d, interpolate', () => {
    scope(() => {
      throwsError(() => F.linear(f([2, 3]), f([4, 5])), /linear/);
      throwsError(() => F.batchNorm(f([2, 3, 2, 2]), { weight: f([4]), training: true }), /batchNorm/);
      throwsError(() => F.pad(f([1, 1, 2, 2]), [3, 3, 3, 3], 'reflect'), /pad/);
      throwsError(() => F.maxPool2d(f([1, 1, 2, 2]), 3), /maxPool2d/);
      throwsError(() => F.avgPool2d(f([1, 1, 2, 2]), 3), /avgPool2d/);
      throwsError(() => F.adaptiveAvgPool2d(f([2]), 1), /adaptiveAvgPool2d/);
      throwsError(() => F.interpolate(f([1, 2, 2]), { size: 4 }), /interpolate/);
    });
  });
  test('creation / random errors: randint with low >= high, item() on many elements, Generator.setState with a float tensor', () => {
    scope(() => {
      throwsError(() => randint(5, 2, [3]), /randint/);
      throwsError(() => f([2]).item(), /item/);
      throwsError(() => new Generator(1).setState(f([3])), /generatorSetState/);
      throwsError(() => zeros([2], { dtype: 'float8' as never }), /zeros/);
    });
  });
  test('cuda requested on a CPU-only build', { skip: engineInfo().cuda ? 'this libtorch has CUDA' : false }, () => {
    scope(() => {
      throwsError(() => zeros([2], { device: 'cuda' }), /zeros/, /cuda/i);
      throwsError(() => f([2]).to({ device: 'cuda:0' }), /\bto\b/, /cuda/i);
      throwsError(() => tensor([1, 2], { device: 'cuda' }), /fromBuffer/, /cuda/i);
    });
  });
  test('a bad device string', () => {
    scope(() => throwsError(() => zeros([2], { device: 'tpu' }), /zeros/));
  });
  test('elementwise shape mismatch is a JS Error (names the shapes)', () => {
    scope(() => {
      throwsError(() => f([2, 3]).add(f([4])), /size of tensor a \(3\) must match the size of tensor b \(4\)/);
      throwsError(() => f([2, 3]).sum(3), /Dimension out of range/);
    });
  });
  test(
    'elementwise / reduction errors name the public op (add, sum) rather than the native dispatcher',
    () => {
      scope(() => {
        throwsError(() => f([2, 3]).add(f([4])), /\badd\b/);
        throwsError(() => f([2, 3]).sum(3), /\bsum\b/);
        const t = f([2]);
        t.dispose();
        throwsError(() => t.exp(), /\bexp\b/);
      });
    },
  );
});

describe('disposed tensors', () => {
  test('using a disposed tensor throws a JS Error (ops, metadata, data), for dispose() and for scope-freed tensors', () => {
    const t = f([2, 2]);
    t.dispose();
    assert.ok(t.isDisposed);
    throwsError(() => t.add(1), /disposed/);
    throwsError(() => t.matmul(f([2, 2])), /disposed/);
    throwsError(() => t.shape, /disposed/);
    throwsError(() => t.toArray(), /disposed/);
    throwsError(() => F.conv2d(t.reshape(1, 1, 2, 2), f([1, 1, 1, 1])), /disposed/);
    const inner = scope(() => {
      const a = f([3]);
      a.add(1); // freed at scope end
      return [a.mul(2), a] as const;
    });
    const escaped = scope(() => {
      const tmp = f([3]);
      return { keepMe: tmp.add(1), nested: [tmp.mul(1)] };
    });
    assert.deepEqual(escaped.keepMe.toArray(), [2, 2, 2]);
    let leaked: Tensor | null = null;
    scope(() => {
      leaked = f([1]);
    });
    throwsError(() => leaked!.add(1), /disposed/);
    inner[0].dispose();
    inner[1].dispose();
    escaped.keepMe.dispose();
    escaped.nested[0]!.dispose();
  });
  test('a disposed tensor passed inside a list argument (cat, grad inputs) throws', () => {
    scope(() => {
      const a = f([2]);
      const b = f([2]);
      b.dispose();
      throwsError(() => cat([a, b]), /disposed/);
    });
  });
});

describe('the process keeps running after errors', () => {
  test('many failing ops in a row, then normal ops work and nothing leaked', () => {
    const base = memory().tensors;
    scope(() => {
      const a = f([2, 3]);
      const b = f([2, 3]);
      for (let k = 0; k < 20; k++) {
        throwsError(() => a.matmul(b), /matmul/);
        throwsError(() => F.conv2d(f([1, 3, 5, 5]), f([2, 2, 3, 3])), /conv2d/);
        throwsError(() => F.crossEntropy(a, f([2, 4])), /crossEntropy/);
        throwsError(() => a.indexSelect(0, f([1])), /indexSelect/);
        throwsError(() => a.reshape(5), /reshape/);
        if (!engineInfo().cuda) throwsError(() => zeros([1], { device: 'cuda' }), /zeros/);
      }
      const c = a.matmul(b.T);
      assert.deepEqual(c.shape, [2, 2]);
      assert.deepEqual(c.toArray(), [3, 3, 3, 3]);
      assert.deepEqual(F.conv2d(f([1, 2, 3, 3]), f([1, 2, 2, 2])).toArray(), [8, 8, 8, 8]);
    });
    assert.equal(memory().tensors, base, 'failed ops or their inputs leaked handles');
  });
  test('a failing op inside a scope does not leak the inputs made in that scope', () => {
    const base = memory().tensors;
    assert.throws(() => scope(() => F.linear(f([2, 3]), f([4, 5]))), /linear/);
    assert.equal(memory().tensors, base);
  });
});
