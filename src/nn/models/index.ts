// A frozen registry of model factories: name → builder. Unknown names fail with the list of valid ones.
import type { Module } from '../module.js';
import type { Generator } from '../../engine/index.js';
import { UNet } from './unet.js';
import { resnet18 } from './resnet.js';
import { SmallCNN, SmallResNet } from './small-cnn.js';

export { UNet } from './unet.js';
export type { UNetOptions } from './unet.js';
export { ResNet, BasicBlock, resnet18 } from './resnet.js';
export { SmallCNN, SmallResNet } from './small-cnn.js';

export interface ClassifierSpec {
  inChannels: number;
  numClasses: number;
  imageSize: number;
  generator?: Generator | null;
}

export const CLASSIFIERS: Readonly<Record<string, { describe: string; build: (s: ClassifierSpec) => Module }>> = Object.freeze({
  'small-cnn': {
    describe: 'two conv-BN-ReLU stages (32, 64) + MLP; CPU-sized, for 28×28 / 32×32',
    build: (s: ClassifierSpec) => new SmallCNN({ inChannels: s.inChannels, numClasses: s.numClasses, imageSize: s.imageSize, generator: s.generator }),
  },
  'half-cnn': {
    describe: 'the small CNN at width 16 (about 4× cheaper): a CPU surrogate for the game',
    build: (s: ClassifierSpec) => new SmallCNN({ inChannels: s.inChannels, numClasses: s.numClasses, imageSize: s.imageSize, width: 16, generator: s.generator }),
  },
  'tiny-cnn': {
    describe: 'the small CNN at width 8: for tests and quick experiments on tiny images',
    build: (s: ClassifierSpec) => new SmallCNN({ inChannels: s.inChannels, numClasses: s.numClasses, imageSize: s.imageSize, width: 8, generator: s.generator }),
  },
  'small-resnet': {
    describe: 'three residual blocks at 32/64 channels, global pool; CPU-sized',
    build: (s: ClassifierSpec) => new SmallResNet({ inChannels: s.inChannels, numClasses: s.numClasses, generator: s.generator }),
  },
  resnet18: {
    describe: 'ResNet-18, CIFAR variant (11.2M parameters)',
    build: (s: ClassifierSpec) => resnet18({ inChannels: s.inChannels, numClasses: s.numClasses, generator: s.generator }),
  },
});

export function buildClassifier(name: string, spec: ClassifierSpec): Module {
  const entry = CLASSIFIERS[name];
  if (!entry) throw new Error(`unknown model '${name}'; available: ${Object.keys(CLASSIFIERS).join(', ')}`);
  return entry.build(spec);
}

export function buildGenerator(o: { channels: number; width: number; generator?: Generator | null }): UNet {
  return new UNet(o);
}
