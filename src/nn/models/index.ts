// A frozen registry of model factories: name → builder. Unknown names fail with the list of valid ones.
import type { Module } from '../module.js';
import type { Generator } from '../../engine/index.js';
import { UNet } from './unet.js';
import { resnet18 } from './resnet.js';
import { SmallCNN, SmallResNet } from './small-cnn.js';
import { vgg16, vggSmall } from './vgg.js';
import { resnet50 } from './resnet-bottleneck.js';
import { densenet121, densenetCifar } from './densenet.js';
import { wrn28x10 } from './wrn.js';
import { MLP, LeNet, MobileNetSmall } from './small-victims.js';

export { UNet } from './unet.js';
export type { UNetOptions } from './unet.js';
export { TemplateGenerator, LABEL_ROUTED_MESSAGE } from './template-gen.js';
export type { TemplateGeneratorOptions, TemplateRouting } from './template-gen.js';
export { ResNet, BasicBlock, resnet18 } from './resnet.js';
export { SmallCNN, SmallResNet } from './small-cnn.js';
export { VGG, VGG_CONFIGS, vgg16, vggSmall } from './vgg.js';
export { BottleneckResNet, Bottleneck, resnet50 } from './resnet-bottleneck.js';
export { DenseNet, densenet121, densenetCifar } from './densenet.js';
export { WideResNet, wrn28x10 } from './wrn.js';
export { MLP, LeNet, MobileNetSmall } from './small-victims.js';

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
  // Transfer victims (paper Table 2), CIFAR variants.
  vgg16: {
    describe: 'VGG-16 with batch norm, CIFAR variant (14.7M parameters)',
    build: (s: ClassifierSpec) => vgg16({ inChannels: s.inChannels, numClasses: s.numClasses, imageSize: s.imageSize, generator: s.generator }),
  },
  resnet50: {
    describe: 'ResNet-50 (Bottleneck), CIFAR variant (23.5M parameters)',
    build: (s: ClassifierSpec) => resnet50({ inChannels: s.inChannels, numClasses: s.numClasses, generator: s.generator }),
  },
  densenet121: {
    describe: 'DenseNet-121 (growth 32, blocks 6-12-24-16, BC), CIFAR stem (7.0M parameters)',
    build: (s: ClassifierSpec) => densenet121({ inChannels: s.inChannels, numClasses: s.numClasses, generator: s.generator }),
  },
  'densenet-cifar': {
    describe: 'the small CIFAR DenseNet: DenseNet-121 blocks at growth 12 (1.0M parameters)',
    build: (s: ClassifierSpec) => densenetCifar({ inChannels: s.inChannels, numClasses: s.numClasses, generator: s.generator }),
  },
  'wrn-28-10': {
    describe: 'Wide ResNet 28-10, CIFAR (36.5M parameters)',
    build: (s: ClassifierSpec) => wrn28x10({ inChannels: s.inChannels, numClasses: s.numClasses, generator: s.generator }),
  },
  // CPU-sized victims, so CPU presets can vary the architecture.
  'vgg-small': {
    describe: 'VGG-style with BN at widths 16-32-64-128 (8 conv layers); CPU-sized',
    build: (s: ClassifierSpec) => vggSmall({ inChannels: s.inChannels, numClasses: s.numClasses, imageSize: s.imageSize, generator: s.generator }),
  },
  mlp: {
    describe: 'MLP 512-256 (no convolution); CPU-sized',
    build: (s: ClassifierSpec) => new MLP({ inChannels: s.inChannels, numClasses: s.numClasses, imageSize: s.imageSize, generator: s.generator }),
  },
  lenet: {
    describe: 'LeNet-5 with ReLU and max-pool; CPU-sized',
    build: (s: ClassifierSpec) => new LeNet({ inChannels: s.inChannels, numClasses: s.numClasses, imageSize: s.imageSize, generator: s.generator }),
  },
  'mobilenet-small': {
    describe: 'MobileNet-v1-style depthwise-separable stack, widths 32-256; CPU-sized',
    build: (s: ClassifierSpec) => new MobileNetSmall({ inChannels: s.inChannels, numClasses: s.numClasses, generator: s.generator }),
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
