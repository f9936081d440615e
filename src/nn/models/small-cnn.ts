// CPU-sized victims and surrogates.
//  - SmallCNN: two [conv3×3-BN-ReLU ×2, max-pool] stages at widths w and 2w, then Linear(·→128)-ReLU-Linear(→K).
//    With w = 32 it reaches about 92 % on Fashion-MNIST in a few epochs.
//  - SmallResNet: conv3×3(C→w)-BN-ReLU, two residual blocks at w, one downsampling block to 2w, global
//    average pool, linear. This is the net of the engine benchmark's W1 and W3.
import { F, Tensor, scope } from '../../engine/index.js';
import { Module } from '../module.js';
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential, type InitOptions } from '../layers.js';
import { BasicBlock } from './resnet.js';

export interface SmallCNNOptions extends InitOptions {
  inChannels?: number;
  numClasses?: number;
  /** Input height and width (default 28). */
  imageSize?: number;
  width?: number;
}

export class SmallCNN extends Module {
  constructor(o: SmallCNNOptions = {}) {
    super();
    const c = o.inChannels ?? 1;
    const w = o.width ?? 32;
    const size = o.imageSize ?? 28;
    const g = { generator: o.generator };
    const cbr = (i: number, oc: number): Module[] => [new Conv2d(i, oc, 3, { padding: 1, bias: false, ...g }), new BatchNorm2d(oc), new ReLU()];
    this.registerModule('features', new Sequential(...cbr(c, w), ...cbr(w, w), new MaxPool2d(2), ...cbr(w, 2 * w), ...cbr(2 * w, 2 * w), new MaxPool2d(2)));
    const s = Math.floor(Math.floor(size / 2) / 2);
    this.registerModule('fc1', new Linear(2 * w * s * s, 128, g));
    this.registerModule('fc2', new Linear(128, o.numClasses ?? 10, g));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.child('features').forward(x).flatten(1);
      return this.child('fc2').forward(this.child('fc1').forward(h).relu());
    });
  }
}

export interface SmallResNetOptions extends InitOptions {
  inChannels?: number;
  numClasses?: number;
  width?: number;
}

export class SmallResNet extends Module {
  constructor(o: SmallResNetOptions = {}) {
    super();
    const w = o.width ?? 32;
    const g = { generator: o.generator };
    this.registerModule('stem', new Sequential(new Conv2d(o.inChannels ?? 3, w, 3, { padding: 1, bias: false, ...g }), new BatchNorm2d(w), new ReLU()));
    this.registerModule('blocks', new Sequential(new BasicBlock(w, w, 1, g), new BasicBlock(w, w, 1, g), new BasicBlock(w, 2 * w, 2, g)));
    this.registerModule('fc', new Linear(2 * w, o.numClasses ?? 10, g));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.child('blocks').forward(this.child('stem').forward(x));
      return this.child('fc').forward(F.adaptiveAvgPool2d(h, 1).flatten(1));
    });
  }
}
