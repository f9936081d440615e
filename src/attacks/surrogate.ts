// A surrogate classifier for the attacks that optimise noise against a model (EM's min-min, TAP's
// pretrained target): built from the models registry, trained by SGD on (optionally perturbed) training
// batches drawn from an endless seeded shuffle, and evaluated on the perturbed training set. Also the
// stored-perturbation table (δ per sample or per class) that such attacks hand to poisonDataset.
import { F, Generator, Tensor, keep, noGrad, scope } from '../engine/index.js';
import { TensorDataset, indexBatches } from '../data/index.js';
import { buildClassifier, CLASSIFIERS } from '../nn/models/index.js';
import type { Module } from '../nn/module.js';
import { SGD } from '../optim/index.js';
import { OptionError, type OptionSpec } from '../util/options.js';
import type { AttackContext } from './types.js';
import type { PerturbFn } from './poison.js';

export interface SurrogateOptions {
  model: string;
  lr: number;
  momentum: number;
  weightDecay: number;
  batchSize: number;
}

/** Option-table entries shared by the attacks that train a surrogate (defaults: the EM/TAP papers' SGD). */
export function surrogateOptionSpecs(defaults: { model: string; lr: number; batchSize: number }): Record<string, OptionSpec> {
  return {
    model: {
      type: 'string',
      description: `surrogate classifier from the models registry (the papers use ResNet-18; '${defaults.model}' is CPU-sized, 'tiny-cnn' is the quickest)`,
      default: defaults.model,
      choices: Object.keys(CLASSIFIERS),
    },
    lr: { type: 'number', description: 'surrogate SGD learning rate', default: defaults.lr, min: 0 },
    momentum: { type: 'number', description: 'surrogate SGD momentum', default: 0.9, min: 0, max: 1 },
    weightDecay: { type: 'number', description: 'surrogate SGD weight decay', default: 5e-4, min: 0 },
    batchSize: { type: 'int', description: 'batch size for surrogate training and for the noise optimisation', default: defaults.batchSize, min: 1 },
  };
}

export class Surrogate {
  readonly model: Module;
  readonly data: TensorDataset;
  private readonly opt: SGD;
  private readonly shuffle: Generator;
  private stream: Iterator<Tensor> | null = null;

  constructor(ctx: AttackContext, readonly o: SurrogateOptions, seed: number) {
    if (!CLASSIFIERS[o.model]) throw new OptionError(`unknown model '${o.model}'; available: ${Object.keys(CLASSIFIERS).join(', ')}`);
    const [c, h] = ctx.train.shape;
    this.model = buildClassifier(o.model, { inChannels: c, numClasses: ctx.train.numClasses, imageSize: h, generator: new Generator(seed) });
    if (ctx.device !== 'cpu') this.model.to(ctx.device);
    this.data = new TensorDataset(ctx.train, ctx.device);
    this.opt = new SGD(this.model.parameters(), { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay });
    this.shuffle = new Generator(seed + 1);
  }

  get size(): number {
    return this.data.size;
  }

  private nextBatch(): Tensor {
    for (;;) {
      if (this.stream === null) this.stream = indexBatches(this.data.size, { batchSize: this.o.batchSize, shuffle: true, generator: this.shuffle });
      const r = this.stream.next();
      if (!r.done) return r.value;
      this.stream = null;
    }
  }

  /** `steps` SGD steps on clamp(x + δ) (δ from `perturb`, or clean x). Returns the mean loss and accuracy (%). */
  trainSteps(steps: number, perturb?: PerturbFn): { loss: number; acc: number } {
    this.model.train();
    let loss = 0;
    let correct = 0;
    let seen = 0;
    for (let s = 0; s < steps; s++) {
      const idx = this.nextBatch();
      const [l, c, n] = scope(() => {
        const b = this.data.batch(idx);
        const x = perturb ? noGrad(() => b.x.add(perturb(b.x, idx, b.y)).clamp(0, 1)) : b.x;
        const logits = this.model.forward(x);
        const lossT = F.crossEntropy(logits, b.y);
        lossT.backward();
        this.opt.step();
        this.opt.zeroGrad();
        const n = b.y.shape[0]!;
        return [lossT.item() * n, noGrad(() => logits.argmax(1).eq(b.y).sum().item()), n] as const;
      });
      loss += l;
      correct += c;
      seen += n;
    }
    return { loss: loss / Math.max(seen, 1), acc: (100 * correct) / Math.max(seen, 1) };
  }

  /** Accuracy (%) of the model in eval mode on clamp(x + δ) over the whole training set. */
  accuracy(perturb?: PerturbFn, batchSize = 500): number {
    this.model.eval();
    let correct = 0;
    noGrad(() => {
      for (const idx of indexBatches(this.data.size, { batchSize })) {
        correct += scope(() => {
          const b = this.data.batch(idx);
          const x = perturb ? b.x.add(perturb(b.x, idx, b.y)).clamp(0, 1) : b.x;
          return this.model.forward(x).argmax(1).eq(b.y).sum().item();
        });
      }
    });
    return (100 * correct) / this.data.size;
  }

  dispose(): void {
    this.stream?.return?.();
    this.stream = null;
    this.opt.dispose();
    this.model.dispose();
    this.data.dispose();
  }
}

/** A kept table of perturbations (rows: samples or classes) on the attack's device. */
export class DeltaTable {
  readonly t: Tensor;
  constructor(init: Tensor) {
    this.t = keep(init);
  }
  /** Rows for a batch (a new tensor). */
  rows(index: Tensor): Tensor {
    return this.t.indexSelect(0, index.onDevice(this.t.device));
  }
  /** Overwrites rows [start, start + values.shape[0]). */
  setRange(start: number, values: Tensor): void {
    noGrad(() => scope(() => { this.t.narrow(0, start, values.shape[0]!).copy_(values); }));
  }
  dispose(): void {
    this.t.dispose();
  }
}
