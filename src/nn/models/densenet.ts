// DenseNet-BC (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017) in its CIFAR form:
// a 3×3 stem conv to 2k channels (stride 1, no max-pool), four dense blocks of bottleneck layers
// (BN-ReLU-1×1 conv to 4k, BN-ReLU-3×3 conv to k, concatenated onto the input), transitions with
// compression 0.5 (BN-ReLU-1×1 conv, 2×2 average pool), then BN-ReLU, global average pool and linear.
//  - 'densenet121': the real DenseNet-121 layout, growth rate k = 32, blocks 6-12-24-16:
//    6,956,298 parameters for 10 classes.
//  - 'densenet-cifar': the same blocks at growth rate 12 (the small CIFAR variant that several
//    unlearnable-example papers call "DenseNet-121"): 1,000,618 parameters for 10 classes.
import { F, Tensor, cat, scope } from '../../engine/index.js';
import { Module } from '../module.js';
import { BatchNorm2d, Conv2d, Linear, Sequential, type InitOptions } from '../layers.js';

class DenseLayer extends Module {
  constructor(inPlanes: number, growth: number, o: InitOptions) {
    super();
    const g = { generator: o.generator, bias: false };
    this.registerModule('bn1', new BatchNorm2d(inPlanes));
    this.registerModule('conv1', new Conv2d(inPlanes, 4 * growth, 1, g));
    this.registerModule('bn2', new BatchNorm2d(4 * growth));
    this.registerModule('conv2', new Conv2d(4 * growth, growth, 3, { padding: 1, ...g }));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.child('conv1').forward(this.child('bn1').forward(x).relu());
      const y = this.child('conv2').forward(this.child('bn2').forward(h).relu());
      return cat([y, x], 1);
    });
  }
}

class Transition extends Module {
  constructor(inPlanes: number, outPlanes: number, o: InitOptions) {
    super();
    this.registerModule('bn', new BatchNorm2d(inPlanes));
    this.registerModule('conv', new Conv2d(inPlanes, outPlanes, 1, { bias: false, generator: o.generator }));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.child('conv').forward(this.child('bn').forward(x).relu());
      // On small maps (e.g. 3×3 from a 28×28 input) floor pooling still halves; a 1×1 map is kept.
      return h.shape[2]! >= 2 ? F.avgPool2d(h, 2) : h;
    });
  }
}

export interface DenseNetOptions extends InitOptions {
  inChannels?: number;
  numClasses?: number;
  growthRate?: number;
  blocks?: [number, number, number, number];
  /** Compression of the transitions (0.5 in DenseNet-BC). */
  reduction?: number;
}

export class DenseNet extends Module {
  constructor(o: DenseNetOptions = {}) {
    super();
    const k = o.growthRate ?? 32;
    const blocks = o.blocks ?? [6, 12, 24, 16];
    const reduction = o.reduction ?? 0.5;
    const g = { generator: o.generator };
    let planes = 2 * k;
    this.registerModule('conv1', new Conv2d(o.inChannels ?? 3, planes, 3, { padding: 1, bias: false, ...g }));
    for (let b = 0; b < 4; b++) {
      const layers: Module[] = [];
      for (let i = 0; i < blocks[b]!; i++) {
        layers.push(new DenseLayer(planes, k, g));
        planes += k;
      }
      this.registerModule(`dense${b + 1}`, new Sequential(...layers));
      if (b < 3) {
        const out = Math.floor(planes * reduction);
        this.registerModule(`trans${b + 1}`, new Transition(planes, out, g));
        planes = out;
      }
    }
    this.registerModule('bn', new BatchNorm2d(planes));
    this.registerModule('linear', new Linear(planes, o.numClasses ?? 10, g));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      let h = this.child('conv1').forward(x);
      for (let b = 1; b <= 4; b++) {
        h = this.child(`dense${b}`).forward(h);
        if (b < 4) h = this.child(`trans${b}`).forward(h);
      }
      h = this.child('bn').forward(h).relu();
      return this.child('linear').forward(F.adaptiveAvgPool2d(h, 1).flatten(1));
    });
  }
}

export const densenet121 = (o: DenseNetOptions = {}): DenseNet => new DenseNet({ ...o, growthRate: 32, blocks: [6, 12, 24, 16] });
export const densenetCifar = (o: DenseNetOptions = {}): DenseNet => new DenseNet({ ...o, growthRate: 12, blocks: [6, 12, 24, 16] });
