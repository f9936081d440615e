// GUE-AT (src/game/bome.ts with lowerLoss 'pgd-at' / 'trades'): a solver step runs on both paths, the 'exact'
// and 'fast' paths give the same λ and updates under the same seed, ∇_w q holds ρ constant (checked against
// an independent computation), memory stays flat over steps, and trainGenerator runs GUE-AT with an lr schedule,
// resumes to the same generator and refuses a changed lower loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, Tensor, grad, memory, rand, randint, scope, setNumThreads } from '../src/engine/index.js';
import { SmallCNN, UNet } from '../src/nn/models/index.js';
import type { Module } from '../src/nn/module.js';
import { GameSolver, multiStepLr, poisonBatch, trainGenerator, type LowerLoss } from '../src/game/index.js';
import { pgdPerturbation, tradesPerturbation, type AtLossOptions } from '../src/victim/index.js';
import { loadCheckpointSync } from '../src/io/index.js';
import type { ImageDataset } from '../src/data/index.js';
import { randomImageDataset } from './helpers/synthetic.js';

setNumThreads(1);

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${what}: ${a} vs ${b}`);

function twin<M extends Module>(make: () => M): [M, M] {
  const a = make();
  const b = make();
  b.copyFrom(a);
  return [a, b];
}

const AT = { atEps: 8 / 255, atSteps: 2, innerSteps: 2, lrInner: 1e-3 };

for (const lowerLoss of ['pgd-at', 'trades'] as const) {
  test(`${lowerLoss}: exact and fast paths give the same λ and updates under the same seed`, () => {
    const g = new Generator(11);
    const [genA, genB] = twin(() => new UNet({ channels: 1, width: 2, generator: g }));
    const [clfA, clfB] = twin(() => new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g }));
    const scrA = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
    const scrB = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
    const x = rand([16, 1, 8, 8], { generator: g }).keep();
    const y = randint(0, 10, [16], { generator: g }).keep();
    const exact = new GameSolver(genA, clfA, scrA, { ...AT, lowerLoss, path: 'exact', atSeed: 5 });
    const fast = new GameSolver(genB, clfB, scrB, { ...AT, lowerLoss, path: 'fast', atSeed: 5 });
    for (let s = 0; s < 2; s++) {
      // Each step starts both paths from the same state (both optimizers are plain SGD: no state to copy).
      // Without this, float-rounding drift from the previous step can flip the sign of a near-zero input
      // gradient in the AT craft's sign steps, which moves ρ by a whole step on that pixel: a property of
      // the discontinuous craft (seen on some CPUs at step 1), not a difference between the paths.
      if (s > 0) {
        genB.copyFrom(genA);
        clfB.copyFrom(clfA);
      }
      const me = exact.step(x, y);
      const mf = fast.step(x, y);
      for (const k of ['lambda', 'gradQNorm', 'gradQwNorm', 'dot', 'g', 'gInner'] as const) close(mf[k], me[k], 1e-4, `${k} at step ${s}`);
      assert.ok(Number.isFinite(me.g) && me.gradQwNorm > 0, 'the generator receives a gradient');
    }
    genA.parameters().forEach((p, i) => assert.ok(p.sub(genB.parameters()[i]!).abs().max().item() < 1e-5, `generator parameter ${i}`));
    clfA.parameters().forEach((p, i) => assert.ok(p.sub(clfB.parameters()[i]!).abs().max().item() < 1e-5, `classifier parameter ${i}`));
    exact.dispose();
    fast.dispose();
    for (const t of [x, y]) t.dispose();
  });
}

test('∇_w q of GUE-AT holds ρ constant: equals the gradient of the AT loss at P_w(x) + ρ with ρ precomputed', () => {
  // With innerSteps = 1 and lrInner = 0, θ^T = θ; q = g(w, θ) − g(w, θ) = 0 in value, but ρ differs between the
  // two terms (two PGD draws), so ∇q is the difference of two Danskin gradients. Recompute them by hand.
  const g = new Generator(3);
  const gen = new UNet({ channels: 1, width: 2, generator: g });
  const clf = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
  const scr = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
  const x = rand([8, 1, 8, 8], { generator: g }).keep();
  const y = randint(0, 10, [8], { generator: g }).keep();
  const solver = new GameSolver(gen, clf, scr, { lowerLoss: 'pgd-at', atEps: 8 / 255, atSteps: 2, innerSteps: 1, lrInner: 0, path: 'fast', atSeed: 21, eta: 1.5 });
  const gen0 = gen.parameters().map((p) => p.detach().clone().keep());
  // The reference: replay the solver's random draws with a generator of the same seed.
  const expected = scope(() => {
    const rng = new Generator(21);
    const at: AtLossOptions = { eps: 8 / 255, steps: 2, stepSize: 2 / 255, generator: rng, craftMode: 'keep' };
    gen.train();
    clf.train();
    scr.copyFrom(clf);
    scr.train();
    const xp = poisonBatch(gen, x, 8 / 255);
    pgdPerturbation(scr, xp, y, at); // the inner step's draw (its update is 0)
    const rho1 = pgdPerturbation(clf, xp, y, at);
    const rho2 = pgdPerturbation(scr, xp, y, at);
    const ce = (m: Module, r: Tensor) => m.forward(xp.add(r)).logSoftmax(1).gather(1, y.reshape([8, 1])).neg().mean();
    const q = ce(clf, rho1).sub(ce(scr, rho2));
    return grad(q, gen.parameters(), { allowUnused: true }).map((t, i) => t ?? gen.parameters()[i]!.mul(0));
  });
  // Restore the starting point (BN statistics are not used by train-mode forwards) and run the solver.
  const m = solver.step(x, y);
  // The solver updated the generator by λ·lrGen·b_w; recover b_w from the update.
  const bw = gen.parameters().map((p, i) => gen0[i]!.sub(p).div(m.lambda * 0.1));
  let num = 0, den = 0;
  bw.forEach((t, i) => {
    num += t.sub(expected[i]!).square().sum().item();
    den += expected[i]!.square().sum().item();
  });
  assert.ok(den > 0 && m.lambda > 0);
  assert.ok(Math.sqrt(num / den) < 1e-3, `relative error of ∇_w q: ${Math.sqrt(num / den)}`);
  solver.dispose();
});

test('GUE-AT solver steps free what they do not return (both paths, both AT losses)', () => {
  const g = new Generator(2);
  const gen = new UNet({ channels: 1, width: 2, generator: g });
  const clf = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
  const scr = new SmallCNN({ inChannels: 1, imageSize: 8, width: 2, generator: g });
  const x = rand([8, 1, 8, 8], { generator: g }).keep();
  const y = randint(0, 10, [8], { generator: g }).keep();
  for (const lowerLoss of ['pgd-at', 'trades'] as LowerLoss[]) {
    for (const path of ['exact', 'fast'] as const) {
      const s = new GameSolver(gen, clf, scr, { ...AT, lowerLoss, path });
      s.step(x, y);
      const before = memory().tensors;
      for (let i = 0; i < 5; i++) s.step(x, y);
      assert.equal(memory().tensors, before, `${lowerLoss}/${path}: live tensors grew`);
      s.dispose();
    }
  }
  assert.throws(() => new GameSolver(gen, clf, scr, { lowerLoss: 'fgsm' as never }), /lowerLoss must be one of ce, pgd-at, trades/);
  assert.throws(() => new GameSolver(gen, clf, scr, { lowerLoss: 'trades', atEps: 0 }), /atEps must be in/);
});

test('trainGenerator with GUE-AT: lr milestones, resumable to the same generator, a changed lower loss is refused', () => {
  assert.equal(multiStepLr(0.1, [120, 140], 0.1, 119), 0.1);
  close(multiStepLr(0.1, [120, 140], 0.1, 120), 0.01, 1e-12, 'lr at 120');
  close(multiStepLr(0.1, [120, 140], 0.1, 149), 0.001, 1e-12, 'lr at 149');
  const ds = randomImageDataset(64, 5);
  const base = mkdtempSync(join(tmpdir(), 'gue-at-'));
  try {
    const opts = {
      surrogate: 'tiny-cnn', genWidth: 2, batchSize: 32, epochs: 3, seed: 9, checkpointEvery: 1e9, path: 'fast' as const,
      lowerLoss: 'trades' as const, atSteps: 1, innerSteps: 1, genMomentum: 0.9, genWeightDecay: 5e-4, genMilestones: [1, 2], clsMilestones: [2],
    };
    const straight = trainGenerator(ds, opts, join(base, 'a'));
    assert.equal(straight.steps, 6);
    const metrics = readFileSync(join(base, 'a', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; lrGen: number; lrCls: number });
    assert.deepEqual(metrics.map((m) => m.epoch), [1, 1, 2, 2, 3, 3]);
    metrics.forEach((m) => {
      close(m.lrGen, 0.1 * 0.1 ** (m.epoch - 1), 1e-9, `generator lr in epoch ${m.epoch}`);
      close(m.lrCls, m.epoch === 3 ? 0.001 : 0.01, 1e-9, `classifier lr in epoch ${m.epoch}`);
    });
    trainGenerator(ds, { ...opts, maxSteps: 3 }, join(base, 'b'));
    assert.throws(() => trainGenerator(ds, { ...opts, lowerLoss: 'pgd-at' }, join(base, 'b'), true), /different lowerLoss/);
    assert.throws(() => trainGenerator(ds, { ...opts, tradesBeta: 6 }, join(base, 'b'), true), /different tradesBeta/);
    const resumed = trainGenerator(ds, { epochs: 3 }, join(base, 'b'), true);
    assert.equal(resumed.steps, 6);
    const a = loadCheckpointSync(join(base, 'a', 'generator'));
    const b = loadCheckpointSync(join(base, 'b', 'generator'));
    for (const [k, t] of a.tensors) assert.ok(t.sub(b.tensors.get(k)!).abs().max().item() === 0, `generator tensor ${k} differs after resume`);
    // A standard run resumed with an AT lower loss is refused too.
    trainGenerator(ds, { ...opts, lowerLoss: 'ce', maxSteps: 1 }, join(base, 'c'));
    assert.throws(() => trainGenerator(ds, { lowerLoss: 'trades' }, join(base, 'c'), true), /different lowerLoss \(run has "ce", got "trades"\)/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
