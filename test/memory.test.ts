// Memory discipline: training steps free everything they do not return, so the live-tensor count and
// RSS stay flat over many steps (the known trap of driving libtorch op by op from JS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Generator, memory, randint, rand, scope, manualSeed } from '../src/engine/index.js';
import { SmallCNN } from '../src/nn/models/index.js';
import { SGD } from '../src/optim/index.js';

test('1000 training steps of a small CNN keep live tensors constant and RSS flat', () => {
  manualSeed(0);
  const gen = new Generator(0);
  const model = new SmallCNN({ inChannels: 1, imageSize: 16, width: 8, generator: gen });
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const x = rand([32, 1, 16, 16], { generator: gen }).keep();
  const y = randint(0, 10, [32], { generator: gen }).keep();
  const stepFn = (): number =>
    scope(() => {
      const loss = F.crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      return loss.item();
    });
  for (let i = 0; i < 100; i++) stepFn(); // warm-up: optimizer state, allocator pools
  const tensors0 = memory().tensors;
  const rss0 = process.memoryUsage().rss;
  const counts: number[] = [];
  let maxRss = rss0;
  let minRss = rss0;
  let lastLoss = 0;
  for (let i = 0; i < 1000; i++) {
    lastLoss = stepFn();
    if (i % 50 === 0) {
      counts.push(memory().tensors);
      const r = process.memoryUsage().rss;
      maxRss = Math.max(maxRss, r);
      minRss = Math.min(minRss, r);
    }
  }
  assert.ok(Number.isFinite(lastLoss));
  assert.deepEqual(new Set(counts), new Set([tensors0]), `live tensors drifted: start ${tensors0}, samples ${counts.join(',')}`);
  assert.equal(memory().tensors, tensors0);
  const rss1 = process.memoryUsage().rss;
  assert.ok(maxRss <= rss0 * 1.15 && minRss >= rss0 * 0.85, `RSS left ±15 %: start ${(rss0 / 2 ** 20).toFixed(0)} MB, range ${(minRss / 2 ** 20).toFixed(0)}–${(maxRss / 2 ** 20).toFixed(0)} MB, end ${(rss1 / 2 ** 20).toFixed(0)} MB`);
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
});
