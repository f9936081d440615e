// More CPU-sized victims, so CPU experiments can vary the architecture (transfer, Table 2 analogue):
//  - MLP: flatten → 512 → 256 → K with ReLU (no convolution at all: a victim with no spatial prior).
//  - LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document Recognition", 1998) with ReLU and
//    max-pooling: 5×5 conv 6 → pool → 5×5 conv 16 → pool → 120 → 84 → K (padding 2 on the first conv for
//    28×28 inputs, as in the original's 32×32 framing).
//  - MobileNet-small: a MobileNet-v1-style stack (Howard et al., 2017) of depthwise-separable convolutions
//    (3×3 depthwise + BN-ReLU, 1×1 pointwise + BN-ReLU) at widths 32-64-128-256 (strides 1-2-2), global pool, linear.
import { F, Tensor, scope } from '../../engine/index.js';
import { Module } from '../module.js';
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential, type InitOptions } from '../layers.js';

export interface SmallVictimOptions extends InitOptions {
  inChannels?: number;
  numClasses?: number;
  imageSize?: number;
}

export class MLP extends Module {
  constructor(o: SmallVictimOptions = {}) {
    super();
    const s = o.imageSize ?? 28;
    const g = { generator: o.generator };
    this.registerModule('fc1', new Linear((o.inChannels ?? 1) * s * s, 512, g));
    this.registerModule('fc2', new Linear(512, 256, g));
    this.registerModule('fc3', new Linear(256, o.numClasses ?? 10, g));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.child('fc2').forward(this.child('fc1').forward(x.flatten(1)).relu()).relu();
      return this.child('fc3').forward(h);
    });
  }
}

export class LeNet extends Module {
  constructor(o: SmallVictimOptions = {}) {
    super();
    const s = o.imageSize ?? 28;
    const f = Math.floor((Math.floor(s / 2) - 4) / 2);
    if (f < 1) throw new Error(`LeNet needs images of at least 12×12, got ${s}×${s}`);
    const g = { generator: o.generator };
    this.registerModule('features', new Sequential(
      new Conv2d(o.inChannels ?? 1, 6, 5, { padding: 2, ...g }), new ReLU(), new MaxPool2d(2),
      new Conv2d(6, 16, 5, g), new ReLU(), new MaxPool2d(2),
    ));
    this.registerModule('fc1', new Linear(16 * f * f, 120, g));
    this.registerModule('fc2', new Linear(120, 84, g));
    this.registerModule('fc3', new Linear(84, o.numClasses ?? 10, g));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.child('features').forward(x).flatten(1);
      return this.child('fc3').forward(this.child('fc2').forward(this.child('fc1').forward(h).relu()).relu());
    });
  }
}

export class MobileNetSmall extends Module {
  constructor(o: SmallVictimOptions = {}) {
    super();
    const g = { generator: o.generator, bias: false };
    const layers: Module[] = [new Conv2d(o.inChannels ?? 1, 32, 3, { padding: 1, ...g }), new BatchNorm2d(32), new ReLU()];
    // [out channels, stride] of each depthwise-separable block.
    const plan: [number, number][] = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1]];
    let c = 32;
    for (const [out, stride] of plan) {
      layers.push(
        new Conv2d(c, c, 3, { stride, padding: 1, groups: c, ...g }), new BatchNorm2d(c), new ReLU(),
        new Conv2d(c, out, 1, g), new BatchNorm2d(out), new ReLU(),
      );
      c = out;
    }
    this.registerModule('features', new Sequential(...layers));
    this.registerModule('linear', new Linear(c, o.numClasses ?? 10, { generator: o.generator }));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.child('linear').forward(F.adaptiveAvgPool2d(this.child('features').forward(x), 1).flatten(1)));
  }
}
