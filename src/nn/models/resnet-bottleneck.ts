// ResNet-50 in its CIFAR variant (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016):
// 3×3 stem (stride 1, no max-pool), Bottleneck blocks [3, 4, 6, 3] (1×1 reduce, 3×3 with the stride, 1×1
// expand ×4), 1×1 conv + BN projection shortcuts, global average pool, linear (2048 → K).
// 23,520,842 parameters for 10 classes (the count of the common CIFAR implementation).
import { F, Tensor, scope, noGrad } from '../../engine/index.js';
import { Module } from '../module.js';
import { BatchNorm2d, Conv2d, Linear, Sequential, type InitOptions } from '../layers.js';
import * as init from '../init.js';

export class Bottleneck extends Module {
  static readonly expansion = 4;
  private readonly hasShortcut: boolean;
  constructor(inPlanes: number, planes: number, stride: number, o: InitOptions) {
    super();
    const g = { generator: o.generator, bias: false };
    const out = planes * Bottleneck.expansion;
    this.registerModule('conv1', new Conv2d(inPlanes, planes, 1, g));
    this.registerModule('bn1', new BatchNorm2d(planes));
    this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride, padding: 1, ...g }));
    this.registerModule('bn2', new BatchNorm2d(planes));
    this.registerModule('conv3', new Conv2d(planes, out, 1, g));
    this.registerModule('bn3', new BatchNorm2d(out));
    this.hasShortcut = stride !== 1 || inPlanes !== out;
    if (this.hasShortcut) this.registerModule('shortcut', new Sequential(new Conv2d(inPlanes, out, 1, { stride, ...g }), new BatchNorm2d(out)));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      let h = this.child('bn1').forward(this.child('conv1').forward(x)).relu();
      h = this.child('bn2').forward(this.child('conv2').forward(h)).relu();
      h = this.child('bn3').forward(this.child('conv3').forward(h));
      return h.add(this.hasShortcut ? this.child('shortcut').forward(x) : x).relu();
    });
  }
}

export interface BottleneckResNetOptions extends InitOptions {
  numClasses?: number;
  inChannels?: number;
}

export class BottleneckResNet extends Module {
  constructor(blocks: [number, number, number, number], o: BottleneckResNetOptions = {}) {
    super();
    const g = { generator: o.generator };
    this.registerModule('conv1', new Conv2d(o.inChannels ?? 3, 64, 3, { padding: 1, bias: false, ...g }));
    this.registerModule('bn1', new BatchNorm2d(64));
    let inPlanes = 64;
    const planes = [64, 128, 256, 512];
    for (let s = 0; s < 4; s++) {
      const layers: Module[] = [];
      for (let b = 0; b < blocks[s]!; b++) {
        layers.push(new Bottleneck(inPlanes, planes[s]!, b === 0 && s > 0 ? 2 : 1, g));
        inPlanes = planes[s]! * Bottleneck.expansion;
      }
      this.registerModule(`layer${s + 1}`, new Sequential(...layers));
    }
    this.registerModule('linear', new Linear(inPlanes, o.numClasses ?? 10, g));
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' }, o.generator);
      }
    });
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      let out = this.child('bn1').forward(this.child('conv1').forward(x)).relu();
      for (let s = 1; s <= 4; s++) out = this.child(`layer${s}`).forward(out);
      return this.child('linear').forward(F.adaptiveAvgPool2d(out, 1).flatten(1));
    });
  }
}

export const resnet50 = (o: BottleneckResNetOptions = {}): BottleneckResNet => new BottleneckResNet([3, 4, 6, 3], o);
