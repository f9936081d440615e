// Random number generation: global seeding, explicit generators, state save/restore, bernoulli, dropout.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  F, Generator, bernoulli, engineInfo, full, manualSeed, ones, rand, randint, randn, randperm, randLike, scope, tensor, zeros,
} from '../src/engine/index.js';

const draw = (g?: Generator): number[][] =>
  scope(() => [
    rand([5], { generator: g }).toArray(),
    randn([5], { dtype: 'float64', generator: g }).toArray(),
    randint(0, 1000, [5], { generator: g }).toArray(),
    randperm(8, { generator: g }).toArray(),
  ]);

describe('global generator (manualSeed)', () => {
  test('the same seed gives the same numbers twice, across rand/randn/randint/randperm', () => {
    manualSeed(123);
    const a = draw();
    manualSeed(123);
    const b = draw();
    assert.deepEqual(a, b);
    manualSeed(124);
    const c = draw();
    assert.notDeepEqual(a[0], c[0]);
    assert.notDeepEqual(a[1], c[1]);
  });
  test('without reseeding the stream moves on', () => {
    manualSeed(5);
    const a = draw();
    const b = draw();
    assert.notDeepEqual(a[0], b[0]);
  });
  test('in-place uniform_ / normal_ follow the global seed', () => {
    scope(() => {
      manualSeed(9);
      const a = zeros([6]).uniform_(2, 3).toArray();
      const n = zeros([6]).normal_(10, 0.1).toArray();
      manualSeed(9);
      assert.deepEqual(zeros([6]).uniform_(2, 3).toArray(), a);
      assert.deepEqual(zeros([6]).normal_(10, 0.1).toArray(), n);
      assert.ok(a.every((v) => v >= 2 && v < 3));
      assert.ok(n.every((v) => Math.abs(v - 10) < 1));
    });
  });
});

describe('explicit Generator', () => {
  test('Generator(seed) gives the same numbers; different seeds differ', () => {
    const a = draw(new Generator(42));
    const b = draw(new Generator(42));
    assert.deepEqual(a, b);
    const c = draw(new Generator(43));
    assert.notDeepEqual(a[0], c[0]);
    assert.notDeepEqual(a[1], c[1]);
    assert.notDeepEqual(a[2], c[2]);
  });
  test('a generator is independent of the global stream and of other generators', () => {
    const ref = draw(new Generator(7));
    const g = new Generator(7);
    manualSeed(1);
    const out: number[][] = [];
    out.push(scope(() => rand([5], { generator: g }).toArray()));
    scope(() => rand([100])); // global draws in between
    draw(new Generator(99)); // another generator in between
    out.push(scope(() => randn([5], { dtype: 'float64', generator: g }).toArray()));
    manualSeed(2);
    out.push(scope(() => randint(0, 1000, [5], { generator: g }).toArray()));
    out.push(scope(() => randperm(8, { generator: g }).toArray()));
    assert.deepEqual(out, ref);
  });
  test('a seeded generator does not consume the global stream', () => {
    manualSeed(77);
    const a = scope(() => rand([4]).toArray());
    manualSeed(77);
    draw(new Generator(3));
    const b = scope(() => rand([4]).toArray());
    assert.deepEqual(a, b);
  });
  test('getState / setState reproduces the stream', () => {
    const g = new Generator(2024);
    scope(() => rand([3], { generator: g })); // advance a bit
    const state = g.getState();
    assert.equal(state.dtype, 'uint8');
    assert.ok(state.numel > 0);
    const first = draw(g);
    const second = draw(g);
    assert.notDeepEqual(first[0], second[0]);
    g.setState(state);
    assert.deepEqual(draw(g), first);
    // restoring into another generator continues the same stream
    const h = new Generator(1);
    h.setState(state);
    assert.deepEqual(draw(h), first);
    state.dispose();
  });
  test('setState takes a state that a checkpoint loaded onto CUDA', { skip: !engineInfo().cuda && 'no CUDA device' }, () => {
    const g = new Generator(7);
    const state = g.getState();
    const onGpu = state.to({ device: 'cuda' });
    const first = draw(g);
    g.setState(onGpu);
    assert.deepEqual(draw(g), first);
    onGpu.dispose();
    state.dispose();
  });
  test('manualSeed() on a generator restarts it; seed getter tracks it', () => {
    const g = new Generator(10);
    assert.equal(g.seed, 10);
    const a = draw(g);
    g.manualSeed(10);
    assert.deepEqual(draw(g), a);
    assert.equal(g.manualSeed(11).seed, 11);
    assert.deepEqual(draw(g), draw(new Generator(11)));
  });
  test('Generator.randint(n) is in [0, n) and reproducible', () => {
    const g = new Generator(5);
    const xs = Array.from({ length: 200 }, () => g.randint(6));
    assert.ok(xs.every((v) => Number.isInteger(v) && v >= 0 && v < 6));
    assert.equal(new Set(xs).size, 6);
    const h = new Generator(5);
    assert.deepEqual(Array.from({ length: 200 }, () => h.randint(6)), xs);
  });
  test('invalid seeds throw', () => {
    assert.throws(() => new Generator(-1), /seed/);
    assert.throws(() => new Generator(1.5), /seed/);
  });
  test('uniform_ / normal_ / randLike with a generator are reproducible', () => {
    scope(() => {
      const a = zeros([5]).uniform_(-1, 1, new Generator(3)).toArray();
      const b = zeros([5]).uniform_(-1, 1, new Generator(3)).toArray();
      assert.deepEqual(a, b);
      assert.ok(a.every((v) => v >= -1 && v < 1));
      assert.deepEqual(zeros([5]).normal_(0, 1, new Generator(4)).toArray(), zeros([5]).normal_(0, 1, new Generator(4)).toArray());
      const ref = ones([2, 2]);
      assert.deepEqual(randLike(ref, { generator: new Generator(8) }).toArray(), rand([2, 2], { generator: new Generator(8) }).toArray());
    });
  });
});

describe('bernoulli', () => {
  test('with a generator: reproducible, 0/1 valued, same dtype, rate ≈ p', () => {
    scope(() => {
      const p = full([4000], 0.3);
      const a = bernoulli(p, new Generator(11));
      const b = bernoulli(p, new Generator(11));
      const c = bernoulli(p, new Generator(12));
      assert.equal(a.dtype, 'float32');
      assert.deepEqual(a.shape, [4000]);
      assert.deepEqual(a.toArray(), b.toArray());
      assert.notDeepEqual(a.toArray(), c.toArray());
      const v = a.toArray();
      assert.ok(v.every((x) => x === 0 || x === 1));
      const rate = v.reduce((s: number, x) => s + x, 0) / v.length;
      assert.ok(Math.abs(rate - 0.3) < 0.04, `rate ${rate}`);
    });
  });
  test('per-element probabilities 0 and 1 are respected', () => {
    scope(() => {
      const p = tensor([0, 1, 0, 1, 0, 1], { dtype: 'float64' });
      assert.deepEqual(bernoulli(p, new Generator(1)).toArray(), [0, 1, 0, 1, 0, 1]);
      assert.deepEqual(bernoulli(p).toArray(), [0, 1, 0, 1, 0, 1]);
    });
  });
  test('without a generator it follows manualSeed', () => {
    scope(() => {
      const p = full([50], 0.5);
      manualSeed(3);
      const a = bernoulli(p).toArray();
      manualSeed(3);
      assert.deepEqual(bernoulli(p).toArray(), a);
    });
  });
});

describe('dropout', () => {
  test('with a generator: reproducible mask, zeros ≈ p, survivors scaled by 1/(1−p)', () => {
    scope(() => {
      const x = full([5000], 2);
      const a = F.dropout(x, 0.25, true, new Generator(21)).toArray();
      const b = F.dropout(x, 0.25, true, new Generator(21)).toArray();
      const c = F.dropout(x, 0.25, true, new Generator(22)).toArray();
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, c);
      const zerosFrac = a.filter((v) => v === 0).length / a.length;
      assert.ok(Math.abs(zerosFrac - 0.25) < 0.03, `zero fraction ${zerosFrac}`);
      assert.ok(a.every((v) => v === 0 || Math.abs(v - 2 / 0.75) < 1e-6));
    });
  });
  test('the same generator consumed twice gives different masks; restoring its state repeats them', () => {
    scope(() => {
      const x = ones([200]);
      const g = new Generator(5);
      const s = g.getState();
      const m1 = F.dropout(x, 0.5, true, g).toArray();
      const m2 = F.dropout(x, 0.5, true, g).toArray();
      assert.notDeepEqual(m1, m2);
      g.setState(s);
      assert.deepEqual(F.dropout(x, 0.5, true, g).toArray(), m1);
    });
  });
  test('identity when not training or p = 0; all zeros at p = 1; p outside [0, 1] throws', () => {
    scope(() => {
      const x = tensor([1, -2, 3]);
      assert.deepEqual(F.dropout(x, 0.9, false).toArray(), [1, -2, 3]);
      assert.deepEqual(F.dropout(x, 0).toArray(), [1, -2, 3]);
      assert.deepEqual(F.dropout(x, 1).toArray(), [0, -0, 0]);
      assert.throws(() => F.dropout(x, 1.5), /dropout.*p/);
      assert.throws(() => F.dropout(x, -0.1), /dropout.*p/);
    });
  });
});
