// VGG with batch normalization in its CIFAR variant (Simonyan & Zisserman, "Very Deep Convolutional Networks
// for Large-Scale Image Recognition", ICLR 2015; the CIFAR form with BN used by most unlearnable-example
// papers): 3×3 conv (bias) – BN – ReLU stacks separated by 2×2 max-pools, then global pooling and one linear
// layer (512 → K). VGG-16: 14,728,266 parameters for 10 classes.
// On inputs smaller than 32×32 (e.g. 28×28) a max-pool is skipped once the feature map is 1×1, so the same
// network runs on Fashion-MNIST.
// 'vgg-small' is the same design at 1/4 width and 8 conv layers: a CPU-sized victim.
import { F, Tensor, scope } from '../../engine/index.js';
import { Module } from '../module.js';
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential, type InitOptions } from '../layers.js';

export type VggConfig = (number | 'M')[];

export const VGG_CONFIGS: Readonly<Record<string, VggConfig>> = Object.freeze({
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  'vgg-small': [16, 16, 'M', 32, 32, 'M', 64, 64, 'M', 128, 128, 'M'],
});

export interface VggOptions extends InitOptions {
  inChannels?: number;
  numClasses?: number;
  /** Input height/width (default 32); decides which max-pools apply. */
  imageSize?: number;
}

export class VGG extends Module {
  constructor(cfg: VggConfig, o: VggOptions = {}) {
    super();
    const g = { generator: o.generator };
    const layers: Module[] = [];
    let c = o.inChannels ?? 3;
    let size = o.imageSize ?? 32;
    for (const v of cfg) {
      if (v === 'M') {
        if (size >= 2) {
          layers.push(new MaxPool2d(2));
          size = Math.floor(size / 2);
        }
      } else {
        layers.push(new Conv2d(c, v, 3, { padding: 1, ...g }), new BatchNorm2d(v), new ReLU());
        c = v;
      }
    }
    this.registerModule('features', new Sequential(...layers));
    this.registerModule('classifier', new Linear(c, o.numClasses ?? 10, g));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.child('classifier').forward(F.adaptiveAvgPool2d(this.child('features').forward(x), 1).flatten(1)));
  }
}

export const vgg16 = (o: VggOptions = {}): VGG => new VGG(VGG_CONFIGS.vgg16!, o);
export const vggSmall = (o: VggOptions = {}): VGG => new VGG(VGG_CONFIGS['vgg-small']!, o);
