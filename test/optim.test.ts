// Optimizers and lr schedulers against hand-computed (plain JS number) references of PyTorch's update rules.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, scope, memory, grad, keep, type Tensor, type DType } from '../src/engine/index.js';
import {
  SGD, Adam, AdamW, StepLR, MultiStepLR, CosineAnnealingLR, type Optimizer, type BaseHyper, type OptimizerStateDict,
} from '../src/optim/index.js';

// ------------------------------------------------------------------ references in plain JS numbers

type Vec = number[];
interface SGDRef { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number; maximize?: boolean }
interface AdamRef { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; maximize?: boolean; decoupled?: boolean }

/** Parameters after each step of torch.optim.SGD with the given gradients. */
function refSGD(p0: Vec, grads: Vec[], o: SGDRef): Vec[] {
  const { lr, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0, maximize = false } = o;
  let p = p0.slice();
  let buf: Vec | null = null;
  const out: Vec[] = [];
  for (const g of grads) {
    let d = g.map((x, i) => (maximize ? -x : x) + weightDecay * p[i]!);
    if (momentum !== 0) {
      const b: Vec = buf === null ? d.slice() : buf.map((x, i) => momentum * x + (1 - dampening) * d[i]!);
      buf = b;
      d = nesterov ? d.map((x, i) => x + momentum * b[i]!) : b.slice();
    }
    p = p.map((x, i) => x - lr * d[i]!);
    out.push(p.slice());
  }
  return out;
}

/** Parameters after each step of torch.optim.Adam (or AdamW with decoupled). */
function refAdam(p0: Vec, grads: Vec[], o: AdamRef): Vec[] {
  const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, amsgrad = false, maximize = false, decoupled = false } = o;
  const weightDecay = o.weightDecay ?? (decoupled ? 1e-2 : 0);
  const [b1, b2] = betas;
  let p = p0.slice();
  const m = p0.map(() => 0);
  const v = p0.map(() => 0);
  const vmax = p0.map(() => 0);
  const out: Vec[] = [];
  grads.forEach((g0, t0) => {
    const t = t0 + 1;
    if (decoupled) p = p.map((x) => x * (1 - lr * weightDecay));
    const g = g0.map((x, i) => (maximize ? -x : x) + (decoupled ? 0 : weightDecay * p[i]!));
    for (let i = 0; i < p.length; i++) {
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      vmax[i] = Math.max(vmax[i]!, v[i]!);
      const mhat = m[i]! / (1 - b1 ** t);
      const vhat = (amsgrad ? vmax[i]! : v[i]!) / (1 - b2 ** t);
      p[i] = p[i]! - (lr * mhat) / (Math.sqrt(vhat) + eps);
    }
    out.push(p.slice());
  });
  return out;
}

// ------------------------------------------------------------------ helpers

const P0: Vec = [0.5, -1.25, 2.0, 0.75];
const GRADS: Vec[] = [
  [0.3, -0.8, 1.5, -0.05],
  [-0.6, 0.4, 2.5, 0.2],
  [0.1, -1.1, -0.7, 0.9],
];

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, msg = ''): void {
  assert.equal(actual.length, expected.length, `${msg}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${msg}: element ${i}: got ${a}, expected ${e} (diff ${Math.abs(a - e)})`);
  }
}

/** Runs an optimizer over GRADS with explicit gradients; returns the parameter values after each step. */
function run(make: (ps: Tensor[]) => Optimizer<BaseHyper>, dtype: DType, p0 = P0, grads = GRADS): Vec[] {
  return scope(() => {
    const p = tensor(p0, { dtype });
    const opt = make([p]);
    const out: Vec[] = [];
    for (const g of grads) {
      scope(() => opt.step([tensor(g, { dtype })]));
      out.push(p.toArray());
    }
    opt.dispose();
    return out;
  });
}

const f32 = (v: Vec): Vec => v.map((x) => Math.fround(x));

/** Checks an optimizer against its reference in float64 (tight) and float32 (~1e-6 relative). */
function checkAgainst(make: (ps: Tensor[]) => Optimizer<BaseHyper>, ref: (p0: Vec, grads: Vec[]) => Vec[], msg: string): void {
  const exp64 = ref(P0, GRADS);
  run(make, 'float64').forEach((got, t) => assertClose(got, exp64[t]!, 1e-12, 1e-14, `${msg} float64 step ${t + 1}`));
  const exp32 = ref(f32(P0), GRADS.map(f32));
  run(make, 'float32').forEach((got, t) => assertClose(got, exp32[t]!, 1e-6, 1e-7, `${msg} float32 step ${t + 1}`));
}

// ------------------------------------------------------------------ SGD

describe('SGD', () => {
  const cases: [string, SGDRef][] = [
    ['plain', { lr: 0.1 }],
    ['momentum', { lr: 0.1, momentum: 0.9 }],
    ['momentum + dampening', { lr: 0.05, momentum: 0.8, dampening: 0.3 }],
    ['nesterov', { lr: 0.1, momentum: 0.9, nesterov: true }],
    ['weight decay', { lr: 0.1, weightDecay: 0.05 }],
    ['momentum + weight decay', { lr: 0.1, momentum: 0.9, weightDecay: 0.05 }],
    ['nesterov + weight decay + maximize', { lr: 0.1, momentum: 0.5, nesterov: true, weightDecay: 0.1, maximize: true }],
    ['maximize', { lr: 0.2, maximize: true }],
    ['maximize + momentum + dampening', { lr: 0.2, momentum: 0.7, dampening: 0.5, maximize: true }],
  ];
  for (const [name, o] of cases) {
    test(name, () => checkAgainst((ps) => new SGD(ps, o), (p0, g) => refSGD(p0, g, o), `SGD ${name}`));
  }

  test('hand-computed literal values (momentum and nesterov, constant gradient 1)', () => {
    const ones = [[1], [1], [1]];
    // momentum 0.9, lr 0.1: buf = 1, 1.9, 2.71 -> p = 0.9, 0.71, 0.439
    assertClose(run((ps) => new SGD(ps, { lr: 0.1, momentum: 0.9 }), 'float64', [1], ones).map((v) => v[0]!), [0.9, 0.71, 0.439], 1e-12, 0);
    // nesterov: d = 1 + 0.9 * buf = 1.9, 2.71, 3.439 -> p = 0.81, 0.539, 0.1951
    assertClose(run((ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true }), 'float64', [1], ones).map((v) => v[0]!),
      [0.81, 0.539, 0.1951], 1e-12, 0);
    // dampening 0.5 does not apply on the first step (buffer = clone of the gradient): buf = 1, 1.4, 1.76
    assertClose(run((ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.5 }), 'float64', [1], ones).map((v) => v[0]!),
      [0.9, 0.76, 0.584], 1e-12, 0);
  });
});

// ------------------------------------------------------------------ Adam / AdamW

describe('Adam and AdamW', () => {
  const adamCases: [string, AdamRef][] = [
    ['defaults', {}],
    ['lr 0.1, betas (0.8, 0.99), eps 1e-6', { lr: 0.1, betas: [0.8, 0.99], eps: 1e-6 }],
    ['weight decay', { lr: 0.05, weightDecay: 0.1 }],
    ['amsgrad', { lr: 0.05, amsgrad: true }],
    ['amsgrad + weight decay + maximize', { lr: 0.05, amsgrad: true, weightDecay: 0.2, maximize: true }],
    ['maximize', { lr: 0.05, maximize: true }],
  ];
  for (const [name, o] of adamCases) {
    test(`Adam ${name}`, () => checkAgainst((ps) => new Adam(ps, o), (p0, g) => refAdam(p0, g, o), `Adam ${name}`));
  }
  const adamwCases: [string, AdamRef][] = [
    ['defaults (weight decay 1e-2)', {}],
    ['lr 0.1, weight decay 0.3', { lr: 0.1, weightDecay: 0.3 }],
    ['amsgrad + maximize', { lr: 0.05, weightDecay: 0.1, amsgrad: true, maximize: true }],
  ];
  for (const [name, o] of adamwCases) {
    test(`AdamW ${name}`, () => checkAgainst((ps) => new AdamW(ps, o), (p0, g) => refAdam(p0, g, { ...o, decoupled: true }), `AdamW ${name}`));
  }

  test('amsgrad changes the result when the second moment shrinks', () => {
    const grads = [[2.0], [0.01], [0.01]];
    const plain = run((ps) => new Adam(ps, { lr: 0.1 }), 'float64', [0], grads);
    const ams = run((ps) => new Adam(ps, { lr: 0.1, amsgrad: true }), 'float64', [0], grads);
    assert.notEqual(plain[2]![0], ams[2]![0]);
    assertClose(ams.map((v) => v[0]!), refAdam([0], grads, { lr: 0.1, amsgrad: true }).map((v) => v[0]!), 1e-12, 1e-15);
  });

  test('AdamW differs from Adam with the same weight decay (decoupled vs L2)', () => {
    const a = run((ps) => new Adam(ps, { lr: 0.1, weightDecay: 0.5 }), 'float64');
    const w = run((ps) => new AdamW(ps, { lr: 0.1, weightDecay: 0.5 }), 'float64');
    assert.notDeepEqual(a[2], w[2]);
  });

  test('hand-computed literal values (constant gradient: each step moves lr * g / (|g| + eps))', () => {
    const g = [[0.5], [0.5], [0.5]];
    const step = (0.01 * 0.5) / (0.5 + 1e-8);
    assertClose(run((ps) => new Adam(ps, { lr: 0.01 }), 'float64', [1], g).map((v) => v[0]!), [1 - step, 1 - 2 * step, 1 - 3 * step], 1e-12, 0);
    // AdamW, lr 0.1, wd 0.5: p <- p * 0.95 before each (unit-size) Adam move of 0.1 * g / (|g| + eps)
    const s = (0.1 * 0.5) / (0.5 + 1e-8);
    const p1 = 1 * 0.95 - s;
    const p2 = p1 * 0.95 - s;
    const p3 = p2 * 0.95 - s;
    assertClose(run((ps) => new AdamW(ps, { lr: 0.1, weightDecay: 0.5 }), 'float64', [1], g).map((v) => v[0]!), [p1, p2, p3], 1e-12, 0);
  });
});

// ------------------------------------------------------------------ mechanics

describe('optimizer mechanics', () => {
  const makers: [string, (ps: Tensor[] | { params: Tensor[]; lr?: number }[]) => Optimizer<BaseHyper>][] = [
    ['SGD nesterov', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['Adam amsgrad', (ps) => new Adam(ps, { lr: 0.05, amsgrad: true, weightDecay: 0.01 })],
    ['AdamW maximize', (ps) => new AdamW(ps, { lr: 0.05, maximize: true })],
  ];

  for (const [name, make] of makers) {
    test(`${name}: explicit grads equal the .grad path`, () => scope(() => {
      const a = tensor(P0).requiresGrad_();
      const b = tensor(P0).requiresGrad_();
      const oa = make([a]);
      const ob = make([b]);
      for (const g of GRADS) {
        scope(() => oa.step([tensor(g)]));
        b.grad = tensor(g);
        ob.step();
        ob.zeroGrad();
        assert.equal(b.grad, null);
        assert.deepEqual(a.toArray(), b.toArray());
      }
      assert.ok(a.isLeaf && a.requiresGrad, 'the parameter stays a leaf that requires grad');
      oa.dispose();
      ob.dispose();
    }));

    test(`${name}: stateDict / loadStateDict resume matches an uninterrupted run`, () => scope(() => {
      const more = [...GRADS].reverse();
      // Two groups with different lrs, to check indices and per-group hyperparameters.
      const full = [tensor(P0), tensor([1.5, -0.5])];
      const ofull = make([{ params: [full[0]!] }, { params: [full[1]!], lr: 0.02 }]);
      const g2 = (g: Vec) => [tensor(g), tensor(g.slice(0, 2))];
      for (const g of GRADS) scope(() => ofull.step(g2(g)));
      ofull.paramGroups[1]!.lr = 0.03; // changed mid-run: must travel with the checkpoint
      const sd = ofull.stateDict();
      assert.deepEqual(sd.hyper.steps, [3, 3]);
      const hyper = JSON.parse(JSON.stringify(sd.hyper)) as OptimizerStateDict['hyper'];
      // Resume: parameters restored from their values at the checkpoint, fresh optimizer with other hyperparameters.
      const resumed = [tensor(full[0]!.toArray()), tensor(full[1]!.toArray())];
      const ores = make([{ params: [resumed[0]!], lr: 0.5 }, { params: [resumed[1]!], lr: 0.5 }]);
      ores.loadStateDict({ state: sd.state, hyper });
      for (const t of sd.state.values()) t.dispose(); // the optimizer copied what it needs
      assert.equal(ores.paramGroups[1]!.lr, 0.03);
      assert.equal(ores.stepCount(0), 3);
      for (const g of more) {
        scope(() => ofull.step(g2(g)));
        scope(() => ores.step(g2(g)));
      }
      assert.deepEqual(resumed[0]!.toArray(), full[0]!.toArray());
      assert.deepEqual(resumed[1]!.toArray(), full[1]!.toArray());
      // A run with a fresh state (no loadStateDict) does differ, so the comparison above is meaningful.
      const fresh = [tensor(P0), tensor([1.5, -0.5])];
      const ofresh = make([{ params: [fresh[0]!] }, { params: [fresh[1]!], lr: 0.02 }]);
      for (const g of GRADS) scope(() => ofresh.step(g2(g)));
      ofresh.dispose();
      const ofresh2 = make([{ params: [fresh[0]!] }, { params: [fresh[1]!], lr: 0.03 }]);
      for (const g of more) scope(() => ofresh2.step(g2(g)));
      assert.notDeepEqual(fresh[0]!.toArray(), full[0]!.toArray());
      for (const o of [ofull, ores, ofresh2]) o.dispose();
    }));

    test(`${name}: 200 steps keep the live-tensor count constant`, () => {
      const p = keep(tensor(P0).requiresGrad_());
      const q = keep(tensor([[1, 2], [3, 4]]));
      const opt = make([p, q]);
      const fixed = keep([tensor(GRADS[0]!), tensor([[0.1, -0.2], [0.3, -0.4]])]);
      opt.step(fixed); // creates the state
      const before = memory().tensors;
      // inside scopes, with fresh gradients each step
      for (let i = 0; i < 200; i++) scope(() => opt.step([tensor(GRADS[i % 3]!), tensor([[i, -i], [1, 2]]).mul(0.01)]));
      assert.equal(memory().tensors, before);
      // outside any scope, with the same gradient tensors
      for (let i = 0; i < 200; i++) opt.step(fixed);
      assert.equal(memory().tensors, before);
      // through .grad
      p.grad = fixed[0]!;
      q.grad = fixed[1]!;
      for (let i = 0; i < 200; i++) opt.step();
      assert.equal(memory().tensors, before);
      opt.zeroGrad();
      opt.dispose();
      for (const t of [p, q, ...fixed]) t.dispose();
    });
  }

  test('updates are in place: the parameter object and its aliases see the new values', () => scope(() => {
    const p = tensor(P0);
    const alias = p.detach();
    const opt = new Adam([p], { lr: 0.1 });
    scope(() => opt.step([tensor(GRADS[0]!)]));
    assert.notDeepEqual(p.toArray(), f32(P0));
    assert.deepEqual(alias.toArray(), p.toArray());
    assert.deepEqual(opt.params[0], p);
    opt.dispose();
  }));

  test('given gradients are neither modified nor freed (maximize, weight decay, momentum buffer)', () => scope(() => {
    const p = tensor(P0);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.1, maximize: true });
    const g = tensor(GRADS[0]!);
    opt.step([g]);
    opt.step([g]);
    assert.deepEqual(g.toArray(), f32(GRADS[0]!));
    const opt2 = new SGD([p], { lr: 0.1, momentum: 0.9 });
    opt2.step([g]); // first step: the buffer must be a copy, not the gradient itself
    opt2.step([g]);
    assert.deepEqual(g.toArray(), f32(GRADS[0]!));
    opt.dispose();
    opt2.dispose();
  }));

  test('null gradients skip a parameter (no update, no state)', () => scope(() => {
    const a = tensor([1, 2]);
    const b = tensor([3, 4]);
    const opt = new Adam([a, b], { lr: 0.1 });
    opt.step([null, tensor([1, 1])]);
    assert.deepEqual(a.toArray(), [1, 2]);
    assert.notDeepEqual(b.toArray(), [3, 4]);
    assert.equal(opt.stepCount(0), 0);
    assert.equal(opt.stepCount(1), 1);
    assert.deepEqual([...opt.stateDict().state.keys()].sort(), ['state.1.exp_avg', 'state.1.exp_avg_sq']);
    opt.step(); // no .grad anywhere: nothing happens
    assert.equal(opt.stepCount(1), 1);
    opt.dispose();
  }));

  test('per-group hyperparameters and the lr convenience accessors', () => scope(() => {
    const a = tensor([1]);
    const b = tensor([1]);
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5, weightDecay: 1 }], { lr: 0.1 });
    assert.equal(opt.lr, 0.1);
    assert.equal(opt.paramGroups[1]!.lr, 0.5);
    assert.equal(opt.paramGroups[1]!.momentum, 0);
    opt.step([tensor([1]), tensor([1])]);
    assertClose(a.toArray(), [0.9], 1e-6, 0);
    assertClose(b.toArray(), [0], 1e-6, 1e-7); // 1 - 0.5 * (1 + 1 * 1)
    opt.lr = 0.2;
    assert.equal(opt.paramGroups[0]!.lr, 0.2);
    assert.equal(opt.paramGroups[1]!.lr, 0.5);
    assert.throws(() => { opt.lr = -1; }, /learning rate/);
    opt.dispose();
  }));

  test('autograd.grad output drives SGD to the minimum of a quadratic', () => scope(() => {
    const p = tensor([3, -2, 0.5]).requiresGrad_();
    const target = tensor([1, 1, 1]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.5 });
    for (let i = 0; i < 100; i++) {
      scope(() => {
        const loss = p.sub(target).square().sum();
        const [g] = grad(loss, [p]);
        opt.step([g!.mul(1)]);
      });
    }
    assertClose(p.toArray(), [1, 1, 1], 0, 1e-4);
    assert.ok(p.isLeaf);
    opt.dispose();
  }));

  test('gradient count and shape are checked before anything is updated', () => scope(() => {
    const a = tensor([1, 2]);
    const b = tensor([3, 4]);
    const opt = new SGD([a, b], { lr: 0.1 });
    assert.throws(() => opt.step([tensor([1, 1])]), /expected 2 gradients/);
    assert.throws(() => opt.step([tensor([1, 1]), tensor([1, 1, 1])]), /gradient 1 has shape \[3\]/);
    assert.deepEqual(a.toArray(), [1, 2]);
    assert.deepEqual(b.toArray(), [3, 4]);
  }));

  test('loadStateDict rejects mismatched checkpoints without changing anything', () => scope(() => {
    const p = tensor(P0);
    const adam = new Adam([p], { lr: 0.1 });
    scope(() => adam.step([tensor(GRADS[0]!)]));
    const sd = adam.stateDict();
    assert.throws(() => new SGD([tensor(P0)], { lr: 0.1 }).loadStateDict(sd), /checkpoint is for Adam, not SGD/);
    assert.throws(() => new Adam([tensor([1, 2])]).loadStateDict(sd), /shape/);
    assert.throws(() => new Adam([{ params: [tensor(P0)] }, { params: [tensor(P0)] }]).loadStateDict(sd), /1 parameter groups/);
    const other = new Adam([tensor(P0)], { lr: 0.7 });
    const bad = { state: new Map([['state.0.exp_avg', tensor([1, 2])]]), hyper: sd.hyper };
    assert.throws(() => other.loadStateDict(bad), /shape/);
    assert.equal(other.lr, 0.7);
    assert.equal(other.stepCount(0), 0);
    adam.dispose();
  }));

  test('invalid hyperparameters are rejected with clear errors', () => {
    const p = tensor([1]);
    assert.throws(() => new SGD([p], { lr: -0.1 }), /invalid learning rate: -0.1/);
    assert.throws(() => new SGD([p], { lr: NaN }), /invalid learning rate/);
    assert.throws(() => new SGD([p], {} as { lr: number }), /lr\) is required/);
    assert.throws(() => new SGD([p], { lr: 0.1, momentum: -0.9 }), /invalid momentum/);
    assert.throws(() => new SGD([p], { lr: 0.1, weightDecay: -1 }), /invalid weightDecay/);
    assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), /Nesterov momentum requires a momentum > 0 and zero dampening/);
    assert.throws(() => new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /Nesterov/);
    assert.throws(() => new SGD([{ params: [p], lr: -1 }], { lr: 0.1 }), /invalid learning rate/);
    assert.throws(() => new Adam([p], { lr: -1e-3 }), /invalid learning rate/);
    assert.throws(() => new Adam([p], { betas: [1, 0.999] }), /beta1 \(betas\[0\]\): 1 \(must be in \[0, 1\)\)/);
    assert.throws(() => new Adam([p], { betas: [0.9, -0.1] }), /beta2/);
    assert.throws(() => new AdamW([p], { betas: [0.9, 1.5] }), /beta2/);
    assert.throws(() => new Adam([p], { eps: -1 }), /invalid epsilon/);
    assert.throws(() => new AdamW([p], { weightDecay: -0.01 }), /invalid weightDecay/);
    assert.throws(() => new Adam([]), /empty parameter list/);
    assert.throws(() => new Adam([p, p]), /more than once/);
    const opt = new SGD([p], { lr: 0.1 });
    opt.paramGroups[0]!.lr = -5;
    assert.throws(() => opt.step([tensor([1])]), /invalid learning rate/);
    assert.deepEqual(p.toArray(), [1]);
    assert.throws(() => new MultiStepLR(new SGD([tensor([1])], { lr: 1 }), { milestones: [2, -1] }), /milestones/);
    assert.throws(() => new StepLR(new SGD([tensor([1])], { lr: 1 }), { stepSize: 0 }), /stepSize/);
    assert.throws(() => new CosineAnnealingLR(new SGD([tensor([1])], { lr: 1 }), { tMax: 0 }), /tMax/);
    assert.throws(() => new StepLR(new SGD([tensor([1])], { lr: 1 }), { stepSize: 2, gamma: -1 }), /gamma/);
  });
});

// ------------------------------------------------------------------ schedulers

describe('lr schedulers', () => {
  const sgd = (lrs: number[]) => new SGD(lrs.map((lr) => ({ params: [tensor([0])], lr })), { lr: lrs[0]! });

  test('MultiStepLR milestones [2, 4], gamma 0.1', () => {
    const opt = sgd([1]);
    const s = new MultiStepLR(opt, { milestones: [4, 2], gamma: 0.1 });
    assert.equal(s.lastEpoch, 0);
    const lrs = [s.getLastLr()[0]!];
    for (let e = 1; e <= 6; e++) {
      s.step();
      assert.equal(s.lastEpoch, e);
      assert.equal(opt.lr, s.getLastLr()[0]);
      lrs.push(opt.lr);
    }
    assertClose(lrs, [1, 1, 0.1, 0.1, 0.01, 0.01, 0.01], 1e-12, 0);
  });

  test('StepLR stepSize 3, gamma 0.5, two groups', () => {
    const opt = sgd([1, 0.2]);
    const s = new StepLR(opt, { stepSize: 3, gamma: 0.5 });
    const seq: number[][] = [s.getLastLr()];
    for (let e = 1; e <= 7; e++) {
      s.step();
      seq.push(s.getLastLr());
    }
    for (let e = 0; e <= 7; e++) {
      assertClose(seq[e]!, [1, 0.2].map((b) => b * 0.5 ** Math.floor(e / 3)), 1e-12, 0, `epoch ${e}`);
    }
    assert.deepEqual(opt.paramGroups.map((g) => g.lr), seq[7]);
  });

  test('CosineAnnealingLR follows the closed form, through and past tMax', () => {
    const base = [0.1, 0.04];
    const opt = sgd(base);
    const tMax = 10;
    const etaMin = 0.001;
    const s = new CosineAnnealingLR(opt, { tMax, etaMin });
    const closed = (t: number, b: number) => etaMin + ((b - etaMin) * (1 + Math.cos((Math.PI * t) / tMax))) / 2;
    for (let t = 0; t <= 3 * tMax; t++) {
      if (t > 0) s.step();
      assertClose(s.getLastLr(), base.map((b) => closed(t, b)), 1e-10, 1e-15, `epoch ${t}`);
      assertClose(opt.paramGroups.map((g) => g.lr), base.map((b) => closed(t, b)), 1e-10, 1e-15, `epoch ${t}`);
      assertClose([s.closedFormLr(t, base[0]!)], [closed(t, base[0]!)], 1e-15, 0);
    }
    // at tMax the lr is exactly etaMin
    const o2 = sgd([0.1]);
    const s2 = new CosineAnnealingLR(o2, { tMax: 4 });
    for (let i = 0; i < 4; i++) s2.step();
    assert.equal(o2.lr, 0);
  });

  test('scheduler stateDict / loadStateDict resume gives the same lr sequence', () => {
    const mk = () => {
      const opt = sgd([0.1]);
      return { opt, s: new CosineAnnealingLR(opt, { tMax: 8, etaMin: 0.01 }) };
    };
    const a = mk();
    for (let i = 0; i < 3; i++) a.s.step();
    const osd = a.opt.stateDict();
    const ssd = JSON.parse(JSON.stringify(a.s.stateDict())) as ReturnType<typeof a.s.stateDict>;
    const b = mk();
    b.opt.loadStateDict(osd);
    b.s.loadStateDict(ssd);
    assert.equal(b.s.lastEpoch, 3);
    assert.equal(b.opt.lr, a.opt.lr);
    for (let i = 0; i < 10; i++) {
      a.s.step();
      b.s.step();
      assert.equal(b.opt.lr, a.opt.lr);
      assert.deepEqual(b.s.getLastLr(), a.s.getLastLr());
    }
    assert.throws(() => new MultiStepLR(sgd([1]), { milestones: [1] }).loadStateDict(ssd), /checkpoint is for CosineAnnealingLR/);
  });

  test('a scheduler and the optimizer it drives agree, and a second scheduler reuses the initial lr', () => {
    const opt = sgd([0.5]);
    const s1 = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
    s1.step();
    assert.equal(opt.lr, 0.25);
    const s2 = new MultiStepLR(opt, { milestones: [100] });
    assert.deepEqual(s2.baseLrs, [0.5]);
    assert.equal(opt.lr, 0.25);
  });
});
