// Tests for src/nn: Module bookkeeping, state dicts, layers, BatchNorm semantics and PyTorch-identical init.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator, Tensor, empty, engineInfo, manualSeed, memory, noGrad, ones, randn, scope, tensor, zeros,
} from '../src/engine/index.js';
import * as nn from '../src/nn/index.js';

const { init } = nn;

/** Runs a test body in a scope so it leaves no live tensors behind (the dispose test counts them). */
const scoped = (fn: () => void) => (): void => {
  scope(fn);
};

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${a} vs expected ${e}`);
  }
}

function stats(a: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < a.length; i++) {
    s += a[i]!;
    min = Math.min(min, a[i]!);
    max = Math.max(max, a[i]!);
  }
  const mean = s / a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / a.length), min, max };
}

/** A model with own parameters/buffers and nested children, to check PyTorch naming and ordering. */
class Net extends nn.Module {
  readonly features: nn.Sequential;
  readonly classifier: nn.Linear;
  constructor(gen?: Generator) {
    super();
    this.registerParameter('scale', ones([1]));
    this.features = this.registerModule(
      'features',
      new nn.Sequential(
        new nn.Conv2d(3, 4, 3, { padding: 1, generator: gen }),
        new nn.BatchNorm2d(4),
        new nn.ReLU(),
        new nn.AdaptiveAvgPool2d(1),
        new nn.Flatten(),
      ),
    );
    this.classifier = this.registerModule('classifier', new nn.Linear(4, 2, { generator: gen }));
    this.registerBuffer('offset', zeros([2]));
  }
  get scale(): Tensor {
    return this.param('scale');
  }
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.features.forward(x)).mul(this.scale).add(this.buffer('offset'));
  }
}

test('parameter, buffer and module naming and order follow PyTorch', scoped(() => {
  const net = new Net(new Generator(0));
  try {
    assert.deepEqual(net.namedParameters().map(([n]) => n), [
      'scale', 'features.0.weight', 'features.0.bias', 'features.1.weight', 'features.1.bias', 'classifier.weight', 'classifier.bias',
    ]);
    assert.deepEqual(net.namedBuffers().map(([n]) => n), [
      'offset', 'features.1.running_mean', 'features.1.running_var', 'features.1.num_batches_tracked',
    ]);
    assert.deepEqual([...net.stateDict().keys()], [
      'scale', 'offset',
      'features.0.weight', 'features.0.bias',
      'features.1.weight', 'features.1.bias', 'features.1.running_mean', 'features.1.running_var', 'features.1.num_batches_tracked',
      'classifier.weight', 'classifier.bias',
    ]);
    assert.deepEqual(net.namedModules().map(([n]) => n), [
      '', 'features', 'features.0', 'features.1', 'features.2', 'features.3', 'features.4', 'classifier',
    ]);
    assert.deepEqual(net.children().map((m) => m.typeName), ['Sequential', 'Linear']);
    assert.equal(net.numParameters(), 1 + (4 * 3 * 9 + 4) + (4 + 4) + (2 * 4 + 2));
    // shapes and flags
    assert.deepEqual(net.getParameter('features.0.weight').shape, [4, 3, 3, 3]);
    assert.deepEqual(net.getBuffer('features.1.num_batches_tracked').shape, []);
    assert.equal(net.getBuffer('features.1.num_batches_tracked').dtype, 'int64');
    for (const p of net.parameters()) {
      assert.equal(p.requiresGrad, true);
      assert.equal(p.kept, true);
    }
    for (const b of net.buffers()) {
      assert.equal(b.requiresGrad, false);
      assert.equal(b.kept, true);
    }
    // state dict values are the live tensors
    const sd = net.stateDict();
    assert.equal(sd.get('classifier.weight'), net.classifier.weight);
    assert.equal(sd.get('features.1.running_mean'), net.features.at<nn.BatchNorm2d>(1).runningMean);
    assert.equal(net.getSubmodule('features.1'), net.features.at(1));
    assert.throws(() => net.getParameter('features.9.weight'), /no submodule/);
    // registration rules
    class Bad extends nn.Module {
      constructor() {
        super();
        this.registerParameter('w', zeros([1]));
        this.registerBuffer('w', zeros([1]));
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    assert.throws(() => new Bad(), /cannot register buffer 'w': a parameter of that name exists/);
  } finally {
    net.dispose();
  }
}));

test('shared parameters are listed once', scoped(() => {
  const lin = new nn.Linear(3, 3);
  const seq = new nn.Sequential(lin, new nn.ReLU(), lin);
  try {
    assert.deepEqual(seq.namedParameters().map(([n]) => n), ['0.weight', '0.bias']);
    assert.equal(seq.numParameters(), 12);
    // the state dict, as PyTorch's, lists each path
    assert.deepEqual([...seq.stateDict().keys()], ['0.weight', '0.bias', '2.weight', '2.bias']);
  } finally {
    seq.dispose();
  }
}));

test('stateDict round trip through loadStateDict (Map and Record)', scoped(() => {
  const a = new Net(new Generator(1));
  const b = new Net(new Generator(2));
  try {
    // make a's buffers non-default
    a.train();
    a.forward(randn([4, 3, 5, 5], { generator: new Generator(3) }));
    const before = b.stateDict();
    const bObjects = [...before.values()];
    assert.notDeepEqual(a.classifier.weight.toArray(), b.classifier.weight.toArray());
    const res = b.loadStateDict(a.stateDict());
    assert.deepEqual(res, { missingKeys: [], unexpectedKeys: [] });
    for (const [k, t] of a.stateDict()) assert.deepEqual(b.stateDict().get(k)!.toArray(), t.toArray(), k);
    // in place: b still holds the same tensor objects, and they are distinct from a's
    assert.deepEqual([...b.stateDict().values()], bObjects);
    assert.notEqual(b.classifier.weight, a.classifier.weight);
    assert.equal(b.classifier.weight.requiresGrad, true);
    assert.equal(b.getBuffer('features.1.num_batches_tracked').item(), 1);

    const c = new Net(new Generator(4));
    try {
      c.loadStateDict(Object.fromEntries(a.stateDict()));
      for (const [k, t] of a.stateDict()) assert.deepEqual(c.stateDict().get(k)!.toArray(), t.toArray(), k);
    } finally {
      c.dispose();
    }
  } finally {
    a.dispose();
    b.dispose();
  }
}));

test('loadStateDict reports missing, unexpected keys and shape mismatches', scoped(() => {
  const m = new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.BatchNorm2d(4));
  const other = new nn.Sequential(new nn.Conv2d(3, 5, 3), new nn.BatchNorm2d(5));
  try {
    const w0 = m.at<nn.Conv2d>(0).weight.toArray();
    const full = m.stateDict();

    const missing = new Map(full);
    missing.delete('0.bias');
    assert.throws(() => m.loadStateDict(missing), (e: Error) => {
      assert.match(e.message, /Error\(s\) in loading state_dict for Sequential/);
      assert.match(e.message, /Missing key\(s\) in state_dict: "0\.bias"\./);
      assert.doesNotMatch(e.message, /Unexpected/);
      return true;
    });

    const extra = new Map(full);
    const junk = zeros([2]);
    extra.set('2.weight', junk);
    assert.throws(() => m.loadStateDict(extra), /Unexpected key\(s\) in state_dict: "2\.weight"\./);

    assert.throws(() => m.loadStateDict(other.stateDict()), (e: Error) => {
      assert.match(e.message, /size mismatch for 0\.weight: copying a param with shape \[5, 3, 3, 3\] from checkpoint, the shape in current model is \[4, 3, 3, 3\]/);
      assert.match(e.message, /size mismatch for 1\.running_var: copying a param with shape \[5\] from checkpoint, the shape in current model is \[4\]/);
      return true;
    });
    // a failed load copies nothing
    const bad = new Map(full);
    const newW = zeros([4, 3, 3, 3]);
    bad.set('0.weight', newW);
    bad.set('1.running_mean', zeros([7]));
    assert.throws(() => m.loadStateDict(bad), /size mismatch for 1\.running_mean/);
    assert.deepEqual(m.at<nn.Conv2d>(0).weight.toArray(), w0);

    // non-strict: reports and loads the rest, but shape mismatches still throw
    const partial = new Map([['0.weight', newW], ['zzz', junk]]);
    const r = m.loadStateDict(partial, { strict: false });
    assert.deepEqual(r.unexpectedKeys, ['zzz']);
    assert.deepEqual(r.missingKeys, ['0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var']);
    assert.ok(m.at<nn.Conv2d>(0).weight.toArray().every((v) => v === 0));
    assert.throws(() => m.loadStateDict(new Map([['0.bias', zeros([3])]]), { strict: false }), /size mismatch for 0\.bias/);

    // num_batches_tracked may be absent (older checkpoints), as in PyTorch: the current value is kept
    const noNbt = new Map(other.stateDict().entries());
    const third = new nn.Sequential(new nn.Conv2d(3, 5, 3), new nn.BatchNorm2d(5));
    try {
      const nbt = third.getBuffer('1.num_batches_tracked');
      noGrad(() => nbt.fill_(7));
      noNbt.delete('1.num_batches_tracked');
      assert.deepEqual(third.loadStateDict(noNbt), { missingKeys: [], unexpectedKeys: [] });
      assert.equal(nbt.item(), 7);
      // but present ones are loaded (int64 scalar)
      const withNbt = other.stateDict();
      third.loadStateDict(withNbt);
      assert.equal(nbt.item(), 0);
      assert.equal(nbt.dtype, 'int64');
    } finally {
      third.dispose();
    }
  } finally {
    m.dispose();
    other.dispose();
  }
}));

test('copyFrom copies parameters and BatchNorm running statistics in place', scoped(() => {
  const a = new Net(new Generator(5));
  const b = new Net(new Generator(6));
  try {
    a.train();
    const g = new Generator(7);
    a.forward(randn([6, 3, 4, 4], { generator: g }));
    a.forward(randn([6, 3, 4, 4], { generator: g }));
    const bnA = a.features.at<nn.BatchNorm2d>(1);
    const bnB = b.features.at<nn.BatchNorm2d>(1);
    assert.notDeepEqual(bnA.runningMean!.toArray(), bnB.runningMean!.toArray());
    const rmB = bnB.runningMean!;
    b.copyFrom(a);
    assert.equal(bnB.runningMean, rmB, 'copied in place');
    assert.deepEqual(bnB.runningMean!.toArray(), bnA.runningMean!.toArray());
    assert.deepEqual(bnB.runningVar!.toArray(), bnA.runningVar!.toArray());
    assert.equal(bnB.numBatchesTracked!.item(), 2);
    for (const [k, t] of a.stateDict()) assert.deepEqual(b.stateDict().get(k)!.toArray(), t.toArray(), k);
    // no aliasing: changing a afterwards leaves b alone
    noGrad(() => bnA.runningMean!.fill_(42));
    assert.ok(bnB.runningMean!.toArray().every((v) => v !== 42));
    // same outputs in eval mode
    a.eval();
    b.eval();
    const x = randn([2, 3, 4, 4], { generator: g });
    noGrad(() => bnA.runningMean!.copy_(bnB.runningMean!));
    assertClose(b.forward(x).toArray(), a.forward(x).toArray(), 1e-6, 'outputs');

    const wrong = new nn.Sequential(new nn.Linear(2, 2));
    try {
      assert.throws(() => b.copyFrom(wrong), /copyFrom\(Sequential\): architectures differ: .*Missing key/s);
    } finally {
      wrong.dispose();
    }
  } finally {
    a.dispose();
    b.dispose();
  }
}));

test('train() / eval() propagate to every descendant', scoped(() => {
  const net = new Net();
  try {
    assert.ok(net.modules().every((m) => m.training));
    assert.equal(net.eval(), net);
    assert.ok(net.modules().every((m) => !m.training));
    net.features.train();
    assert.equal(net.training, false);
    assert.ok(net.features.modules().every((m) => m.training));
    assert.equal(net.classifier.training, false);
    net.train(true);
    assert.ok(net.modules().every((m) => m.training));
    net.train(false);
    assert.ok(net.modules().every((m) => !m.training));
  } finally {
    net.dispose();
  }
}));

/** Per-channel statistics of an NCHW array, computed in JS. */
function channelStats(x: number[], [n, c, h, w]: number[]): { mean: number[]; biased: number[]; unbiased: number[] } {
  const m = n! * h! * w!;
  const mean: number[] = [];
  const biased: number[] = [];
  const unbiased: number[] = [];
  for (let ch = 0; ch < c!; ch++) {
    const vals: number[] = [];
    for (let i = 0; i < n!; i++) for (let k = 0; k < h! * w!; k++) vals.push(x[(i * c! + ch) * h! * w! + k]!);
    const mu = vals.reduce((s, v) => s + v, 0) / m;
    const ss = vals.reduce((s, v) => s + (v - mu) ** 2, 0);
    mean.push(mu);
    biased.push(ss / m);
    unbiased.push(ss / (m - 1));
  }
  return { mean, biased, unbiased };
}
function normalize(x: number[], [, c, h, w]: number[], mean: number[], v: number[], wt: number[], b: number[], eps: number): number[] {
  return x.map((val, i) => {
    const ch = Math.floor(i / (h! * w!)) % c!;
    return ((val - mean[ch]!) / Math.sqrt(v[ch]! + eps)) * wt[ch]! + b[ch]!;
  });
}

test('BatchNorm2d: batch statistics and running updates in train mode, running statistics in eval mode', scoped(() => {
  const shape = [4, 3, 2, 3];
  const eps = 1e-3;
  const bn = new nn.BatchNorm2d(3, { eps, momentum: 0.3 });
  try {
    const wt = [0.5, 1.5, -2];
    const bs = [0.1, -0.2, 0.3];
    bn.loadStateDict({ weight: tensor(wt), bias: tensor(bs) }, { strict: false });
    const g = new Generator(11);
    const x1 = randn(shape, { generator: g }).mul(2).add(1);
    const x2 = randn(shape, { generator: g }).mul(0.5).sub(3);
    const a1 = x1.toArray();
    const a2 = x2.toArray();
    const s1 = channelStats(a1, shape);
    const s2 = channelStats(a2, shape);

    // train step 1: normalised with the biased batch variance
    const y1 = bn.forward(x1);
    assertClose(y1.toArray(), normalize(a1, shape, s1.mean, s1.biased, wt, bs, eps), 1e-4, 'train output');
    // running stats: (1 - momentum) * old + momentum * batch, with the UNBIASED batch variance
    const rm1 = s1.mean.map((m) => 0.7 * 0 + 0.3 * m);
    const rv1 = s1.unbiased.map((v) => 0.7 * 1 + 0.3 * v);
    assertClose(bn.runningMean!.toArray(), rm1, 1e-5, 'running_mean after 1');
    assertClose(bn.runningVar!.toArray(), rv1, 1e-5, 'running_var after 1');
    assert.equal(bn.numBatchesTracked!.item(), 1);

    bn.forward(x2);
    const rm2 = rm1.map((r, i) => 0.7 * r + 0.3 * s2.mean[i]!);
    const rv2 = rv1.map((r, i) => 0.7 * r + 0.3 * s2.unbiased[i]!);
    assertClose(bn.runningMean!.toArray(), rm2, 1e-5, 'running_mean after 2');
    assertClose(bn.runningVar!.toArray(), rv2, 1e-5, 'running_var after 2');
    assert.equal(bn.numBatchesTracked!.item(), 2);

    // eval: running statistics, nothing updated
    bn.eval();
    const ye = bn.forward(x1);
    assertClose(ye.toArray(), normalize(a1, shape, rm2, rv2, wt, bs, eps), 1e-4, 'eval output');
    assertClose(bn.runningMean!.toArray(), rm2, 1e-6, 'running_mean after eval');
    assert.equal(bn.numBatchesTracked!.item(), 2);

    // gradients reach weight and bias in train mode
    bn.train();
    const loss = bn.forward(x1).square().sum();
    loss.backward();
    assert.deepEqual(bn.weight!.grad!.shape, [3]);
    assert.deepEqual(bn.bias!.grad!.shape, [3]);
    bn.zeroGrad();
    assert.equal(bn.weight!.grad, null);

    assert.throws(() => bn.forward(zeros([2, 3])), /expected 4D input \(got 2D input\)/);
  } finally {
    bn.dispose();
  }
}));

test('BatchNorm2d: cumulative average (momentum null) and no running stats', scoped(() => {
  const shape = [3, 2, 2, 2];
  const g = new Generator(12);
  const x1 = randn(shape, { generator: g });
  const x2 = randn(shape, { generator: g }).add(2);
  const s1 = channelStats(x1.toArray(), shape);
  const s2 = channelStats(x2.toArray(), shape);
  const cum = new nn.BatchNorm2d(2, { momentum: null, affine: false });
  const free = new nn.BatchNorm2d(2, { trackRunningStats: false });
  try {
    assert.equal(cum.parameters().length, 0);
    cum.forward(x1);
    cum.forward(x2);
    assertClose(cum.runningMean!.toArray(), s1.mean.map((m, i) => (m + s2.mean[i]!) / 2), 1e-5, 'cumulative mean');
    assertClose(cum.runningVar!.toArray(), s1.unbiased.map((v, i) => (v + s2.unbiased[i]!) / 2), 1e-5, 'cumulative var');

    assert.deepEqual([...free.stateDict().keys()], ['weight', 'bias']);
    free.eval();
    // without running stats eval mode still normalises with the batch statistics
    assertClose(free.forward(x2).toArray(), normalize(x2.toArray(), shape, s2.mean, s2.biased, [1, 1], [0, 0], 1e-5), 1e-4, 'untracked eval');
  } finally {
    cum.dispose();
    free.dispose();
  }
}));

test('init: gains, fans and distribution bounds as torch.nn.init', scoped(() => {
  assert.equal(init.calculateGain('linear'), 1);
  assert.equal(init.calculateGain('conv2d'), 1);
  assert.equal(init.calculateGain('sigmoid'), 1);
  assert.equal(init.calculateGain('tanh'), 5 / 3);
  assert.equal(init.calculateGain('relu'), Math.SQRT2);
  assert.equal(init.calculateGain('leaky_relu'), Math.sqrt(2 / (1 + 0.01 ** 2)));
  assert.equal(init.calculateGain('leaky_relu', Math.sqrt(5)), Math.sqrt(2 / 6));
  assert.equal(init.calculateGain('selu'), 0.75);
  assert.deepEqual(init.calculateFanInAndFanOut([8, 4, 3, 3]), [36, 72]);
  assert.deepEqual(init.calculateFanInAndFanOut(zeros([10, 20])), [20, 10]);
  assert.throws(() => init.calculateFanInAndFanOut([5]), /fewer than 2 dimensions/);

  const g = new Generator(3);
  const t = empty([400, 600]);
  const check = (what: string, std: number, bound?: number): void => {
    const s = stats(t.toFloat32Array());
    assert.ok(Math.abs(s.mean) < 0.02 * std + 1e-4, `${what}: mean ${s.mean}`);
    assert.ok(Math.abs(s.std / std - 1) < 0.01, `${what}: std ${s.std}, expected ${std}`);
    if (bound !== undefined) {
      assert.ok(s.max <= bound && s.min >= -bound, `${what}: range [${s.min}, ${s.max}] exceeds ±${bound}`);
      assert.ok(s.max > 0.99 * bound && s.min < -0.99 * bound, `${what}: range [${s.min}, ${s.max}] does not fill ±${bound}`);
    }
  };
  // fan_in = 600, fan_out = 400
  init.kaimingUniform_(t, { a: 0, nonlinearity: 'relu' }, g);
  check('kaiming_uniform relu', Math.sqrt(2 / 600), Math.sqrt(6 / 600));
  init.kaimingUniform_(t, { mode: 'fan_out', nonlinearity: 'relu' }, g);
  check('kaiming_uniform fan_out', Math.sqrt(2 / 400), Math.sqrt(6 / 400));
  init.kaimingNormal_(t, { mode: 'fan_out', nonlinearity: 'relu' }, g);
  check('kaiming_normal fan_out', Math.sqrt(2 / 400));
  init.kaimingNormal_(t, {}, g);
  check('kaiming_normal leaky default', Math.sqrt(2 / (1 + 1e-4)) / Math.sqrt(600));
  init.xavierUniform_(t, 1, g);
  check('xavier_uniform', Math.sqrt(2 / 1000), Math.sqrt(6 / 1000));
  init.xavierNormal_(t, 2, g);
  check('xavier_normal gain 2', 2 * Math.sqrt(2 / 1000));
  init.uniform_(t, -3, 3, g);
  check('uniform', Math.sqrt(3), 3);
  init.normal_(t, 0, 0.02, g);
  check('normal', 0.02);
  // exact formulas: the same draws made directly with hand-computed bounds / std from an identically seeded generator
  const exact = (fill: (x: Tensor, gen: Generator) => void, ref: (x: Tensor, gen: Generator) => void, what: string): void => {
    const a = empty([30, 20, 3, 3]);
    const b = empty([30, 20, 3, 3]);
    fill(a, new Generator(77));
    ref(b, new Generator(77));
    assert.deepEqual(a.toArray(), b.toArray(), what);
  };
  // fan_in = 180, fan_out = 270
  exact((x, q) => init.kaimingUniform_(x, { a: 0.2 }, q), (x, q) => x.uniform_(-Math.sqrt(6 / (1.04 * 180)), Math.sqrt(6 / (1.04 * 180)), q), 'kaiming_uniform a=0.2');
  exact((x, q) => init.kaimingUniform_(x, { mode: 'fan_out', nonlinearity: 'tanh' }, q), (x, q) => x.uniform_(-(5 / 3) * Math.sqrt(3 / 270), (5 / 3) * Math.sqrt(3 / 270), q), 'kaiming_uniform tanh fan_out');
  exact((x, q) => init.kaimingNormal_(x, { nonlinearity: 'relu' }, q), (x, q) => x.normal_(0, Math.sqrt(2 / 180), q), 'kaiming_normal relu');
  exact((x, q) => init.xavierUniform_(x, 0.5, q), (x, q) => x.uniform_(-0.5 * Math.sqrt(6 / 450), 0.5 * Math.sqrt(6 / 450), q), 'xavier_uniform');
  exact((x, q) => init.xavierNormal_(x, 3, q), (x, q) => x.normal_(0, 3 * Math.sqrt(2 / 450), q), 'xavier_normal');

  init.constant_(t, 0.25);
  assert.ok(t.toArray().every((v) => v === 0.25));
  init.ones_(t);
  assert.ok(t.toArray().every((v) => v === 1));
  init.zeros_(t);
  assert.ok(t.toArray().every((v) => v === 0));

  // init works on parameters (requiresGrad leaves) and records no graph
  const lin = new nn.Linear(3, 2);
  try {
    init.normal_(lin.weight, 0, 1, g);
    assert.equal(lin.weight.isLeaf, true);
    assert.equal(lin.weight.requiresGrad, true);
  } finally {
    lin.dispose();
  }
}));

test('Conv2d / Linear default init: kaiming_uniform(a=sqrt(5)) weight, U(±1/sqrt(fan_in)) bias', scoped(() => {
  const conv = new nn.Conv2d(64, 128, 3, { generator: new Generator(9) });
  const lin = new nn.Linear(1024, 512, { generator: new Generator(9) });
  const grouped = new nn.Conv2d(8, 16, [3, 5], { groups: 4, bias: false });
  try {
    for (const [name, w, b, fanIn] of [
      ['conv', conv.weight, conv.bias!, 64 * 9],
      ['linear', lin.weight, lin.bias!, 1024],
    ] as const) {
      const bound = 1 / Math.sqrt(fanIn);
      const ws = stats(w.toFloat32Array());
      assert.ok(ws.max <= bound && ws.min >= -bound, `${name} weight within ±${bound}`);
      assert.ok(ws.max > 0.98 * bound && ws.min < -0.98 * bound, `${name} weight fills ±${bound}`);
      // U(-bound, bound) has std bound / sqrt(3)
      assert.ok(Math.abs(ws.std / (bound / Math.sqrt(3)) - 1) < 0.02, `${name} weight std ${ws.std}`);
      const bst = stats(b.toFloat32Array());
      assert.ok(bst.max <= bound && bst.min >= -bound, `${name} bias within ±${bound}`);
      assert.ok(bst.max - bst.min > bound, `${name} bias spread`);
    }
    assert.deepEqual(conv.weight.shape, [128, 64, 3, 3]);
    assert.deepEqual(grouped.weight.shape, [16, 2, 3, 5]);
    assert.equal(grouped.bias, null);
    assert.deepEqual([...grouped.stateDict().keys()], ['weight']);
    const gb = 1 / Math.sqrt(2 * 15);
    assert.ok(grouped.weight.toArray().every((v) => Math.abs(v) <= gb));
    const bn = new nn.BatchNorm2d(5);
    try {
      assert.deepEqual(bn.weight!.toArray(), [1, 1, 1, 1, 1]);
      assert.deepEqual(bn.bias!.toArray(), [0, 0, 0, 0, 0]);
      assert.deepEqual(bn.runningMean!.toArray(), [0, 0, 0, 0, 0]);
      assert.deepEqual(bn.runningVar!.toArray(), [1, 1, 1, 1, 1]);
      assert.equal(bn.numBatchesTracked!.item(), 0);
    } finally {
      bn.dispose();
    }
    assert.throws(() => new nn.Conv2d(6, 4, 3, { groups: 4 }), /inChannels \(6\) must be divisible by groups \(4\)/);
  } finally {
    conv.dispose();
    lin.dispose();
    grouped.dispose();
  }
}));

test('seeded init is reproducible and draws in PyTorch order (weight, then bias)', scoped(() => {
  const a = new nn.Conv2d(3, 6, 3, { generator: new Generator(123) });
  const b = new nn.Conv2d(3, 6, 3, { generator: new Generator(123) });
  const c = new nn.Conv2d(3, 6, 3, { generator: new Generator(124) });
  try {
    assert.deepEqual(a.weight.toArray(), b.weight.toArray());
    assert.deepEqual(a.bias!.toArray(), b.bias!.toArray());
    assert.notDeepEqual(a.weight.toArray(), c.weight.toArray());
    // the same draws made by hand from the same stream
    const g = new Generator(123);
    const bound = 1 / Math.sqrt(27);
    const w = empty([6, 3, 3, 3]).uniform_(-bound, bound, g);
    const bias = empty([6]).uniform_(-bound, bound, g);
    assert.deepEqual(a.weight.toArray(), w.toArray());
    assert.deepEqual(a.bias!.toArray(), bias.toArray());
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }

  // Against PyTorch itself: torch.manual_seed(1); torch.rand(4) == [0.7576, 0.2793, 0.4031, 0.7347], so
  // torch.manual_seed(1); nn.Linear(3, 1) has weight (2u - 1) / sqrt(3) for the first three and bias for the fourth.
  manualSeed(1);
  const lin = new nn.Linear(3, 1);
  try {
    const u = [0.7576, 0.2793, 0.4031, 0.7347];
    const s = 1 / Math.sqrt(3);
    assertClose(lin.weight.toArray(), u.slice(0, 3).map((v) => (2 * v - 1) * s), 2e-4, 'torch Linear weight');
    assertClose(lin.bias!.toArray(), [(2 * u[3]! - 1) * s], 2e-4, 'torch Linear bias');
  } finally {
    lin.dispose();
  }
}));

test('Dropout: identity in eval mode, inverted scaling in train mode, seeded masks', scoped(() => {
  const x = ones([20000]);
  const d = new nn.Dropout(0.25, { generator: new Generator(5) });
  d.eval();
  assert.deepEqual(d.forward(x).toArray(), x.toArray());
  d.train();
  const y = d.forward(x).toArray();
  const zerosN = y.filter((v) => v === 0).length;
  assert.ok(y.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6), 'kept values scaled by 1/(1-p)');
  assert.ok(Math.abs(zerosN / y.length - 0.25) < 0.02, `dropped fraction ${zerosN / y.length}`);
  const d2 = new nn.Dropout(0.25, { generator: new Generator(5) });
  assert.deepEqual(d2.forward(x).toArray(), y, 'same seed, same mask');
  assert.notDeepEqual(d2.forward(x).toArray(), y, 'the generator advances');
  assert.throws(() => new nn.Dropout(1.5), /p must be in \[0, 1\]/);
}));

test('Sequential forward shapes and other layers', scoped(() => {
  const g = new Generator(8);
  const model = new nn.Sequential(
    new nn.Conv2d(3, 8, 3, { padding: 1, generator: g }),
    new nn.BatchNorm2d(8),
    new nn.LeakyReLU(0.2),
    new nn.MaxPool2d(2),
    new nn.Conv2d(8, 8, 3, { stride: 2, padding: 1, bias: false, generator: g }),
    new nn.GELU(),
    new nn.AvgPool2d(2),
    new nn.Upsample({ scaleFactor: 2, mode: 'bilinear' }),
    new nn.Tanh(),
    new nn.AdaptiveAvgPool2d(1),
    new nn.Flatten(),
    new nn.Dropout(0.1, { generator: g }),
    new nn.Linear(8, 10, { generator: g }),
    new nn.Sigmoid(),
    new nn.Identity(),
  );
  try {
    assert.equal(model.length, 15);
    assert.ok(model.at(-1) instanceof nn.Identity);
    const x = randn([2, 3, 16, 16], { generator: g });
    const y = model.forward(x);
    assert.deepEqual(y.shape, [2, 10]);
    assert.ok(y.toArray().every((v) => v > 0 && v < 1));
    assert.equal(x.isDisposed, false, 'the input is not disposed');
    // intermediates are freed: only the output is left (eval mode: F.dropout's train path keeps its own temporaries)
    model.eval();
    const before = memory().tensors;
    const y2 = model.forward(x);
    assert.equal(memory().tensors, before + 1);
    y2.dispose();

    const id = new nn.Identity();
    assert.equal(id.forward(x), x);
    assert.deepEqual(new nn.Upsample({ size: [5, 7] }).forward(x).shape, [2, 3, 5, 7]);
    assert.deepEqual(new nn.Flatten(0, 1).forward(x).shape, [6, 16, 16]);
    assert.deepEqual(new nn.MaxPool2d(3, { stride: 1, padding: 1 }).forward(x).shape, [2, 3, 16, 16]);
    assert.deepEqual(new nn.AvgPool2d([2, 4]).forward(x).shape, [2, 3, 8, 4]);
    const up = new nn.ConvTranspose2d(3, 4, 4, { stride: 2, padding: 1, generator: g });
    try {
      assert.deepEqual(up.weight.shape, [3, 4, 4, 4]);
      assert.deepEqual(up.forward(x).shape, [2, 4, 32, 32]);
      const bound = 1 / Math.sqrt(4 * 16);
      assert.ok(up.weight.toArray().every((v) => Math.abs(v) <= bound));
    } finally {
      up.dispose();
    }
    assert.deepEqual(new nn.ReLU().forward(tensor([-1, 2])).toArray(), [0, 2]);
    assert.deepEqual(new nn.LeakyReLU(0.5).forward(tensor([-2, 2])).toArray(), [-1, 2]);
    assertClose(new nn.SiLU().forward(tensor([1])).toArray(), [1 / (1 + Math.exp(-1))], 1e-6);
    assert.throws(() => new nn.Upsample({ scaleFactor: 2, alignCorners: true }), /alignCorners/);
    assert.throws(() => new nn.ModuleList([new nn.ReLU()]).forward(x), /ModuleList has no forward/);

    assert.equal(
      model.at(0).toString(),
      'Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))',
    );
    assert.match(model.toString(), /^Sequential\(\n {2}\(0\): Conv2d\(3, 8,.*\n {2}\(1\): BatchNorm2d\(8, eps=1e-05, momentum=0\.1, affine=True, track_running_stats=True\)\n/);
  } finally {
    model.dispose();
  }
}));

test('autograd through a model, zeroGrad and requiresGrad_', scoped(() => {
  const net = new Net(new Generator(21));
  try {
    const x = randn([2, 3, 6, 6], { generator: new Generator(22) });
    net.forward(x).sum().backward();
    for (const [n, p] of net.namedParameters()) {
      const g = p.grad;
      assert.ok(g !== null, `${n} has a gradient`);
      assert.deepEqual(g.shape, p.shape);
    }
    net.zeroGrad();
    for (const p of net.parameters()) assert.equal(p.grad, null);
    net.features.requiresGrad_(false);
    assert.equal(net.numParameters(true), 1 + 2 * 4 + 2);
    assert.ok(net.features.parameters().every((p) => !p.requiresGrad));
    net.forward(x).sum().backward();
    assert.equal(net.features.at<nn.Conv2d>(0).weight.grad, null);
    assert.notEqual(net.classifier.weight.grad, null);
  } finally {
    net.dispose();
  }
}));

test('to(device) replaces tensors, keeps requiresGrad and grads, and frees the old ones', scoped(() => {
  const net = new Net(new Generator(31));
  try {
    const x = randn([2, 3, 4, 4], { generator: new Generator(32) });
    net.forward(x).sum().backward();
    const oldW = net.classifier.weight;
    const oldNbt = net.getBuffer('features.1.num_batches_tracked');
    const values = new Map([...net.stateDict()].map(([k, t]) => [k, t.toArray()]));
    const gradW = oldW.grad!.toArray();
    const live = memory().tensors;
    assert.equal(net.to('cpu'), net);
    assert.equal(memory().tensors, live, 'old handles disposed');
    assert.ok(oldW.isDisposed);
    assert.ok(oldNbt.isDisposed);
    // accessors read the new tensors
    assert.notEqual(net.classifier.weight, oldW);
    assert.equal(net.classifier.weight, net.getParameter('classifier.weight'));
    assert.equal(net.classifier.weight.kept, true);
    assert.equal(net.classifier.weight.requiresGrad, true);
    assert.equal(net.classifier.weight.isLeaf, true);
    assert.deepEqual(net.classifier.weight.grad!.toArray(), gradW);
    assert.equal(net.getBuffer('features.1.running_mean').requiresGrad, false);
    for (const [k, t] of net.stateDict()) assert.deepEqual(t.toArray(), values.get(k), k);
    assert.deepEqual(net.forward(x).shape, [2, 2]);

    // dtype casting touches floating tensors only
    net.to({ dtype: 'float64' });
    assert.equal(net.classifier.weight.dtype, 'float64');
    assert.equal(net.classifier.weight.requiresGrad, true);
    assert.equal(net.getBuffer('features.1.num_batches_tracked').dtype, 'int64');
    assert.deepEqual(net.forward(x.to('float64')).shape, [2, 2]);
  } finally {
    net.dispose();
  }
}));

test('to("cuda") round trip', { skip: !engineInfo().cuda && 'no CUDA device' }, scoped(() => {
  const net = new Net(new Generator(41));
  try {
    const before = new Map([...net.stateDict()].map(([k, t]) => [k, t.toArray()]));
    net.to('cuda').train();
    assert.ok(net.parameters().every((p) => p.device.startsWith('cuda') && p.requiresGrad));
    assert.ok(net.buffers().every((b) => b.device.startsWith('cuda')));
    const x = randn([4, 3, 8, 8], { generator: new Generator(42) }).to({ device: 'cuda' });
    net.forward(x).sum().backward();
    assert.equal(net.getBuffer('features.1.num_batches_tracked').item(), 1);
    assert.ok(net.classifier.weight.grad!.device.startsWith('cuda'));
    net.to('cpu');
    assert.ok(net.classifier.weight.grad!.device === 'cpu');
    for (const [k, t] of net.stateDict()) {
      if (k.startsWith('features.1.running') || k.endsWith('num_batches_tracked')) continue;
      assert.deepEqual(t.toArray(), before.get(k), k);
    }
  } finally {
    net.dispose();
  }
}));

test('dispose frees every parameter and buffer', () => {
  const baseline = memory().tensors;
  const baseBytes = memory().bytes;
  const net = new Net(new Generator(51));
  const extra = new nn.Sequential(new nn.Conv2d(3, 16, 3), new nn.BatchNorm2d(16), new nn.Linear(4, 4));
  assert.equal(memory().tensors, baseline + net.stateDict().size + extra.stateDict().size);
  scope(() => {
    net.train();
    net.forward(randn([2, 3, 5, 5])).sum().backward();
    net.zeroGrad();
  });
  assert.equal(memory().tensors, baseline + net.stateDict().size + extra.stateDict().size);
  net.dispose();
  extra.dispose();
  assert.equal(memory().tensors, baseline);
  assert.equal(memory().bytes, baseBytes);
  assert.ok(net.parameters().every((p) => p.isDisposed));
  assert.ok(net.buffers().every((b) => b.isDisposed));
  assert.throws(() => net.forward(zeros([1, 3, 4, 4])), /disposed/);
  net.dispose(); // twice is harmless
});
