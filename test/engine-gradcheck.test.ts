// Finite-difference gradient checks (float64, central differences) for every differentiable op.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Generator, cat, grad, memory, scope, setNumThreads, stack, tensor, where, type Tensor } from '../src/engine/index.js';
import { distinctT, f64, gradcheck, randT, type GradFn, type GradcheckOptions } from './helpers/gradcheck.js';

// The tensors here are tiny: one intra-op thread avoids libtorch's thread hand-off overhead (this process only).
setNumThreads(1);

/** Runs a gradient check inside a scope and checks that it was not vacuous. */
function gc(name: string, fn: GradFn, mk: () => Tensor[], o: GradcheckOptions = {}): void {
  const before = memory().tensors;
  scope(() => {
    const maxAbs = gradcheck(fn, mk(), { name, ...o });
    assert.ok(maxAbs > 1e-6, `${name}: the numerical gradient is identically ~0, the check would be vacuous`);
  });
  assert.equal(memory().tensors, before, `${name}: gradcheck leaked tensors`);
}

const idx = (data: number[] | number[][] | number[][][], shape?: number[]): Tensor =>
  tensor(data as never, { dtype: 'int64', ...(shape ? { shape } : {}) });
const boolT = (data: boolean[] | boolean[][]): Tensor => tensor(data as never, { dtype: 'bool' });

describe('gradcheck helper', () => {
  test('detects a wrong gradient (detach inside fn hides half of d(x*x)/dx)', () => {
    assert.throws(() => scope(() => gradcheck((x) => x.detach().mul(x), [randT([3], 1, { minAbs: 0.1 })])), /finite difference/);
  });
  test('detects a missing gradient path (allowUnused null treated as zeros)', () => {
    assert.throws(() => scope(() => gradcheck((x, y) => x.detach().mul(y), [randT([2], 2, { minAbs: 0.1 }), randT([2], 3)])), /input 0/);
  });
  test('rejects float32 inputs', () => {
    assert.throws(() => scope(() => gradcheck((x) => x.exp(), [tensor([1, 2])])), /float64/);
  });
});

describe('gradcheck: arithmetic with broadcasting', () => {
  const A = () => randT([2, 3], 10, { minAbs: 0.2 });
  const Brow = () => randT([3], 11, { minAbs: 0.3 });
  const Bcol = () => randT([2, 1], 12, { minAbs: 0.3 });
  test('add (tensor, broadcast, scalar, alpha)', () => {
    gc('add', (a, b) => a.add(b), () => [A(), Brow()]);
    gc('add col', (a, b) => a.add(b), () => [A(), Bcol()]);
    gc('add scalar', (a) => a.add(2.5), () => [A()]);
    gc('add alpha', (a, b) => a.add(b, -1.5), () => [A(), Brow()]);
  });
  test('sub (tensor, broadcast, scalar, rsub)', () => {
    gc('sub', (a, b) => a.sub(b), () => [A(), Bcol()]);
    gc('sub broadcast both', (a, b) => a.sub(b), () => [randT([2, 1], 13), randT([1, 3], 14)]);
    gc('sub scalar', (a) => a.sub(0.7), () => [A()]);
    gc('rsub', (a) => a.rsub(3), () => [A()]);
  });
  test('mul (tensor, broadcast, scalar)', () => {
    gc('mul', (a, b) => a.mul(b), () => [A(), randT([2, 3], 15)]);
    gc('mul broadcast', (a, b) => a.mul(b), () => [A(), Brow()]);
    gc('mul scalar', (a) => a.mul(-3), () => [A()]);
  });
  test('div (tensor, broadcast, scalar, rdiv)', () => {
    gc('div', (a, b) => a.div(b), () => [A(), randT([2, 3], 16, { minAbs: 0.3 })]);
    gc('div broadcast', (a, b) => a.div(b), () => [A(), Bcol()]);
    gc('div scalar', (a) => a.div(0.3), () => [A()]);
    gc('rdiv', (a) => a.rdiv(2), () => [A()]);
  });
  test('pow (scalar exponent, tensor exponent, rpow)', () => {
    const pos = () => randT([2, 3], 17, { lo: 0.3, hi: 2 });
    gc('pow 3', (a) => a.pow(3), () => [A()]);
    gc('pow 2.5', (a) => a.pow(2.5), () => [pos()]);
    gc('pow -1.5', (a) => a.pow(-1.5), () => [pos()]);
    gc('pow tensor', (a, b) => a.pow(b), () => [pos(), randT([2, 3], 18, { lo: -2, hi: 2 })]);
    gc('pow tensor broadcast', (a, b) => a.pow(b), () => [pos(), randT([3], 19, { lo: -2, hi: 2 })]);
    gc('rpow', (a) => a.rpow(1.7), () => [A()]);
  });
  test('neg, square, reciprocal', () => {
    gc('neg', (a) => a.neg(), () => [A()]);
    gc('square', (a) => a.square(), () => [A()]);
    gc('reciprocal', (a) => a.reciprocal(), () => [A()]);
  });
  test('minimum / maximum (tensor, broadcast, scalar; away from ties)', () => {
    const a = () => distinctT([2, 3], 20, 0.2);
    const b = () => distinctT([2, 3], 21, 0.2, 0.05); // offset differs: a-b never within 0.05 of 0
    gc('minimum', (x, y) => x.minimum(y), () => [a(), b()]);
    gc('maximum', (x, y) => x.maximum(y), () => [a(), b()]);
    gc('maximum broadcast', (x, y) => x.maximum(y), () => [a(), f64([0.03, -0.17, 0.33])]);
    gc('minimum scalar', (x) => x.minimum(0.07), () => [a()]);
    gc('maximum scalar', (x) => x.maximum(-0.07), () => [a()]);
  });
  test('lerp', () => {
    gc('lerp', (a, b) => a.lerp(b, 0.3), () => [A(), randT([2, 3], 22)]);
  });
});

describe('gradcheck: unary math and activations', () => {
  const X = () => randT([2, 4], 30, { lo: -2, hi: 2, minAbs: 0.05 });
  const P = () => randT([2, 4], 31, { lo: 0.2, hi: 3 });
  test('exp, log, log1p, log2, expm1, sqrt, rsqrt', () => {
    gc('exp', (a) => a.exp(), () => [X()]);
    gc('log', (a) => a.log(), () => [P()]);
    gc('log1p', (a) => a.log1p(), () => [P()]);
    gc('log2', (a) => a.log2(), () => [P()]);
    gc('expm1', (a) => a.expm1(), () => [X()]);
    gc('sqrt', (a) => a.sqrt(), () => [P()]);
    gc('rsqrt', (a) => a.rsqrt(), () => [P()]);
  });
  test('abs (away from 0), sin, cos', () => {
    gc('abs', (a) => a.abs(), () => [X()]);
    gc('sin', (a) => a.sin(), () => [X()]);
    gc('cos', (a) => a.cos(), () => [X()]);
  });
  test('relu, leakyRelu (away from 0)', () => {
    gc('relu', (a) => a.relu(), () => [X()]);
    gc('F.relu', (a) => F.relu(a), () => [X()]);
    gc('leakyRelu default', (a) => a.leakyRelu(), () => [X()]);
    gc('leakyRelu 0.2', (a) => F.leakyRelu(a, 0.2), () => [X()]);
  });
  test('tanh, sigmoid', () => {
    gc('tanh', (a) => F.tanh(a), () => [X()]);
    gc('sigmoid', (a) => F.sigmoid(a), () => [X()]);
  });
  test('gelu (exact and tanh), silu, softplus', () => {
    gc('gelu', (a) => F.gelu(a), () => [X()]);
    gc('gelu tanh', (a) => F.gelu(a, 'tanh'), () => [X()]);
    gc('silu', (a) => a.silu(), () => [X()]);
    gc('softplus', (a) => a.softplus(), () => [X()]);
  });
  test('clamp (scalar bounds, one-sided, tensor bounds; away from the bounds)', () => {
    const Y = () => randT([3, 4], 32, { lo: -1, hi: 1, avoid: [-0.5, 0.4], avoidGap: 0.02 });
    gc('clamp', (a) => a.clamp(-0.5, 0.4), () => [Y()]);
    gc('clamp min', (a) => a.clamp(-0.5), () => [Y()]);
    gc('clamp max', (a) => a.clamp(null, 0.4), () => [Y()]);
    gc('clamp tensor', (a) => a.clamp(f64([-0.5, -0.5, -0.5, -0.5]), f64([0.4, 0.4, 0.4, 0.4])), () => [Y()]);
  });
});

describe('gradcheck: reductions', () => {
  const X = () => randT([2, 3, 4], 40);
  test('sum: all, dim, dims, keepdim', () => {
    gc('sum', (a) => a.sum(), () => [X()]);
    gc('sum dim', (a) => a.sum(1).square(), () => [X()]);
    gc('sum dims keepdim', (a) => a.sum([0, 2], true).square(), () => [X()]);
    gc('sum neg dim', (a) => a.sum(-1).square(), () => [X()]);
  });
  test('mean: all, dims, keepdim', () => {
    gc('mean', (a) => a.mean().square(), () => [X()]);
    gc('mean dims', (a) => a.mean([1, 2]).square(), () => [X()]);
    gc('mean keepdim', (a) => a.mean(0, true).square(), () => [X()]);
  });
  test('var / std with correction 0 and 1', () => {
    gc('var', (a) => a.var(), () => [X()]);
    gc('var dim', (a) => a.var(2), () => [X()]);
    gc('var corr0 keepdim', (a) => a.var([0, 2], { correction: 0, keepdim: true }), () => [X()]);
    gc('std', (a) => a.std(), () => [X()]);
    gc('std dim corr0', (a) => a.std(1, { correction: 0 }), () => [X()]);
    gc('std keepdim', (a) => a.std(-1, { keepdim: true }), () => [X()]);
  });
  test('amax / amin (distinct values)', () => {
    const D = () => distinctT([2, 3, 4], 41, 0.1);
    gc('amax', (a) => a.amax(), () => [D()]);
    gc('amax dim', (a) => a.amax(1), () => [D()]);
    gc('amax dims keepdim', (a) => a.amax([0, 2], true), () => [D()]);
    gc('amin dim', (a) => a.amin(-1), () => [D()]);
    gc('max()', (a) => a.max(), () => [D()]);
  });
  test('max(dim) / min(dim) values', () => {
    const D = () => distinctT([3, 4], 42, 0.1);
    gc('max dim values', (a) => a.max(1).values, () => [D()]);
    gc('max dim keepdim', (a) => a.max(0, true).values, () => [D()]);
    gc('min dim values', (a) => a.min(1).values, () => [D()]);
  });
  test('logsumexp with dims and keepdim', () => {
    gc('logsumexp', (a) => a.logsumexp(2), () => [X()]);
    gc('logsumexp dims keepdim', (a) => a.logsumexp([0, 1], true), () => [X()]);
  });
  test('prod, norm, cumsum', () => {
    const Y = () => randT([2, 3], 43, { minAbs: 0.2 });
    gc('prod', (a) => a.prod(), () => [Y()]);
    gc('prod dim', (a) => a.prod(1), () => [Y()]);
    gc('norm', (a) => a.norm(), () => [X()]);
    gc('norm dims keepdim', (a) => a.norm([1, 2], true), () => [X()]);
    gc('norm dim', (a) => a.norm(-1), () => [X()]);
    gc('cumsum', (a) => a.cumsum(1).square(), () => [X()]);
  });
  test('sort / topk values (distinct)', () => {
    const D = () => distinctT([2, 5], 44, 0.1);
    gc('sort values', (a) => a.sort(1).values, () => [D()]);
    gc('sort desc', (a) => a.sort(0, true).values, () => [D()]);
    gc('topk values', (a) => a.topk(2).values, () => [D()]);
    gc('topk smallest', (a) => a.topk(3, { largest: false }).values, () => [D()]);
  });
  test('softmax / logSoftmax over each dim', () => {
    gc('softmax -1', (a) => a.softmax(-1), () => [X()]);
    gc('softmax 0', (a) => F.softmax(a, 0), () => [X()]);
    gc('logSoftmax 1', (a) => a.logSoftmax(1), () => [X()]);
    gc('logSoftmax -1', (a) => F.logSoftmax(a, -1), () => [X()]);
  });
});

describe('gradcheck: matmul and linear', () => {
  test('matmul: 2d@2d, batched@2d, vec@mat, mat@vec, batched@batched', () => {
    gc('mm', (a, b) => a.matmul(b), () => [randT([2, 3], 50), randT([3, 4], 51)]);
    gc('bmm broadcast', (a, b) => a.matmul(b), () => [randT([2, 2, 3], 52), randT([3, 2], 53)]);
    gc('vec@mat', (a, b) => a.matmul(b), () => [randT([3], 54), randT([3, 2], 55)]);
    gc('mat@vec', (a, b) => a.matmul(b), () => [randT([2, 3], 56), randT([3], 57)]);
    gc('bmm', (a, b) => a.matmul(b), () => [randT([2, 2, 3], 58), randT([2, 3, 2], 59)]);
  });
  test('linear with and without bias (input, weight, bias)', () => {
    gc('linear', (x, w, b) => F.linear(x, w, b), () => [randT([3, 4], 60), randT([2, 4], 61), randT([2], 62)]);
    gc('linear nobias', (x, w) => F.linear(x, w), () => [randT([2, 3, 4], 63), randT([5, 4], 64)]);
  });
});

describe('gradcheck: shape and indexing ops', () => {
  const X = () => randT([2, 3, 4], 70);
  test('reshape, view, flatten, permute, transpose, T', () => {
    gc('reshape', (a) => a.reshape(4, 6).square(), () => [X()]);
    gc('reshape -1', (a) => a.reshape([-1, 2]).square(), () => [X()]);
    gc('view', (a) => a.view(6, 4).square(), () => [X()]);
    gc('flatten', (a) => a.flatten(1).square(), () => [X()]);
    gc('permute', (a) => a.permute(2, 0, 1).square().cumsum(0), () => [X()]);
    gc('transpose', (a) => a.transpose(0, 2).cumsum(0), () => [X()]);
    gc('T', (a) => a.T.cumsum(1), () => [randT([3, 4], 71)]);
  });
  test('squeeze, unsqueeze, expand, expandAs, repeat', () => {
    gc('squeeze', (a) => a.squeeze().square(), () => [randT([1, 3, 1, 2], 72)]);
    gc('squeeze dim', (a) => a.squeeze(2).square(), () => [randT([1, 3, 1, 2], 73)]);
    gc('unsqueeze', (a) => a.unsqueeze(1).square(), () => [randT([3, 2], 74)]);
    gc('expand', (a) => a.expand(3, 2, 4).square(), () => [randT([2, 1], 75)]);
    gc('expandAs', (a) => a.expandAs(tensor(new Float64Array(12), { shape: [4, 3], dtype: 'float64' })), () => [randT([1, 3], 76)]);
    gc('repeat', (a) => a.repeat(2, 1, 3).square(), () => [randT([2, 2], 77)]);
  });
  test('cat, stack', () => {
    gc('cat 0', (a, b) => cat([a, b]).square(), () => [randT([2, 3], 78), randT([1, 3], 79)]);
    gc('cat -1', (a, b, c) => cat([a, b, c], -1).square(), () => [randT([2, 1], 80), randT([2, 2], 81), randT([2, 3], 82)]);
    gc('stack 1', (a, b) => stack([a, b], 1).square(), () => [randT([2, 3], 83), randT([2, 3], 84)]);
  });
  test('split (size and sizes), chunk', () => {
    gc('split', (a) => a.split(2, 1).map((t) => t.square()), () => [randT([2, 5], 85)]);
    gc('split sizes', (a) => a.split([1, 3], 0).map((t, i) => t.mul(i + 1).exp()), () => [randT([4, 2], 86)]);
    gc('chunk', (a) => a.chunk(3, -1).map((t) => t.square()), () => [randT([2, 6], 87)]);
  });
  test('narrow, slice (step, negative), select', () => {
    gc('narrow', (a) => a.narrow(1, 1, 2).square(), () => [X()]);
    gc('slice step', (a) => a.slice(2, 0, 4, 2).square(), () => [X()]);
    gc('slice negative', (a) => a.slice(-1, -3).square(), () => [X()]);
    gc('slice open end', (a) => a.slice(0, 1).square(), () => [X()]);
    gc('select', (a) => a.select(1, 2).square(), () => [X()]);
    gc('select negative', (a) => a.select(-1, -1).square(), () => [X()]);
  });
  test('indexSelect (repeated indices accumulate), gather, scatter', () => {
    gc('indexSelect', (a) => a.indexSelect(1, idx([2, 0, 2])).square(), () => [randT([2, 3], 88)]);
    gc('gather', (a) => a.gather(1, idx([[0, 0], [2, 1]])).square(), () => [randT([2, 3], 89)]);
    gc('gather dim0', (a) => a.gather(0, idx([[1, 0, 1]])).square(), () => [randT([2, 3], 90)]);
    gc('scatter (self and src)', (a, s) => a.scatter(1, idx([[2], [0]]), s).square(), () => [randT([2, 3], 91), randT([2, 1], 92)]);
  });
  test('where, maskedFill, flip, roll', () => {
    const cond = () => boolT([[true, false, true], [false, false, true]]);
    gc('where', (a, b) => where(cond(), a, b).square(), () => [randT([2, 3], 93), randT([2, 3], 94)]);
    gc('where broadcast', (a, b) => where(cond(), a, b).square(), () => [randT([2, 3], 95), randT([3], 96)]);
    gc('maskedFill', (a) => a.maskedFill(cond(), 2).square(), () => [randT([2, 3], 97)]);
    gc('flip', (a) => a.flip([0, 2]).cumsum(2), () => [X()]);
    gc('roll', (a) => a.roll(1, 2).cumsum(2), () => [X()]);
    gc('roll multi', (a) => a.roll([1, -2], [0, 1]).cumsum(1), () => [X()]);
  });
  test('pad: constant, reflect, replicate, circular', () => {
    const Y = () => randT([1, 2, 3, 3], 98);
    gc('pad constant', (a) => F.pad(a, [1, 2, 0, 1], 'constant', 0.5).cumsum(3), () => [Y()]);
    gc('pad reflect', (a) => F.pad(a, [2, 1, 1, 2], 'reflect').cumsum(3), () => [Y()]);
    gc('pad replicate', (a) => F.pad(a, [1, 1, 2, 0], 'replicate').cumsum(2), () => [Y()]);
    gc('pad circular', (a) => F.pad(a, [1, 2, 1, 0], 'circular').cumsum(2), () => [Y()]);
    gc('pad 1d reflect', (a) => F.pad(a, [2, 2], 'reflect').square(), () => [randT([1, 2, 4], 99)]);
  });
  test('clone, contiguous, to(float64)', () => {
    gc('clone', (a) => a.clone().square(), () => [randT([2, 2], 100)]);
    gc('contiguous', (a) => a.T.contiguous().cumsum(1), () => [randT([2, 3], 101)]);
    gc('to float64 (no-op)', (a) => a.to('float64').square(), () => [randT([2, 2], 102)]);
  });
});

describe('gradcheck: convolutions', () => {
  test('conv2d basic with bias (input, weight, bias)', () => {
    gc('conv2d', (x, w, b) => F.conv2d(x, w, b), () => [randT([2, 2, 4, 4], 110), randT([3, 2, 2, 2], 111), randT([3], 112)]);
  });
  test('conv2d stride 2, padding 1, non-square kernel', () => {
    gc('conv2d s2p1', (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1 }), () => [randT([1, 2, 5, 5], 113), randT([2, 2, 3, 2], 114), randT([2], 115)]);
    gc('conv2d s(1,2) p(0,1)', (x, w) => F.conv2d(x, w, null, { stride: [1, 2], padding: [0, 1] }), () => [randT([1, 1, 4, 5], 116), randT([2, 1, 2, 3], 117)]);
  });
  test('conv2d dilation 2', () => {
    gc('conv2d d2', (x, w, b) => F.conv2d(x, w, b, { dilation: 2, padding: 1 }), () => [randT([1, 2, 5, 5], 118), randT([2, 2, 2, 2], 119), randT([2], 120)]);
  });
  test('conv2d groups 2 and depthwise', () => {
    gc('conv2d g2', (x, w, b) => F.conv2d(x, w, b, { groups: 2 }), () => [randT([1, 4, 4, 4], 121), randT([4, 2, 2, 2], 122), randT([4], 123)]);
    gc('conv2d depthwise', (x, w) => F.conv2d(x, w, null, { groups: 3, padding: 1 }), () => [randT([1, 3, 3, 3], 124), randT([3, 1, 3, 3], 125)]);
  });
  test('convTranspose2d: basic, stride 2 + padding + outputPadding, groups, dilation', () => {
    gc('convT', (x, w, b) => F.convTranspose2d(x, w, b), () => [randT([1, 2, 3, 3], 130), randT([2, 3, 2, 2], 131), randT([3], 132)]);
    gc('convT s2p1op1', (x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), () => [randT([1, 2, 3, 3], 133), randT([2, 2, 3, 3], 134), randT([2], 135)]);
    gc('convT g2', (x, w) => F.convTranspose2d(x, w, null, { groups: 2 }), () => [randT([1, 4, 2, 2], 136), randT([4, 1, 2, 2], 137)]);
    gc('convT d2', (x, w) => F.convTranspose2d(x, w, null, { dilation: 2 }), () => [randT([1, 1, 3, 3], 138), randT([1, 2, 2, 2], 139)]);
  });
});

describe('gradcheck: normalisation, pooling, resizing', () => {
  test('batchNorm training=true (input, weight, bias)', () => {
    gc('batchNorm train', (x, w, b) => F.batchNorm(x, { weight: w, bias: b, training: true }), () => [randT([3, 2, 2, 2], 140), randT([2], 141, { lo: 0.5, hi: 1.5 }), randT([2], 142)]);
    gc('batchNorm train 2d input', (x) => F.batchNorm(x, { training: true }), () => [randT([4, 3], 143)]);
  });
  test('batchNorm eval with running stats (input, weight, bias)', () => {
    gc('batchNorm eval', (x, w, b) => F.batchNorm(x, { weight: w, bias: b, runningMean: f64([0.1, -0.2]), runningVar: f64([0.5, 2]) }), () => [randT([2, 2, 2, 2], 144), randT([2], 145), randT([2], 146)]);
  });
  test('avgPool2d: kernel 2; kernel 3 stride 1 padding 1 (count_include_pad true/false); ceilMode', () => {
    const X = () => randT([1, 2, 4, 4], 150);
    gc('avgPool2d 2', (x) => F.avgPool2d(x, 2), () => [X()]);
    gc('avgPool2d 3/1/1', (x) => F.avgPool2d(x, 3, { stride: 1, padding: 1 }), () => [X()]);
    gc('avgPool2d exclude pad', (x) => F.avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false }), () => [X()]);
    gc('avgPool2d ceil', (x) => F.avgPool2d(x, 3, { stride: 2, ceilMode: true }), () => [randT([1, 1, 5, 6], 151)]);
  });
  test('maxPool2d: kernel 2; kernel 3 stride 2 padding 1; dilation (distinct values)', () => {
    const X = () => distinctT([1, 2, 5, 5], 152, 0.05);
    gc('maxPool2d 2', (x) => F.maxPool2d(x, 2), () => [X()]);
    gc('maxPool2d 3/2/1', (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }), () => [X()]);
    gc('maxPool2d dil', (x) => F.maxPool2d(x, 2, { stride: 1, dilation: 2 }), () => [X()]);
    gc('maxPool2d ceil', (x) => F.maxPool2d(x, 2, { ceilMode: true }), () => [X()]);
  });
  test('adaptiveAvgPool2d: uneven windows, global', () => {
    gc('adaptive 2x3', (x) => F.adaptiveAvgPool2d(x, [2, 3]), () => [randT([1, 2, 5, 5], 153)]);
    gc('adaptive 1', (x) => F.adaptiveAvgPool2d(x, 1), () => [randT([2, 2, 3, 3], 154)]);
  });
  test('interpolate bilinear alignCorners true/false (up and down), nearest', () => {
    const X = () => randT([1, 2, 3, 3], 155);
    gc('bilinear ac=false up', (x) => F.interpolate(x, { size: [5, 4], mode: 'bilinear', alignCorners: false }), () => [X()]);
    gc('bilinear ac=true up', (x) => F.interpolate(x, { size: [5, 4], mode: 'bilinear', alignCorners: true }), () => [X()]);
    gc('bilinear ac=false down', (x) => F.interpolate(x, { size: [2, 3], mode: 'bilinear' }), () => [randT([1, 1, 4, 5], 156)]);
    gc('bilinear ac=true down', (x) => F.interpolate(x, { size: [2, 3], mode: 'bilinear', alignCorners: true }), () => [randT([1, 1, 4, 5], 157)]);
    gc('bilinear scaleFactor', (x) => F.interpolate(x, { scaleFactor: 2, mode: 'bilinear' }), () => [X()]);
    gc('nearest up', (x) => F.interpolate(x, { size: [4, 5], mode: 'nearest' }), () => [randT([1, 1, 2, 3], 158)]);
    gc('nearest down', (x) => F.interpolate(x, { size: [2, 2] }), () => [randT([1, 1, 4, 5], 159)]);
  });
  test('dropout with a fixed generator (the mask is a constant)', () => {
    gc('dropout', (x) => F.dropout(x, 0.4, true, new Generator(7)), () => [randT([4, 5], 160)]);
  });
});

describe('gradcheck: losses', () => {
  const logits = () => randT([4, 3], 170, { lo: -2, hi: 2 });
  const target = () => idx([0, 2, 1, 2]);
  test('crossEntropy hard targets: mean, sum, none, class weights, ignoreIndex', () => {
    gc('ce mean', (x, t) => F.crossEntropy(x, t), () => [logits(), target()], { wrt: [0] });
    gc('ce sum', (x, t) => F.crossEntropy(x, t, { reduction: 'sum' }), () => [logits(), target()], { wrt: [0] });
    gc('ce none', (x, t) => F.crossEntropy(x, t, { reduction: 'none' }), () => [logits(), target()], { wrt: [0] });
    gc('ce weight', (x, t) => F.crossEntropy(x, t, { weight: f64([0.2, 1, 3]) }), () => [logits(), target()], { wrt: [0] });
    gc('ce ignoreIndex', (x, t) => F.crossEntropy(x, t, { ignoreIndex: 2 }), () => [logits(), target()], { wrt: [0] });
  });
  test('crossEntropy label smoothing (hard targets, with weights)', () => {
    gc('ce ls', (x, t) => F.crossEntropy(x, t, { labelSmoothing: 0.1 }), () => [logits(), target()], { wrt: [0] });
    gc('ce ls weight', (x, t) => F.crossEntropy(x, t, { labelSmoothing: 0.2, weight: f64([0.5, 1, 2]) }), () => [logits(), target()], { wrt: [0] });
  });
  test('crossEntropy soft targets (wrt logits and targets), with label smoothing', () => {
    const soft = () => randT([4, 3], 171, { lo: 0, hi: 1 }).softmax(1);
    gc('ce soft', (x, p) => F.crossEntropy(x, p), () => [logits(), soft()]);
    gc('ce soft ls', (x, p) => F.crossEntropy(x, p, { labelSmoothing: 0.15 }), () => [logits(), soft()], { wrt: [0] });
    gc('ce soft sum', (x, p) => F.crossEntropy(x, p, { reduction: 'sum' }), () => [logits(), soft()], { wrt: [0] });
  });
  test('crossEntropy on [N, C, H, W] logits', () => {
    gc('ce 4d', (x, t) => F.crossEntropy(x, t), () => [randT([2, 3, 2, 2], 172), idx([[[0, 1], [2, 2]], [[1, 0], [0, 2]]])], { wrt: [0] });
  });
  test('nllLoss: mean, sum, none, weights', () => {
    const lp = () => randT([4, 3], 173, { lo: -3, hi: -0.1 });
    gc('nll mean', (x, t) => F.nllLoss(x, t), () => [lp(), target()], { wrt: [0] });
    gc('nll sum', (x, t) => F.nllLoss(x, t, { reduction: 'sum' }), () => [lp(), target()], { wrt: [0] });
    gc('nll none', (x, t) => F.nllLoss(x, t, { reduction: 'none' }), () => [lp(), target()], { wrt: [0] });
    gc('nll weight', (x, t) => F.nllLoss(x, t, { weight: f64([1, 0.5, 2]) }), () => [lp(), target()], { wrt: [0] });
    gc('nll of logSoftmax', (x, t) => F.nllLoss(x.logSoftmax(1), t), () => [logits(), target()], { wrt: [0] });
  });
  test('klDiv: mean, sum, none, batchmean, logTarget (wrt input and target)', () => {
    const inp = () => randT([3, 4], 174).logSoftmax(1);
    const tgt = () => randT([3, 4], 175, { lo: 0.05, hi: 1 });
    gc('kl mean', (x, p) => F.klDiv(x, p), () => [inp(), tgt()]);
    gc('kl sum', (x, p) => F.klDiv(x, p, { reduction: 'sum' }), () => [inp(), tgt()]);
    gc('kl none', (x, p) => F.klDiv(x, p, { reduction: 'none' }), () => [inp(), tgt()]);
    gc('kl batchmean', (x, p) => F.klDiv(x, p, { reduction: 'batchmean' }), () => [inp(), tgt()]);
    gc('kl logTarget', (x, p) => F.klDiv(x, p, { reduction: 'batchmean', logTarget: true }), () => [inp(), randT([3, 4], 176).logSoftmax(1)]);
  });
  test('mseLoss: mean, sum, none (wrt input and target)', () => {
    gc('mse', (a, b) => F.mseLoss(a, b), () => [randT([2, 3], 177), randT([2, 3], 178)]);
    gc('mse sum', (a, b) => F.mseLoss(a, b, { reduction: 'sum' }), () => [randT([2, 3], 179), randT([2, 3], 180)]);
    gc('mse none', (a, b) => F.mseLoss(a, b, { reduction: 'none' }), () => [randT([2, 3], 181), randT([2, 3], 182)]);
  });
});

describe('gradcheck: compositions', () => {
  test('a small conv net: conv → bn → tanh → pool → linear → CE', () => {
    gc(
      'convnet',
      (x, w1, w2) => {
        const h = F.conv2d(x, w1, null, { padding: 1 });
        const n = F.batchNorm(h, { training: true });
        const p = F.avgPool2d(n.tanh(), 2);
        return F.crossEntropy(F.linear(p.flatten(1), w2), idx([1, 0]));
      },
      () => [randT([2, 1, 4, 4], 190), randT([2, 1, 3, 3], 191), randT([3, 8], 192)],
    );
  });
  test('second-order: gradient of a gradient (createGraph) matches finite differences of the gradient', () => {
    gc(
      'grad of grad',
      (x) => {
        const y = x.pow(3).sum().add(x.sin().prod());
        const [g] = grad(y, [x], { createGraph: true });
        return g!;
      },
      () => [randT([3], 193)],
      { needsGrad: true },
    );
  });
});
