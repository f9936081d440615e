// Adversarial training of victims (src/victim/at.ts, trainVictim's at/robustEval/defense options): AT losses
// hold ρ constant (their input gradient is the gradient at x + ρ), PGD-AT and TRADES victims train on the
// synthetic task, their PGD robust accuracy is below their clean accuracy and above a standard victim's under
// the same attack, and defenses plug into trainVictim with clear errors for bad names and options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Generator, grad, memory, rand, randint, scope, setNumThreads } from '../src/engine/index.js';
import { SmallCNN } from '../src/nn/models/index.js';
import { pgdAtLoss, pgdPerturbation, tradesLoss, tradesPerturbation, trainVictim, type VictimOptions } from '../src/victim/index.js';
import { syntheticDataset, syntheticTemplates } from './helpers/synthetic.js';

setNumThreads(1);

test('AT losses treat ρ as a constant: their input gradient is the gradient at x + ρ', () => {
  const g = new Generator(4);
  const model = new SmallCNN({ inChannels: 1, imageSize: 8, width: 4, numClasses: 4, generator: g });
  const x = rand([6, 1, 8, 8], { generator: g }).keep();
  const y = randint(0, 4, [6], { generator: g }).keep();
  const before = memory().tensors;
  scope(() => {
    const base = { eps: 0.05, steps: 3, craftMode: 'eval' as const, beta: 2, startSigma: 0.001 };
    // PGD-AT
    const rho = pgdPerturbation(model, x, y, { ...base, generator: new Generator(9) });
    assert.ok(rho.abs().max().item() <= 0.05 + 1e-6 && rho.abs().max().item() > 0.01);
    const xa = x.clone().requiresGrad_();
    const [ga] = grad(pgdAtLoss(model, xa, y, { ...base, generator: new Generator(9) }).loss, [xa]);
    const xb = x.add(rho).requiresGrad_();
    const [gb] = grad(F.crossEntropy(model.forward(xb), y), [xb]);
    assert.ok(ga!.sub(gb!).abs().max().item() < 1e-6, 'PGD-AT: ∇x = ∇CE at x+ρ');
    // TRADES
    const rt = tradesPerturbation(model, x, { ...base, generator: new Generator(9) });
    const xc = x.clone().requiresGrad_();
    const [gc] = grad(tradesLoss(model, xc, y, { ...base, generator: new Generator(9) }).loss, [xc]);
    const xd = x.clone().requiresGrad_();
    const nat = model.forward(xd);
    const adv = model.forward(xd.add(rt));
    const ref = F.crossEntropy(nat, y).add(F.klDiv(adv.logSoftmax(1), nat.softmax(1), { reduction: 'batchmean' }).mul(2));
    const [gd] = grad(ref, [xd]);
    assert.ok(gc!.sub(gd!).abs().max().item() < 1e-6, 'TRADES: ∇x of CE(x) + β KL(p(x) ‖ p(x+ρ)) at fixed ρ');
    assert.equal(model.training, true, 'the crafting mode is restored');
  });
  assert.equal(memory().tensors, before);
  x.dispose();
  y.dispose();
  model.dispose();
});

const tpl = syntheticTemplates(1, { classes: 4, size: 8 });
const train = syntheticDataset(384, 2, tpl);
const testSet = syntheticDataset(256, 3, tpl);
const base: Partial<VictimOptions> = {
  model: 'tiny-cnn', epochs: 6, batchSize: 64, lr: 0.05, milestones: [], cropPadding: 0, flip: false,
  robustEval: true, atEps: 0.08, robustEps: 0.05, atSteps: 5, robustSteps: 10, tradesBeta: 6,
};

test('PGD-AT and TRADES victims: robust accuracy ≤ clean and above a standard victim under the same PGD', () => {
  const plain = trainVictim(train, testSet, { ...base, at: 'none' });
  const pgd = trainVictim(train, testSet, { ...base, at: 'pgd' });
  const trades = trainVictim(train, testSet, { ...base, at: 'trades' });
  assert.equal(plain.adversarialTraining, null);
  assert.deepEqual(pgd.adversarialTraining, { kind: 'pgd', eps: 0.08, steps: 5, stepSize: 0.02 });
  assert.equal(trades.adversarialTraining?.beta, 6);
  for (const [name, r] of [['standard', plain], ['pgd', pgd], ['trades', trades]] as const) {
    assert.ok(r.robustAcc !== null, name);
    assert.deepEqual(r.robust, { eps: 0.05, steps: 10, stepSize: 0.0125 });
    assert.ok(r.finalTestAcc > 60, `${name} learns the task: ${r.finalTestAcc}`);
    assert.ok(r.robustAcc! <= r.finalTestAcc, `${name}: robust ${r.robustAcc} ≤ clean ${r.finalTestAcc}`);
  }
  assert.ok(pgd.robustAcc! > plain.robustAcc! + 5, `PGD-AT robust ${pgd.robustAcc} vs standard ${plain.robustAcc}`);
  assert.ok(trades.robustAcc! > plain.robustAcc! + 5, `TRADES robust ${trades.robustAcc} vs standard ${plain.robustAcc}`);
  // Same seed, same result.
  const again = trainVictim(train, testSet, { ...base, at: 'pgd', epochs: 1 });
  const again2 = trainVictim(train, testSet, { ...base, at: 'pgd', epochs: 1 });
  assert.deepEqual(again, again2);
});

test('defenses in trainVictim: data and training defenses run, are recorded, and bad names/options are errors', () => {
  const small = { ...base, epochs: 1, robustEval: false };
  for (const [defense, kind] of [['mixup', 'training'], ['cutmix', 'training'], ['cutout', 'training'], ['bitdepth', 'data'], ['blur', 'data'], ['jpeg', 'data']] as const) {
    const before = memory().tensors;
    const r = trainVictim(train, testSet, { ...small, defense, defenseOptions: defense === 'jpeg' ? { quality: '30' } : {} });
    assert.equal(r.defense?.name, defense);
    assert.equal(r.defense?.kind, kind);
    assert.ok(Number.isFinite(r.finalTestAcc) && Number.isFinite(r.epochs[0]!.trainLoss), defense);
    assert.equal(memory().tensors, before, `${defense}: no leaked tensors`);
  }
  const none = trainVictim(train, testSet, small);
  assert.equal(none.defense, null);
  assert.equal(none.robustAcc, null);
  // Mixup with AT: soft targets go through the PGD loss too.
  trainVictim(train, testSet, { ...small, defense: 'mixup', at: 'pgd', atSteps: 1 });
  assert.throws(() => trainVictim(train, testSet, { ...small, defense: 'nope' }), /unknown defense 'nope'/);
  assert.throws(() => trainVictim(train, testSet, { ...small, defense: 'bitdepth', defenseOptions: { bits: '9' } }), /option 'bits' of defense 'bitdepth' must be at most 8/);
  assert.throws(() => trainVictim(train, testSet, { ...small, defense: 'grayscale' }), /already grayscale/);
  assert.throws(() => trainVictim(train, testSet, { ...small, at: 'pgd', atEps: 0 }), /atEps must be in \(0, 1\]/);
  assert.throws(() => trainVictim(train, testSet, { ...small, at: 'fgsm' as never }), /must be one of none, pgd, trades/);
});
