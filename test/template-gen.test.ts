// The template generator (`--gen-arch templates`, src/nn/models/template-gen.ts): its output, its gradients, training
// and resuming with it, loading it back, applying it to other image sizes, and the clear refusals (ONNX export,
// resume with another architecture, unknown architecture).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { F, Generator, grad, noGrad, rand, randint, randn, scope, tensor } from '../src/engine/index.js';
import { SmallCNN, TemplateGenerator, UNet } from '../src/nn/models/index.js';
import { TEMPLATE_GAIN } from '../src/nn/models/template-gen.js';
import { GameSolver, loadGenerator, trainGenerator } from '../src/game/index.js';
import { exportOnnx } from '../src/export/onnx.js';
import { generatorPerturbation, poisonDataset } from '../src/attacks/index.js';
import sharp from 'sharp';
import { resolveServedModel } from '../src/serve/model.js';
import { loadCheckpointSync } from '../src/io/index.js';
import { randomImageDataset, syntheticDataset, syntheticTemplates } from './helpers/synthetic.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');

test('TemplateGenerator: G(x) in (−1, 1) is a softmax mixture of the K patterns, for the training size and others', () => {
  const g = new Generator(1);
  const gen = new TemplateGenerator({ channels: 3, imageSize: [12, 10], templates: 4, width: 4, generator: g });
  try {
    assert.equal(gen.numTemplates, 4);
    assert.equal(noGrad(() => gen.forward(rand([2, 3, 12, 10], { generator: g })).abs().max().item()), 0, 'δ = 0 before training');
    noGrad(() => gen.getParameter('templates').copy_(randn([4, 3, 12, 10], { generator: g }).div(TEMPLATE_GAIN)));
    scope(() => {
      const x = rand([5, 3, 12, 10], { generator: g });
      const out = noGrad(() => gen.forward(x));
      assert.deepEqual(out.shape, [5, 3, 12, 10]);
      assert.ok(out.abs().max().item() < 1);
      // Independent computation: tanh(Σ_k a_k P_k) with a = assign(x).
      const a = noGrad(() => gen.assign(x));
      assert.deepEqual(a.shape, [5, 4]);
      assert.ok(a.sum(1).sub(1).abs().max().item() < 1e-5, 'the weights sum to 1');
      const p = gen.getParameter('templates').mul(TEMPLATE_GAIN);
      let mix = a.narrow(1, 0, 1).reshape([5, 1, 1, 1]).mul(p.narrow(0, 0, 1));
      for (let k = 1; k < 4; k++) mix = mix.add(a.narrow(1, k, 1).reshape([5, 1, 1, 1]).mul(p.narrow(0, k, 1)));
      assert.ok(mix.tanh().sub(out).abs().max().item() < 1e-5);
      // Another image size: the patterns are resized, the encoder pools adaptively.
      const big = noGrad(() => gen.forward(rand([2, 3, 33, 17], { generator: g })));
      assert.deepEqual(big.shape, [2, 3, 33, 17]);
      assert.ok(big.abs().max().item() < 1);
      // Gradients reach both the patterns and the encoder.
      const loss = gen.forward(x).square().mean();
      const [gp, gw] = grad(loss, [gen.getParameter('templates'), gen.getParameter('head.weight')]);
      assert.ok(gp!.abs().max().item() > 0 && gw!.abs().max().item() > 0);
    });
    assert.throws(() => gen.forward(rand([1, 1, 12, 10])), /expected input \[N, 3, H, W\]/);
    assert.throws(() => new TemplateGenerator({ channels: 3, imageSize: [12, 10], templates: 1 }), /at least 2/);
    assert.throws(() => new TemplateGenerator({ channels: 3, imageSize: [0, 10] }), /image height must be a positive integer/);
  } finally {
    gen.dispose();
  }
});

test('gen-arch templates: trains, resumes identically, loads back with its architecture, and is refused where it does not fit', () => {
  const ds = randomImageDataset(96, 5);
  const base = mkdtempSync(join(tmpdir(), 'gue-templates-'));
  try {
    const opts = { surrogate: 'tiny-cnn', genWidth: 2, genArch: 'templates' as const, batchSize: 32, epochs: 2, seed: 9, checkpointEvery: 1e9, path: 'fast' as const, lrGen: 10 };
    trainGenerator(ds, opts, join(base, 'a'));
    trainGenerator(ds, { ...opts, maxSteps: 4 }, join(base, 'b'));
    assert.throws(() => trainGenerator(ds, { ...opts, genArch: 'unet' }, join(base, 'b'), true), /different genArch/);
    trainGenerator(ds, { epochs: 2 }, join(base, 'b'), true);
    const a = loadCheckpointSync(join(base, 'a', 'generator'));
    const b = loadCheckpointSync(join(base, 'b', 'generator'));
    assert.ok(a.tensors.has('templates') && a.tensors.has('encoder.0.weight'));
    for (const [k, t] of a.tensors) assert.ok(t.sub(b.tensors.get(k)!).abs().max().item() === 0, `generator tensor ${k} differs after resume`);
    const { gen, meta } = loadGenerator(join(base, 'a', 'generator'));
    try {
      assert.equal(meta.arch, 'templates');
      assert.equal(meta.templates, 10);
      assert.ok(gen instanceof TemplateGenerator);
      assert.equal(gen.training, false);
      // The saved generator computes what the trained one would: the same output as a second load.
      const again = loadGenerator(join(base, 'b', 'generator')).gen;
      scope(() => {
        const x = rand([3, 1, 8, 8], { generator: new Generator(2) });
        assert.ok(noGrad(() => gen.forward(x).sub(again.forward(x)).abs().max().item()) === 0);
      });
      again.dispose();
      assert.throws(() => exportOnnx(gen as never, { eps: 8 / 255, channels: 1 }), /only the U-Net generator can be exported to ONNX/);
    } finally {
      gen.dispose();
    }
    assert.throws(() => trainGenerator(ds, { ...opts, genArch: 'mlp' as never }, join(base, 'c')), /genArch must be one of unet, templates/);
    const onnxOut = join(base, 'g.onnx');
    const r = spawnSync(process.execPath, [GUE, 'export', '--onnx', join(base, 'a'), '-o', onnxOut], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /'templates' generator .* cannot be exported to ONNX/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(onnxOut), false, 'no partial output');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('gue train --gen-arch: unknown values are a usage error', () => {
  const r = spawnSync(process.execPath, [GUE, 'train', '--out', join(tmpdir(), 'never-made'), '--gen-arch', 'mlp'], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--gen-arch/);
  assert.match(r.stderr, /unet/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('--route-weight: the generator step adds exactly lr·w·∇CE(router(x), y); refused without a router', () => {
  const make = (rw: number) => {
    const g = new Generator(4);
    const gen = new TemplateGenerator({ channels: 1, imageSize: [8, 8], templates: 3, width: 2, generator: g });
    const clf = new SmallCNN({ inChannels: 1, numClasses: 3, imageSize: 8, width: 2, generator: g });
    const scratch = new SmallCNN({ inChannels: 1, numClasses: 3, imageSize: 8, width: 2, generator: g });
    return { gen, clf, solver: new GameSolver(gen, clf, scratch, { eps: 8 / 255, innerSteps: 2, lrGen: 0.3, routeWeight: rw }) };
  };
  const g = new Generator(5);
  const x = rand([6, 1, 8, 8], { generator: g }).keep();
  const y = randint(0, 3, [6], { generator: g }).keep();
  const [off, on] = [make(0), make(2)];
  // Independent: the router's CE gradient at the starting weights (train-mode BN, as in the step).
  const expected = scope(() => {
    const ref = make(0);
    ref.gen.train();
    const gs = grad(F.crossEntropy(ref.gen.routeLogits(x), y), ref.gen.parameters(), { allowUnused: true });
    const out = gs.map((t, i) => (t ?? ref.gen.parameters()[i]!.mul(0)).mul(0.3 * 2).detach().keep());
    ref.solver.dispose();
    return out;
  });
  const mOff = off.solver.step(x, y);
  const mOn = on.solver.step(x, y);
  assert.equal(mOff.routeLoss, undefined);
  assert.ok(typeof mOn.routeLoss === 'number' && mOn.routeLoss > 0 && typeof mOn.routeAcc === 'number');
  let moved = 0;
  off.gen.parameters().forEach((p, i) => {
    const diff = scope(() => p.sub(on.gen.parameters()[i]!));
    assert.ok(scope(() => diff.sub(expected[i]!).abs().max().item()) < 1e-5, `generator parameter ${i}: w_off − w_on = lr·w·∇CE`);
    if (scope(() => expected[i]!.abs().max().item()) > 0) moved++;
  });
  assert.ok(moved >= 2, 'the router loss reaches the encoder');
  const ti = off.gen.namedParameters().findIndex(([n]) => n === 'templates');
  assert.equal(scope(() => expected[ti]!.abs().max().item()), 0, 'and not the patterns');
  off.clf.parameters().forEach((p, i) => assert.ok(scope(() => p.sub(on.clf.parameters()[i]!).abs().max().item()) < 1e-6, 'θ is unaffected'));
  off.solver.dispose();
  on.solver.dispose();
  const gu = new Generator(1);
  const unet = new UNet({ channels: 1, width: 2, generator: gu });
  const c1 = new SmallCNN({ inChannels: 1, numClasses: 3, imageSize: 8, width: 2, generator: gu });
  const c2 = new SmallCNN({ inChannels: 1, numClasses: 3, imageSize: 8, width: 2, generator: gu });
  assert.throws(() => new GameSolver(unet, c1, c2, { routeWeight: 1 }), /routeWeight needs a generator with a router \(--gen-arch templates\)/);
  assert.throws(() => new GameSolver(unet, c1, c2, { routeWeight: -1 }), /routeWeight must be a number >= 0/);
});

test('--route-weight makes the router class-aligned on a learnable task', () => {
  const tpl = syntheticTemplates(3, { classes: 4, size: 8, amplitude: 0.3, sigma: 0.1 });
  const ds = syntheticDataset(256, 1, tpl, { classes: 4, size: 8, amplitude: 0.3, sigma: 0.1 });
  const base = mkdtempSync(join(tmpdir(), 'gue-route-'));
  try {
    const purity = (rw: number): number => {
      const dir = join(base, `rw${rw}`);
      trainGenerator(ds, { surrogate: 'tiny-cnn', genWidth: 4, genArch: 'templates', routeWeight: rw, batchSize: 64, epochs: 8, seed: 2, checkpointEvery: 1e9, lrGen: 0.1 }, dir);
      const { gen } = loadGenerator(join(dir, 'generator'));
      try {
        return scope(() => {
          const n = ds.labels.length;
          const x = tensor(Float32Array.from(ds.images, (v) => v / 255), { shape: [n, 1, 8, 8] });
          const pick = noGrad(() => (gen as TemplateGenerator).assign(x)).argmax(1).toArray() as number[];
          // Purity: for each pattern, the images of its most frequent class; summed over patterns, over n.
          const counts = new Map<number, number[]>();
          pick.forEach((k, i) => { const r = counts.get(k) ?? [0, 0, 0, 0]; r[ds.labels[i]!]!++; counts.set(k, r); });
          let pure = 0;
          for (const r of counts.values()) pure += Math.max(...r);
          return pure / n;
        });
      } finally {
        gen.dispose();
      }
    };
    const withRoute = purity(1);
    assert.ok(withRoute > 0.9, `with routeWeight 1 the router sends each class to its own pattern (purity ${withRoute.toFixed(2)})`);
  } finally {
    tpl.dispose();
    rmSync(base, { recursive: true, force: true });
  }
});

test('--gen-optim adam: the first generator step is lr·sign(∇), it resumes identically, and bad combinations are refused', () => {
  const ds = randomImageDataset(96, 7);
  const base = mkdtempSync(join(tmpdir(), 'gue-adam-'));
  try {
    const opts = { surrogate: 'tiny-cnn', genWidth: 2, batchSize: 32, epochs: 2, seed: 5, checkpointEvery: 1e9, path: 'fast' as const, genOptim: 'adam' as const, lrGen: 1e-3 };
    // One step from the same start: Adam's first step moves every parameter with a gradient by lr (|m̂/√v̂| = 1).
    trainGenerator(ds, { ...opts, maxSteps: 1 }, join(base, 'one'));
    trainGenerator(ds, { ...opts, maxSteps: 1, lrGen: 0 }, join(base, 'zero'));
    const one = loadCheckpointSync(join(base, 'one', 'checkpoint')).tensors;
    const zero = loadCheckpointSync(join(base, 'zero', 'checkpoint')).tensors;
    let checked = 0;
    for (const [k, t] of one) {
      // Conv biases right before a BatchNorm have a zero gradient up to rounding (the BN removes them): skipped.
      if (!k.startsWith('gen.') || /running_|num_batches/.test(k) || /\.[03]\.bias$/.test(k)) continue;
      const d = scope(() => t.sub(zero.get(k)!).abs());
      const movedMask = scope(() => d.gt(1e-7).to('float32'));
      const nMoved = movedMask.sum().item();
      if (nMoved > 0) {
        assert.ok(d.max().item() <= 1e-3 * 1.001, `${k}: Adam's first step is at most lr (${d.max().item()})`);
        const meanMoved = scope(() => d.mul(movedMask).sum().item()) / nMoved;
        assert.ok(meanMoved > 0.9e-3, `${k}: the moved entries move by ≈ lr (mean ${meanMoved})`);
        checked++;
      }
    }
    assert.ok(checked >= 4, `the generator moved (${checked} tensors)`);
    // Resume: 2 + 4 steps with a restart equal 6 straight (Adam's moments are in the checkpoint).
    trainGenerator(ds, opts, join(base, 'a'));
    trainGenerator(ds, { ...opts, maxSteps: 2 }, join(base, 'b'));
    assert.throws(() => trainGenerator(ds, { ...opts, genOptim: 'sgd' }, join(base, 'b'), true), /different genOptim/);
    trainGenerator(ds, { epochs: 2 }, join(base, 'b'), true);
    const a = loadCheckpointSync(join(base, 'a', 'generator')).tensors;
    const b = loadCheckpointSync(join(base, 'b', 'generator')).tensors;
    for (const [k, t] of a) assert.ok(scope(() => t.sub(b.get(k)!).abs().max().item()) === 0, `generator tensor ${k} differs after resume`);
    assert.throws(() => trainGenerator(ds, { ...opts, genOptim: 'rmsprop' as never }, join(base, 'c')), /genOptim must be one of sgd, adam/);
    assert.throws(() => trainGenerator(ds, { ...opts, genMomentum: 0.9 }, join(base, 'd')), /genMomentum applies to genOptim 'sgd'/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('--game-augment crop-flip: changes the game, is reproducible, resumes identically; unknown values refused', () => {
  const ds = randomImageDataset(96, 8);
  const base = mkdtempSync(join(tmpdir(), 'gue-gameaug-'));
  try {
    const opts = { surrogate: 'tiny-cnn', genWidth: 2, batchSize: 32, epochs: 2, seed: 6, checkpointEvery: 1e9, path: 'fast' as const, gameAugment: 'crop-flip' as const };
    trainGenerator(ds, opts, join(base, 'a'));
    trainGenerator(ds, opts, join(base, 'a2'));
    trainGenerator(ds, { ...opts, gameAugment: 'none' }, join(base, 'plain'));
    trainGenerator(ds, { ...opts, maxSteps: 3 }, join(base, 'b'));
    assert.throws(() => trainGenerator(ds, { ...opts, gameAugment: 'none' }, join(base, 'b'), true), /different gameAugment/);
    trainGenerator(ds, { epochs: 2 }, join(base, 'b'), true);
    const ck = (d: string) => loadCheckpointSync(join(base, d, 'generator')).tensors;
    const [a, a2, p, b] = [ck('a'), ck('a2'), ck('plain'), ck('b')];
    let differs = 0;
    for (const [k, t] of a) {
      assert.ok(scope(() => t.sub(a2.get(k)!).abs().max().item()) === 0, `${k}: same seed, same generator`);
      assert.ok(scope(() => t.sub(b.get(k)!).abs().max().item()) === 0, `${k}: differs after resume`);
      if (scope(() => t.sub(p.get(k)!).abs().max().item()) > 0) differs++;
    }
    assert.ok(differs > 0, 'the augmentation changes what the generator learns');
    assert.throws(() => trainGenerator(ds, { ...opts, gameAugment: 'mixup' as never }, join(base, 'c')), /gameAugment must be one of none, crop-flip/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('gen-arch class-templates: image i gets tanh(γ·P_{y_i}); trains on labels, poisons a labelled dataset by label, and is refused for unlabelled images, ONNX and --route-weight', async () => {
  const g = new Generator(11);
  const gen = new TemplateGenerator({ channels: 1, imageSize: [8, 8], templates: 3, routing: 'label', generator: g });
  try {
    assert.equal(gen.parameters().length, 1, 'no encoder: the patterns are the only parameter');
    noGrad(() => gen.getParameter('templates').copy_(randn([3, 1, 8, 8], { generator: g }).div(TEMPLATE_GAIN)));
    scope(() => {
      const x = rand([4, 1, 8, 8], { generator: g });
      const y = tensor([2, 0, 2, 1], { dtype: 'int64' });
      const out = noGrad(() => gen.forward(x, y));
      const p = gen.getParameter('templates').mul(TEMPLATE_GAIN).tanh();
      [2, 0, 2, 1].forEach((k, i) => assert.ok(out.narrow(0, i, 1).sub(p.narrow(0, k, 1)).abs().max().item() < 1e-6, `image ${i} gets pattern ${k}`));
      // The image does not matter, only its label.
      assert.ok(noGrad(() => gen.forward(rand([4, 1, 8, 8], { generator: g }), y).sub(out).abs().max().item()) === 0);
      assert.deepEqual(noGrad(() => gen.forward(rand([4, 1, 13, 9]), y)).shape, [4, 1, 13, 9], 'other sizes: patterns resized');
      // Gradients reach only the patterns of the labels present.
      const [gp] = grad(gen.forward(x, tensor([1, 1, 1, 1], { dtype: 'int64' })).square().mean(), [gen.getParameter('templates')]);
      assert.ok(gp!.narrow(0, 1, 1).abs().max().item() > 0);
      assert.equal(gp!.narrow(0, 0, 1).abs().max().item(), 0);
      assert.equal(gp!.narrow(0, 2, 1).abs().max().item(), 0);
      assert.throws(() => gen.forward(x), /class-conditional .* labelled dataset/);
      assert.throws(() => gen.forward(x, tensor([0, 1, 3, 0], { dtype: 'int64' })), /labels must be in \[0, 2\]/);
      assert.throws(() => gen.forward(x, tensor([0, 1], { dtype: 'int64' })), /expected 4 labels/);
    });
    assert.throws(() => gen.routeLogits(rand([1, 1, 8, 8])), /no router/);
    const clf = new SmallCNN({ inChannels: 1, numClasses: 3, imageSize: 8, width: 2, generator: g });
    const scratch = new SmallCNN({ inChannels: 1, numClasses: 3, imageSize: 8, width: 2, generator: g });
    assert.throws(() => new GameSolver(gen, clf, scratch, { routeWeight: 1 }), /routeWeight needs a generator with a router/);
    clf.dispose();
    scratch.dispose();
  } finally {
    gen.dispose();
  }

  const ds = randomImageDataset(96, 12);
  const base = mkdtempSync(join(tmpdir(), 'gue-class-templates-'));
  try {
    const opts = { surrogate: 'tiny-cnn', genWidth: 2, genArch: 'class-templates' as const, batchSize: 32, epochs: 2, seed: 5, checkpointEvery: 1e9, path: 'fast' as const, genOptim: 'adam' as const, lrGen: 0.01, genGrad: 'g' as const };
    trainGenerator(ds, opts, join(base, 'a'));
    trainGenerator(ds, { ...opts, maxSteps: 3 }, join(base, 'b'));
    trainGenerator(ds, { epochs: 2 }, join(base, 'b'), true);
    const { gen: loaded, meta } = loadGenerator(join(base, 'a', 'generator'));
    try {
      assert.equal(meta.arch, 'class-templates');
      assert.equal(meta.templates, 10);
      assert.ok(loaded instanceof TemplateGenerator && loaded.routing === 'label');
      const b = loadCheckpointSync(join(base, 'b', 'generator')).tensors;
      for (const [k, t] of loaded.stateDict()) assert.ok(scope(() => t.sub(b.get(k)!).abs().max().item()) === 0, `${k} differs after resume`);
      const pats = scope(() => loaded.getParameter('templates').mul(TEMPLATE_GAIN).tanh().mul(8 / 255).keep());
      assert.ok(scope(() => pats.abs().max().item()) > 1 / 255, 'the game moved the patterns');
      // gue poison's path: δ of image i is ε·tanh(γP_{y_i}) (before clipping to [0, 1] and quantizing).
      const perturb = generatorPerturbation(loaded, meta.eps);
      scope(() => {
        const x = tensor(Array.from(ds.images.subarray(0, 6 * 64), (v) => v / 255), { shape: [6, 1, 8, 8] });
        const y = tensor(Array.from(ds.labels.subarray(0, 6)), { dtype: 'int64' });
        const d = noGrad(() => perturb(x, tensor([0, 1, 2, 3, 4, 5], { dtype: 'int64' }), y));
        for (let i = 0; i < 6; i++) assert.ok(d.narrow(0, i, 1).sub(pats.narrow(0, ds.labels[i]!, 1)).abs().max().item() < 1e-6, `image ${i}`);
      });
      pats.dispose();
      const { report } = poisonDataset(ds, perturb, { eps: meta.eps, quantization: 'round', batchSize: 40, device: 'cpu' });
      assert.ok(report.linf255 <= 8 && report.changed > 0);
    } finally {
      loaded.dispose();
    }
    // Unlabelled images: gue protect refuses, no stack trace, no output.
    const inDir = join(base, 'photos');
    mkdirSync(inDir);
    await sharp(Buffer.alloc(16 * 16, 128), { raw: { width: 16, height: 16, channels: 1 } }).png().toFile(join(inDir, 'p.png'));
    const outDir = join(base, 'out');
    const r = spawnSync(process.execPath, [GUE, 'protect', inDir, '-o', outDir, '--generator', join(base, 'a')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /class-conditional/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(join(outDir, 'p.png')), false, 'no output');
    const onnxOut = join(base, 'g.onnx');
    const e = spawnSync(process.execPath, [GUE, 'export', '--onnx', join(base, 'a'), '-o', onnxOut], { encoding: 'utf8' });
    assert.equal(e.status, 2, e.stderr);
    assert.match(e.stderr, /'class-templates' generator .* cannot be exported to ONNX.*needs labels/);
    assert.equal(existsSync(onnxOut), false);
    await assert.rejects(resolveServedModel(join(base, 'a')), /'class-templates' generator .* cannot run in the page.*needs each image's label/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
