// Proxy victims for convergence diagnostics: a fixed seeded task, eval-mode protection (mode restored),
// deterministic for a seed, and the clean / random-noise reference lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, memory } from '../src/engine/index.js';
import { UNet } from '../src/nn/models/index.js';
import { ProxyVictim, trainGenerator } from '../src/game/index.js';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticDataset, syntheticTemplates } from './helpers/synthetic.js';

test('ProxyVictim: eval-mode protection within ε, generator mode restored, deterministic, references', () => {
  const templates = syntheticTemplates(5);
  const train = syntheticDataset(512, 1, templates);
  const testSet = syntheticDataset(256, 2, templates);
  templates.dispose();
  const gen = new UNet({ channels: 1, width: 4, generator: new Generator(0) });
  gen.train();
  const before = memory().tensors;
  const proxy = new ProxyVictim(train, testSet, { trainSize: 300, testSize: 200, epochs: 6, model: 'tiny-cnn', batchSize: 32, lr: 0.05, cropPadding: 0, flip: false });
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

test('trainGenerator with proxyEvery writes proxy.jsonl (references, then every K steps); a resume rewinds it', () => {
  const templates = syntheticTemplates(6);
  const train = syntheticDataset(256, 3, templates);
  const testSet = syntheticDataset(128, 4, templates);
  templates.dispose();
  const dir = mkdtempSync(join(tmpdir(), 'gue-proxy-'));
  try {
    const opts = { eps: 16 / 255, surrogate: 'tiny-cnn', genWidth: 4, batchSize: 64, epochs: 2, seed: 1, path: 'fast' as const, checkpointEvery: 1e9, proxyEvery: 2, proxyTrainSize: 128, proxyEpochs: 1, proxyModel: 'tiny-cnn' };
    assert.throws(() => trainGenerator(train, { ...opts, maxSteps: 1 }, join(dir, 'no-test')), /need the clean test set/);
    const run = join(dir, 'run');
    trainGenerator(train, { ...opts, maxSteps: 3 }, run, false, undefined, undefined, testSet);
    const lines = () => readFileSync(join(run, 'proxy.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; proxy?: { acc: number }; reference?: unknown });
    const first = lines();
    assert.deepEqual(first.map((l) => [l.step, l.proxy ? 'proxy' : 'reference']), [[0, 'reference'], [0, 'proxy'], [2, 'proxy']]);
    // The checkpoint holds step 3; appending a stray future line and resuming must drop it, then continue to step 8.
    appendFileSync(join(run, 'proxy.jsonl'), JSON.stringify({ step: 99, proxy: { acc: 1 } }) + '\n');
    trainGenerator(train, { maxSteps: 0 }, run, true, undefined, undefined, testSet);
    assert.deepEqual(lines().map((l) => l.step), [0, 0, 2, 4, 6, 8]);
    assert.ok(lines().every((l) => l.reference !== undefined || (l.proxy!.acc >= 0 && l.proxy!.acc <= 100)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
