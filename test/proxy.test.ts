// Proxy victims for convergence diagnostics: a fixed seeded task, eval-mode protection (mode restored),
// deterministic for a seed, and the clean / random-noise reference lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, memory } from '../src/engine/index.js';
import { UNet } from '../src/nn/models/index.js';
import { ProxyVictim } from '../src/game/index.js';
import { syntheticDataset, syntheticTemplates } from './helpers/synthetic.js';

test('ProxyVictim: eval-mode protection within ε, generator mode restored, deterministic, references', () => {
  const templates = syntheticTemplates(5);
  const train = syntheticDataset(512, 1, templates);
  const testSet = syntheticDataset(256, 2, templates);
  templates.dispose();
  const gen = new UNet({ channels: 1, width: 4, generator: new Generator(0) });
  gen.train();
  const before = memory().tensors;
  const proxy = new ProxyVictim(train, testSet, { trainSize: 300, testSize: 200, epochs: 3, model: 'tiny-cnn', batchSize: 32, lr: 0.05, cropPadding: 0, flip: false });
  assert.equal(proxy.train.labels.length, 300);
  assert.equal(proxy.test.labels.length, 200);
  const eps = 16 / 255;
  const a = proxy.evaluate(gen, eps);
  assert.equal(gen.training, true, 'generator mode restored');
  assert.ok(a.linf255 <= 16 && a.linf255 > 0);
  assert.ok(a.acc >= 0 && a.acc <= 100 && a.worst <= a.acc);
  const b = proxy.evaluate(gen, eps);
  assert.equal(b.acc, a.acc, 'same seed, same generator → same proxy accuracy');
  const refs = proxy.references(eps);
  assert.ok(refs.clean.acc > 50, `the clean proxy victim learns the synthetic task (got ${refs.clean.acc})`);
  assert.ok(refs.random.linf255 <= 16);
  assert.equal(memory().tensors, before, 'no tensors leak');
  gen.dispose();
});
