// Proxy victims: a convergence diagnostic for generator training (issue: "is the generator protecting
// yet?"). Every K outer steps, protect a fixed seeded subset of the training set with the generator as it
// is now — in eval mode, so its BN uses running statistics exactly as `gue poison` will (the authors'
// proxy runs the generator in train mode, which is not what protection uses) — train a fresh small victim
// on it for a few epochs, and report the victim's clean test accuracy. A falling curve means the
// perturbation is becoming a shortcut a fresh network learns instead of the real features.
// The same victim trained on the clean subset and on random ±ε noise gives the two reference lines.
import type { Module } from '../nn/module.js';
import { seededSubset, type ImageDataset } from '../data/index.js';
import { generatorPerturbation, poisonDataset, runAttack } from '../attacks/index.js';
import { trainVictim } from '../victim/index.js';

export interface ProxyOptions {
  /** Run the proxy every this many outer steps (0 = never). */
  every: number;
  /** Training images the proxy victim sees (a seeded subset). */
  trainSize: number;
  /** Clean test images it is scored on (a seeded subset). */
  testSize: number;
  epochs: number;
  model: string;
  seed: number;
  batchSize: number;
  /** Victim SGD learning rate (momentum 0.9, weight decay 5e-4, constant). */
  lr: number;
  /** Victim augmentation (random-crop padding, horizontal flip), as in victim training. */
  cropPadding: number;
  flip: boolean;
  device: string;
}

export const PROXY_DEFAULTS: Readonly<ProxyOptions> = Object.freeze({
  every: 0,
  trainSize: 5000,
  testSize: 2000,
  epochs: 3,
  model: 'small-cnn',
  seed: 7,
  batchSize: 128,
  lr: 0.01,
  cropPadding: 4,
  flip: true,
  device: 'cpu',
});

export interface ProxyResult {
  /** Clean test accuracy (%) after the last epoch, and the lowest over epochs. */
  acc: number;
  worst: number;
  /** L∞ of the stored protected bytes (1/255). */
  linf255: number;
  seconds: number;
}

/** A fixed proxy task: the subsets are drawn once, so every evaluation over training is comparable. */
export class ProxyVictim {
  readonly o: ProxyOptions;
  readonly train: ImageDataset;
  readonly test: ImageDataset;

  constructor(train: ImageDataset, test: ImageDataset, opts: Partial<ProxyOptions> = {}) {
    this.o = { ...PROXY_DEFAULTS, ...opts };
    if (!(Number.isInteger(this.o.epochs) && this.o.epochs >= 1)) throw new Error(`proxy epochs must be a positive integer, got ${this.o.epochs}`);
    this.train = seededSubset(train, this.o.trainSize, this.o.seed, `${train.source}[proxy subset]`);
    this.test = seededSubset(test, this.o.testSize, this.o.seed + 1, `${test.source}[proxy subset]`);
  }

  private victim(ds: ImageDataset, linf255: number, t0: number): ProxyResult {
    const r = trainVictim(ds, this.test, {
      model: this.o.model, epochs: this.o.epochs, milestones: [], batchSize: this.o.batchSize, lr: this.o.lr, cropPadding: this.o.cropPadding, flip: this.o.flip, seed: this.o.seed, device: this.o.device,
    });
    return { acc: r.finalTestAcc, worst: r.worstTestAcc, linf255, seconds: (Date.now() - t0) / 1000 };
  }

  /** Victim accuracy on the subset protected by `gen` (eval-mode BN; the generator's mode is restored). */
  evaluate(gen: Module, eps: number): ProxyResult {
    const t0 = Date.now();
    const wasTraining = gen.training;
    gen.eval();
    let protectedSet: ImageDataset;
    let linf255: number;
    try {
      const r = poisonDataset(this.train, generatorPerturbation(gen, eps), { eps, quantization: 'round', batchSize: 500, device: this.o.device });
      protectedSet = r.dataset;
      linf255 = r.report.linf255;
    } finally {
      gen.train(wasTraining);
    }
    return this.victim(protectedSet, linf255, t0);
  }

  /** The two reference lines: the same victim on the clean subset and on random uniform ±ε noise. */
  references(eps: number): { clean: ProxyResult; random: ProxyResult } {
    const t0 = Date.now();
    const clean = this.victim(this.train, 0, t0);
    const t1 = Date.now();
    const noisy = runAttack('random', this.train, { eps, seed: this.o.seed, device: this.o.device });
    return { clean, random: this.victim(noisy.dataset, noisy.report.linf255, t1) };
  }
}
