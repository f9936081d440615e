// Deterministic tensor lifetimes: scope(), scopeAsync(), keep(), dispose(), memory().
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Generator, grad, keep, memory, ones, scope, scopeAsync, tensor, zeros, type Tensor } from '../src/engine/index.js';

const live = (): number => memory().tensors;

describe('scope()', () => {
  test('frees every intermediate: memory() tensors and bytes return to baseline', () => {
    const before = memory();
    scope(() => {
      const a = zeros([100, 10]);
      const b = a.add(1).mul(3).exp();
      b.sum().item();
      assert.ok(live() >= before.tensors + 5);
      assert.ok(memory().bytes >= before.bytes + 4000 * 4);
    });
    assert.deepEqual(memory(), before);
  });
  test('memory() counts handles and bytes of new tensors', () => {
    const before = memory();
    const t = zeros([1000], { dtype: 'float64' });
    assert.equal(live(), before.tensors + 1);
    assert.equal(memory().bytes, before.bytes + 8000);
    t.dispose();
    assert.deepEqual(memory(), before);
  });
  test('a returned tensor survives, the rest is freed', () => {
    const base = live();
    const r = scope(() => {
      const a = ones([3]);
      return a.add(1).mul(2);
    });
    assert.equal(live(), base + 1);
    assert.deepEqual(r.toArray(), [4, 4, 4]);
    r.dispose();
    assert.equal(live(), base);
  });
  test('tensors inside returned arrays, plain objects, nested structures and Maps survive', () => {
    const base = live();
    const r = scope(() => {
      const a = ones([2]);
      const tmp = a.mul(5);
      const m = new Map<string, Tensor>([['m', tmp.add(1)]]);
      return { list: [a.add(1), [a.add(2)]], obj: { deep: { t: a.add(3) } }, m, n: 7, s: 'x' };
    });
    assert.equal(live(), base + 4); // a and tmp were freed
    const first = r.list[0] as Tensor;
    const second = (r.list[1] as Tensor[])[0]!;
    assert.deepEqual(first.toArray(), [2, 2]);
    assert.deepEqual(second.toArray(), [3, 3]);
    assert.deepEqual(r.obj.deep.t.toArray(), [4, 4]);
    assert.deepEqual(r.m.get('m')!.toArray(), [6, 6]);
    for (const t of [first, second, r.obj.deep.t, r.m.get('m')!]) t.dispose();
    assert.equal(live(), base);
  });
  test('a tensor referenced from a class instance is not traversed (only plain objects are), so it is freed', () => {
    class Holder {
      constructor(readonly t: Tensor) {}
    }
    const base = live();
    const h = scope(() => new Holder(ones([2])));
    assert.equal(live(), base);
    assert.ok(h.t.isDisposed);
  });
  test('keep() survives the scope (single, array, method form); dispose() still frees it', () => {
    const base = live();
    let k1: Tensor | null = null;
    let k2: Tensor[] = [];
    let k3: Tensor | null = null;
    scope(() => {
      k1 = keep(ones([2]));
      k2 = keep([ones([1]), ones([1])]);
      k3 = ones([3]).mul(2).keep();
      ones([4]); // freed
    });
    assert.equal(live(), base + 4);
    assert.deepEqual(k3!.toArray(), [2, 2, 2]);
    // a kept tensor survives nested scopes too
    scope(() => {
      scope(() => k1!.add(1));
    });
    assert.ok(!k1!.isDisposed);
    for (const t of [k1!, ...k2, k3!]) t.dispose();
    assert.equal(live(), base);
  });
  test('nested scopes: a tensor returned from the inner scope moves to the outer scope and is freed at its end', () => {
    const base = live();
    let fromInner: Tensor | null = null;
    const out = scope(() => {
      fromInner = scope(() => {
        ones([5]); // freed at inner end
        return ones([2]).mul(3);
      });
      assert.equal(live(), base + 1);
      assert.deepEqual(fromInner.toArray(), [3, 3]);
      return fromInner.add(1); // fromInner itself is not returned
    });
    assert.ok(fromInner!.isDisposed, 'the inner result belongs to the outer scope and is freed there');
    assert.deepEqual(out.toArray(), [4, 4]);
    assert.equal(live(), base + 1);
    out.dispose();
    // returned through both levels: survives both
    const both = scope(() => scope(() => ones([1])));
    assert.ok(!both.isDisposed);
    both.dispose();
    assert.equal(live(), base);
  });
  test('tensors created outside the scope are untouched, even if used or returned inside', () => {
    const base = live();
    const outer = ones([2]);
    const r = scope(() => {
      outer.add(1);
      return outer;
    });
    assert.equal(r, outer);
    assert.ok(!outer.isDisposed);
    assert.equal(live(), base + 1);
    outer.dispose();
  });
  test('an exception inside a scope still frees (nested too) and propagates', () => {
    const base = live();
    assert.throws(
      () =>
        scope(() => {
          ones([10]).add(1);
          scope(() => {
            ones([3]);
            throw new Error('inner failure');
          });
        }),
      /inner failure/,
    );
    assert.equal(live(), base);
    // a native error inside a scope
    assert.throws(() => scope(() => ones([2, 3]).matmul(ones([2, 3]))), /matmul/);
    assert.equal(live(), base);
    // the scope stack is intact: a following scope still works
    const r = scope(() => ones([1]).add(1));
    assert.deepEqual(r.toArray(), [2]);
    r.dispose();
    assert.equal(live(), base);
  });
  test('dispose twice is safe; disposing inside a scope then ending the scope is safe', () => {
    const base = live();
    const t = ones([2]);
    t.dispose();
    t.dispose();
    assert.ok(t.isDisposed);
    scope(() => {
      const a = ones([2]);
      a.dispose();
      a.dispose();
      const b = ones([2]);
      return b.dispose();
    });
    assert.equal(live(), base);
  });
  test('views survive disposal of their base (storage is shared, not owned by the JS handle)', () => {
    const base = live();
    const a = tensor([1, 2, 3, 4]);
    const v = a.view(2, 2);
    a.dispose();
    assert.deepEqual(v.toArray(), [1, 2, 3, 4]);
    v.dispose();
    assert.equal(live(), base);
  });
  test('a scope whose fn returns a Promise throws (use scopeAsync) and frees', () => {
    const base = live();
    assert.throws(() => scope((() => Promise.resolve(ones([1]))) as never), /scopeAsync/);
    assert.equal(live(), base);
  });
  test('autograd results (grad(), .grad) are tracked and freed by the scope', () => {
    const base = live();
    scope(() => {
      const x = ones([3], { dtype: 'float64' }).requiresGrad_();
      const y = x.mul(x).sum();
      grad(y, [x], { retainGraph: true });
      y.backward();
      assert.deepEqual(x.grad!.toArray(), [2, 2, 2]);
    });
    assert.equal(live(), base);
  });
  test('a training-style loop of scopes holds memory flat', () => {
    const base = live();
    const w = keep(ones([4, 4], { dtype: 'float64' }).requiresGrad_());
    for (let i = 0; i < 50; i++) {
      scope(() => {
        const x = ones([2, 4], { dtype: 'float64' });
        const loss = F.mseLoss(F.linear(x, w).tanh(), zeros([2, 4], { dtype: 'float64' }));
        const [g] = grad(loss, [w]);
        w.grad = g!;
      });
      assert.equal(live(), base + 1, `iteration ${i}`);
    }
    w.grad = null;
    w.dispose();
    assert.equal(live(), base);
  });
});

describe('scopeAsync()', () => {
  test('frees intermediates across awaits and keeps the returned value', async () => {
    const base = live();
    const r = await scopeAsync(async () => {
      const a = ones([2]);
      await new Promise((res) => setTimeout(res, 5));
      const b = a.add(1);
      await Promise.resolve();
      return { b };
    });
    assert.equal(live(), base + 1);
    assert.deepEqual(r.b.toArray(), [2, 2]);
    r.b.dispose();
    assert.equal(live(), base);
  });
  test('a rejection still frees', async () => {
    const base = live();
    await assert.rejects(
      scopeAsync(async () => {
        ones([3]);
        await Promise.resolve();
        throw new Error('async failure');
      }),
      /async failure/,
    );
    assert.equal(live(), base);
  });
});

describe('ops do not leak intermediate handles', () => {
  /** Outside any scope, fn must add exactly `expected` live handles (its returned tensors). */
  function handlesAdded(fn: () => Tensor | Tensor[] | { values: Tensor; indices: Tensor }): number {
    const before = live();
    const r = fn();
    const added = live() - before;
    const ts = Array.isArray(r) ? r : r instanceof Object && 'values' in r ? [r.values, r.indices] : [r as Tensor];
    for (const t of ts) t.dispose();
    return added;
  }
  test('composite TS ops free their temporaries (add with alpha, klDiv batchmean, dtype-converting tensor(), max(dim), split)', () => {
    const x = ones([2, 3]);
    const y = ones([2, 3]);
    const lp = x.logSoftmax(1);
    try {
      assert.equal(handlesAdded(() => x.add(y, 2)), 1, 'add alpha');
      assert.equal(handlesAdded(() => x.add(1, 2)), 1, 'add scalar alpha');
      assert.equal(handlesAdded(() => F.klDiv(lp, x, { reduction: 'batchmean' })), 1, 'klDiv batchmean');
      assert.equal(handlesAdded(() => tensor(new Float32Array([1, 2]), { dtype: 'float64' })), 1, 'tensor() conversion');
      assert.equal(handlesAdded(() => x.max(1)), 2, 'max(dim)');
      assert.equal(handlesAdded(() => x.split(1, 0)), 2, 'split');
      assert.equal(handlesAdded(() => F.dropout(x, 0.5, false)), 1, 'dropout eval');
      assert.equal(handlesAdded(() => x.clamp(y, y)), 1, 'clamp tensor/tensor');
      const before = live();
      new Generator(3).randint(10);
      assert.equal(live(), before, 'Generator.randint');
    } finally {
      for (const t of [x, y, lp]) t.dispose();
    }
  });
  test(
    'F.dropout (training) frees its temporaries',
    () => {
      const x = ones([2, 3]);
      try {
        assert.equal(handlesAdded(() => F.dropout(x, 0.5, true, new Generator(1))), 1, 'dropout');
      } finally {
        x.dispose();
      }
    },
  );
  test(
    'clamp with one tensor bound and one number bound frees its temporary',
    () => {
      const x = ones([2, 3]);
      const y = ones([2, 3]);
      try {
        assert.equal(handlesAdded(() => x.clamp(y, 3)), 1, 'clamp(tensor, number)');
        assert.equal(handlesAdded(() => x.clamp(0, y)), 1, 'clamp(number, tensor)');
      } finally {
        x.dispose();
        y.dispose();
      }
    },
  );
});
