// The victim zoo: every registered classifier builds for 3-channel 32×32 and 1-channel 28×28 inputs and
// returns [N, K] logits; the transfer victims have the parameter counts of the standard CIFAR
// implementations; the CPU-sized victims train (a backward step lowers the loss on a fixed batch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Generator, memory, noGrad, randn, randint, scope } from '../src/engine/index.js';
import { CLASSIFIERS, buildClassifier } from '../src/nn/models/index.js';
import { SGD } from '../src/optim/index.js';

const BIG = ['vgg16', 'resnet50', 'densenet121', 'densenet-cifar', 'wrn-28-10'];

test('parameter counts of the transfer victims match the standard CIFAR variants (10 classes)', () => {
  const expected: Record<string, number> = {
    vgg16: 14_728_266,
    resnet50: 23_520_842,
    densenet121: 6_956_298,
    'densenet-cifar': 1_000_618,
    'wrn-28-10': 36_479_194,
    resnet18: 11_173_962,
  };
  const before = memory().tensors;
  for (const [name, n] of Object.entries(expected)) {
    const m = buildClassifier(name, { inChannels: 3, numClasses: 10, imageSize: 32, generator: new Generator(1) });
    try {
      assert.equal(m.numParameters(), n, name);
    } finally {
      m.dispose();
    }
  }
  // 100 classes change only the last layer; 1 input channel only the stem.
  const m = buildClassifier('densenet121', { inChannels: 1, numClasses: 100, imageSize: 28 });
  assert.equal(m.numParameters(), 6_956_298 + 90 * (1024 + 1) - 2 * 64 * 9);
  m.dispose();
  assert.equal(memory().tensors, before, 'models leak no tensors');
});

test('every classifier maps 32×32×3 and 28×28×1 batches to [N, K] logits', () => {
  const g = new Generator(2);
  const before = memory().tensors;
  for (const name of Object.keys(CLASSIFIERS)) {
    for (const [c, s, k] of [[3, 32, 10], [1, 28, 7]] as const) {
      // Big models: one image in eval mode (BN on running stats), to stay fast on a CPU.
      const n = BIG.includes(name) ? 1 : 3;
      const m = buildClassifier(name, { inChannels: c, numClasses: k, imageSize: s, generator: g });
      try {
        if (BIG.includes(name)) m.eval();
        const shape = noGrad(() => scope(() => m.forward(randn([n, c, s, s], { generator: g })).shape));
        assert.deepEqual(shape, [n, k], `${name} on ${c}×${s}×${s}`);
      } finally {
        m.dispose();
      }
    }
  }
  assert.equal(memory().tensors, before);
});

test('CPU-sized victims learn: SGD steps lower the loss on a fixed batch', () => {
  const before = memory().tensors;
  for (const name of ['vgg-small', 'mobilenet-small', 'lenet', 'mlp']) {
    const g = new Generator(3);
    const m = buildClassifier(name, { inChannels: 1, numClasses: 4, imageSize: 28, generator: g });
    const opt = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9 });
    const x = randn([16, 1, 28, 28], { generator: g });
    const y = randint(0, 4, [16], { generator: g });
    try {
      const losses: number[] = [];
      for (let i = 0; i < 20; i++) {
        losses.push(scope(() => {
          const loss = F.crossEntropy(m.forward(x), y);
          loss.backward();
          opt.step();
          opt.zeroGrad();
          return loss.item();
        }));
      }
      assert.ok(m.parameters().every((p) => p.grad === null || Number.isFinite(p.grad.sum().item())), `${name}: finite grads`);
      assert.ok(losses[losses.length - 1]! < losses[0]! * 0.8, `${name}: loss ${losses[0]} → ${losses[losses.length - 1]}`);
    } finally {
      opt.dispose();
      m.dispose();
      x.dispose();
      y.dispose();
    }
  }
  assert.equal(memory().tensors, before);
});
