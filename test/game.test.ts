// The GUE game: λ, one solver step against an independent computation, the fast path's equality with the
// authors' path, the ε bound, and resumable training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, Generator, Tensor, grad, manualSeed, memory, noGrad, rand, randint, scope, tensor } from '../src/engine/index.js';
import { Module } from '../src/nn/module.js';
import { Conv2d, Linear } from '../src/nn/layers.js';
import { SmallCNN, UNet } from '../src/nn/models/index.js';
import { GameSolver, dynamicBarrierLambda, poisonBatch, surrogatePayoff, trainGenerator, loadGenerator } from '../src/game/index.js';
import { poisonDataset, generatorPerturbation } from '../src/attacks/index.js';
import { loadCheckpointSync } from '../src/io/index.js';
import type { ImageDataset } from '../src/data/index.js';
import { randomImageDataset } from './helpers/synthetic.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${what}: ${a} vs ${b}`);

test('λ of the dynamic barrier on hand-computed cases', () => {
  // η = 1.5, ‖∇q‖² = 4, ⟨∇f,∇q⟩ = 2 → (6 − 2)/4 = 1
  close(dynamicBarrierLambda(1.5, 4, 2), 1, 1e-8, 'λ');
  // ⟨∇f,∇q⟩ = 10 > η‖∇q‖² → clipped at 0
  assert.equal(dynamicBarrierLambda(1.5, 4, 10), 0);
  // negative inner product raises λ above η: (1.5·2 + 3)/2 = 3
  close(dynamicBarrierLambda(1.5, 2, -3), 3, 1e-8, 'λ');
  // ‖∇q‖ = 0: the 1e-8 keeps it finite
  assert.equal(dynamicBarrierLambda(1.5, 0, 0), 0);
});

test('surrogate payoff = mean over samples of the largest CE to a wrong label', () => {
  const logits = tensor([[2, 0, -1], [0.5, 0.5, 3]], { dtype: 'float64' });
  const y = tensor([0, 2], { dtype: 'int64' });
  const lse = (r: number[]) => Math.log(r.reduce((a, v) => a + Math.exp(v), 0));
  // sample 0: wrong labels 1, 2 → max CE = lse − min(0, −1) = lse + 1; sample 1: wrong 0, 1 → lse − 0.5
  const expected = ((lse([2, 0, -1]) + 1) + (lse([0.5, 0.5, 3]) - 0.5)) / 2;
  close(surrogatePayoff(logits, y).item(), expected, 1e-12, 'L_sur');
});

/** A tiny generator without BN: tanh(conv3×3(x)). */
class TinyGen extends Module {
  constructor(g: Generator) {
    super();
    this.registerModule('conv', new Conv2d(1, 1, 3, { padding: 1, generator: g }));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.child('conv').forward(x).tanh());
  }
}
/** A tiny classifier: linear on the flattened 1×4×4 image. */
class TinyClf extends Module {
  constructor(g: Generator) {
    super();
    this.registerModule('fc', new Linear(16, 3, { generator: g }));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.child('fc').forward(x.flatten(1)));
  }
}

for (const [genGrad, clsGrad] of [['q', 'bome'], ['g', 'bome'], ['q', 'erm'], ['g', 'erm'], ['q', 'pessimistic'], ['g', 'pessimistic']] as const) {
test(`one solver step equals an independent computation of the BOME update (genGrad ${genGrad}, clsGrad ${clsGrad})`, () => {
  const g = new Generator(7);
  const pess = clsGrad === 'pessimistic';
  const T = 3, eta = 1.5, lrCls = 0.05, lrGen = 0.2, lrInner = 0.01, eps = 16 / 255;
  const gen = new TinyGen(g).to({ dtype: 'float64' });
  const clf = new TinyClf(g).to({ dtype: 'float64' });
  const scratch = new TinyClf(g).to({ dtype: 'float64' });
  const x = rand([5, 1, 4, 4], { generator: g, dtype: 'float64' }).keep();
  const y = randint(0, 3, [5], { generator: g }).keep();
  // Snapshot the starting point.
  const w0 = gen.parameters().map((p) => p.detach().clone().keep());
  const th0 = clf.parameters().map((p) => p.detach().clone().keep());

  // ---- the independent computation, with raw tensors and a hand-written Adam
  const expected = scope(() => {
    const P = (w: Tensor[], xx: Tensor) => xx.add(F.conv2d(xx, w[0]!, w[1]!, { padding: 1 }).tanh().mul(eps)).clamp(0, 1);
    const Fc = (th: Tensor[], xx: Tensor) => F.linear(xx.flatten(1), th[0]!, th[1]!);
    const w = w0.map((t) => t.clone().requiresGrad_());
    const th = th0.map((t) => t.clone().requiresGrad_());
    // θ^T by T Adam steps (β = 0.9, 0.999, ε = 1e-8) on CE(F_θ(P_w(x)), y)
    let tt = th0.map((t) => t.clone());
    let m = tt.map((t) => t.mul(0));
    let v = tt.map((t) => t.mul(0));
    for (let k = 1; k <= T; k++) {
      const leaf = tt.map((t) => t.detach().requiresGrad_());
      const gs = grad(F.crossEntropy(Fc(leaf, noGrad(() => P(w0, x))), y), leaf) as Tensor[];
      m = m.map((mi, i) => mi.mul(0.9).add(gs[i]!.mul(0.1)));
      v = v.map((vi, i) => vi.mul(0.999).add(gs[i]!.square().mul(0.001)));
      const bc1 = 1 - 0.9 ** k, bc2 = 1 - 0.999 ** k;
      tt = tt.map((t, i) => t.detach().sub(m[i]!.div(bc1).div(v[i]!.div(bc2).sqrt().add(1e-8)).mul(lrInner)));
    }
    // The pessimistic direction is run with the CE payoff (f = −CE on the clean batch), as docs/study.md does.
    const f = pess ? F.crossEntropy(Fc(th, x), y).neg() : surrogatePayoff(Fc(th, x), y);
    const a = grad(f, th) as Tensor[];
    const q = F.crossEntropy(Fc(th, P(w, x)), y).sub(F.crossEntropy(Fc(tt, P(w, x)), y));
    // genGrad 'g': the generator's direction is ∇_w g(w, θ) alone (λ still from ∇q).
    const gw = grad(F.crossEntropy(Fc(th, P(w, x)), y), w) as Tensor[];
    const b = grad(q, [...w, ...th]) as Tensor[];
    const nsq = b.reduce((s, t) => s + t.square().sum().item(), 0);
    const dot = a.reduce((s, t, i) => s + t.mul(b[2 + i]!).sum().item(), 0);
    // pessimistic: θ ascends f under the barrier of its own constraint gradient, and the generator ascends λ∇_w q.
    const nsqTh = b.slice(2).reduce((s, t) => s + t.square().sum().item(), 0);
    const lam = pess ? Math.max(0, (eta * nsqTh + dot) / (nsqTh + 1e-8)) : Math.max(0, (eta * nsq - dot) / (nsq + 1e-8));
    const thDir = (i: number) => (clsGrad === 'bome' ? a[i]!.add(b[2 + i]!.mul(lam)) : clsGrad === 'erm' ? b[2 + i]! : b[2 + i]!.mul(lam).sub(a[i]!));
    return {
      lam,
      w: w0.map((t, i) => t.sub((genGrad === 'q' ? b[i]! : gw[i]!).mul((pess ? -lam : lam) * lrGen))),
      th: th0.map((t, i) => t.sub(thDir(i).mul(lrCls))),
      gwDiffers: gw.some((t, i) => t.sub(b[i]!).abs().max().item() > 1e-6),
    };
  });

  const solver = new GameSolver(gen, clf, scratch, { eps, innerSteps: T, eta, lrCls, lrGen, lrInner, genGrad, clsGrad, payoff: pess ? 'ce' : 'surrogate' });
  const m = solver.step(x, y);
  close(m.lambda, expected.lam, 1e-9, 'λ');
  gen.parameters().forEach((p, i) => assert.ok(p.sub(expected.w[i]!).abs().max().item() < 1e-10, `generator parameter ${i}`));
  clf.parameters().forEach((p, i) => assert.ok(p.sub(expected.th[i]!).abs().max().item() < 1e-10, `classifier parameter ${i}`));
  assert.ok(expected.lam > 0, 'the case exercises a positive λ');
  assert.ok(expected.gwDiffers, 'the case tells ∇_w g from ∇_w q');
  solver.dispose();
});
}

test('the solver refuses unknown generator and classifier directions', () => {
  const g = new Generator(1);
  const [gen, clf, scratch] = [new TinyGen(g), new TinyClf(g), new TinyClf(g)];
  assert.throws(() => new GameSolver(gen, clf, scratch, { genGrad: 'x' as never }), /genGrad must be one of q, g/);
  assert.throws(() => new GameSolver(gen, clf, scratch, { clsGrad: 'x' as never }), /clsGrad must be one of bome, erm, pessimistic/);
  assert.throws(() => new GameSolver(gen, clf, scratch, { clsGrad: 'pessimistic' }), /surrogate payoff is unbounded above there; use payoff 'ce'/);
  new GameSolver(gen, clf, scratch, { clsGrad: 'pessimistic', payoff: 'ce' }).dispose();
});

function twin<M extends Module>(make: () => M): [M, M] {
  const a = make();
  const b = make();
  b.copyFrom(a);
  return [a, b];
}

test('fast path: same λ and updates as the authors\' exact path (U-Net with BN)', () => {
  const g = new Generator(11);
  const [genA, genB] = twin(() => new UNet({ channels: 1, width: 2, generator: g }));
  const [clfA, clfB] = twin(() => new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g }));
  const scrA = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
  const scrB = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
  const x = rand([16, 1, 8, 8], { generator: g }).keep();
  const y = randint(0, 10, [16], { generator: g }).keep();
  const exact = new GameSolver(genA, clfA, scrA, { path: 'exact', lrInner: 1e-3 });
  const fast = new GameSolver(genB, clfB, scrB, { path: 'fast', lrInner: 1e-3 });
  for (let s = 0; s < 2; s++) {
    const me = exact.step(x, y);
    const mf = fast.step(x, y);
    close(mf.lambda, me.lambda, 1e-4, `λ at step ${s}`);
    close(mf.gradQNorm, me.gradQNorm, 1e-4, `‖∇q‖ at step ${s}`);
    close(mf.dot, me.dot, 1e-4, `⟨∇f,∇q⟩ at step ${s}`);
    close(mf.f, me.f, 1e-5, `f at step ${s}`);
  }
  genA.parameters().forEach((p, i) => assert.ok(p.sub(genB.parameters()[i]!).abs().max().item() < 1e-5, `generator parameter ${i}`));
  clfA.parameters().forEach((p, i) => assert.ok(p.sub(clfB.parameters()[i]!).abs().max().item() < 1e-5, `classifier parameter ${i}`));
  exact.dispose();
  fast.dispose();
});

test('the perturbation never exceeds ε, before and after uint8 quantization', () => {
  const g = new Generator(3);
  const gen = new UNet({ channels: 1, width: 2, generator: g });
  // Make G saturate: large output-layer weights push tanh to ±1.
  noGrad(() => { for (const p of gen.parameters()) p.mul_(50); });
  const x = rand([32, 1, 12, 12], { generator: g });
  const eps = 8 / 255;
  const xp = poisonBatch(gen, x, eps);
  assert.ok(xp.sub(x).abs().max().item() <= eps + 1e-7);
  assert.ok(xp.min().item() >= 0 && xp.max().item() <= 1);
  const n = 64;
  const images = new Uint8Array(n * 144);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37) % 256;
  const ds: ImageDataset = { images, labels: new Uint8Array(n), shape: [1, 12, 12], numClasses: 10, source: 'synthetic' };
  for (const quantization of ['round', 'floor'] as const) {
    const { dataset, report } = poisonDataset(ds, generatorPerturbation(gen, eps), { eps, quantization, batchSize: 16, device: 'cpu' });
    let maxd = 0;
    for (let i = 0; i < images.length; i++) maxd = Math.max(maxd, Math.abs(dataset.images[i]! - images[i]!));
    assert.ok(maxd <= 8, `${quantization}: max |Δ| ${maxd}/255`);
    assert.equal(report.linf255, maxd);
    assert.ok(maxd >= 7, 'a saturated generator uses the budget');
  }
  gen.dispose();
});

test('training is resumable: 2 + 2 steps with a restart equal 4 steps straight', () => {
  const ds = randomImageDataset(96, 5);
  const base = mkdtempSync(join(tmpdir(), 'gue-resume-'));
  try {
    const opts = { surrogate: 'small-cnn', genWidth: 2, batchSize: 32, epochs: 2, seed: 9, checkpointEvery: 1e9, path: 'fast' as const };
    const straight = trainGenerator(ds, opts, join(base, 'a'));
    assert.equal(straight.steps, 6);
    trainGenerator(ds, { ...opts, maxSteps: 4 }, join(base, 'b'));
    assert.throws(() => trainGenerator(ds, opts, join(base, 'b')), /already exists/);
    assert.throws(() => trainGenerator(ds, { ...opts, eta: 2 }, join(base, 'b'), true), /different eta/);
    const resumed = trainGenerator(ds, { epochs: 2 }, join(base, 'b'), true);
    assert.equal(resumed.steps, 6);
    const a = loadCheckpointSync(join(base, 'a', 'generator'));
    const b = loadCheckpointSync(join(base, 'b', 'generator'));
    for (const [k, t] of a.tensors) assert.ok(t.sub(b.tensors.get(k)!).abs().max().item() === 0, `generator tensor ${k} differs after resume`);
    const { gen, meta } = loadGenerator(join(base, 'a', 'generator'));
    assert.equal(meta.channels, 1);
    assert.equal(gen.training, false);
    gen.dispose();
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('surrogate warm restarts (resetEvery): re-initialise θ on schedule, change the result, and resume identically', () => {
  const ds = randomImageDataset(96, 6);
  const base = mkdtempSync(join(tmpdir(), 'gue-reset-'));
  try {
    const opts = { surrogate: 'small-cnn', genWidth: 2, batchSize: 32, epochs: 2, seed: 9, checkpointEvery: 1e9, path: 'fast' as const };
    const logs: string[] = [];
    const sink = (e: { type: string; message?: string }) => { if (e.type === 'log' && e.message) logs.push(e.message); };
    trainGenerator(ds, { ...opts, resetEvery: 2 }, join(base, 'reset'), false, sink as never);
    assert.deepEqual(logs.filter((m) => /re-initialised/.test(m)).map((m) => m.split(':')[0]), ['step 2', 'step 4']);
    trainGenerator(ds, opts, join(base, 'plain'));
    // Killed right at a restart point (the checkpoint holds θ before the restart), then resumed.
    trainGenerator(ds, { ...opts, resetEvery: 2, maxSteps: 2 }, join(base, 'resumed'));
    assert.throws(() => trainGenerator(ds, { ...opts, resetEvery: 3 }, join(base, 'resumed'), true), /different resetEvery/);
    trainGenerator(ds, { epochs: 2 }, join(base, 'resumed'), true);
    const ck = (d: string) => loadCheckpointSync(join(base, d, 'checkpoint')).tensors;
    const [r, p, q] = [ck('reset'), ck('plain'), ck('resumed')];
    let differs = 0;
    for (const [k, t] of r) {
      assert.ok(t.sub(q.get(k)!).abs().max().item() === 0, `${k} differs after resume across a restart`);
      if (k.startsWith('gen.') && t.sub(p.get(k)!).abs().max().item() > 0) differs++;
    }
    assert.ok(differs > 0, 'restarting θ changes the generator it trains');
    assert.throws(() => trainGenerator(ds, { ...opts, resetEvery: -1 }, join(base, 'bad')), /resetEvery must be an integer/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('solver steps free what they do not return', () => {
  manualSeed(1);
  const g = new Generator(2);
  const gen = new UNet({ channels: 1, width: 2, generator: g });
  const clf = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
  const scr = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
  const x = rand([8, 1, 8, 8], { generator: g }).keep();
  const y = randint(0, 10, [8], { generator: g }).keep();
  for (const path of ['exact', 'fast'] as const) {
    const s = new GameSolver(gen, clf, scr, { path });
    s.step(x, y);
    const before = memory().tensors;
    for (let i = 0; i < 20; i++) s.step(x, y);
    assert.equal(memory().tensors, before, `${path}: live tensors grew`);
    s.dispose();
  }
});
