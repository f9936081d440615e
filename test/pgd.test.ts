// PGD on inputs: stays in the ε-ball and in [0,1], moves the loss in the asked direction, frees its tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Generator, memory, noGrad, rand, randint, scope } from '../src/engine/index.js';
import { SmallCNN } from '../src/nn/models/index.js';
import { pgdLinf } from '../src/attacks/pgd.js';

test('pgdLinf ascends/descends the loss inside the ε-ball and [0,1], without leaking', () => {
  const g = new Generator(0);
  const model = new SmallCNN({ inChannels: 1, imageSize: 8, width: 8, numClasses: 4, generator: g });
  model.eval();
  const x = rand([16, 1, 8, 8], { generator: g }).keep();
  const y = randint(0, 4, [16], { generator: g }).keep();
  const loss = (xx: import('../src/engine/index.js').Tensor) => F.crossEntropy(model.forward(xx), y);
  const base = noGrad(() => scope(() => loss(x).item()));
  const eps = 8 / 255;
  const before = memory().tensors;
  for (const direction of ['max', 'min'] as const) {
    const adv = pgdLinf(loss, x, { eps, steps: 10, randomStart: true, direction, generator: new Generator(1) });
    const [l, dev, lo, hi] = noGrad(() => scope(() => [loss(adv).item(), adv.sub(x).abs().max().item(), adv.min().item(), adv.max().item()]));
    assert.ok(dev <= eps + 1e-6, `left the ball: ${dev}`);
    assert.ok(lo >= 0 && hi <= 1);
    if (direction === 'max') assert.ok(l > base + 1e-3, `loss did not rise: ${base} → ${l}`);
    else assert.ok(l < base - 1e-3, `loss did not fall: ${base} → ${l}`);
    adv.dispose();
  }
  assert.equal(memory().tensors, before);
  x.dispose(); y.dispose(); model.dispose();
});
