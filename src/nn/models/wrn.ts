// Wide Residual Networks (Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016), CIFAR form:
// WRN-d-k has (d − 4) / 6 pre-activation basic blocks per group (BN-ReLU-3×3 conv, BN-ReLU-[dropout]-3×3 conv),
// three groups at widths 16k, 32k, 64k with strides 1, 2, 2, a 3×3 stem to 16 channels, 1×1 conv shortcuts
// where the width changes, then BN-ReLU, global average pool and linear.
// WRN-28-10: 36,479,194 parameters for 10 classes.
import { F, Tensor, scope, noGrad } from '../../engine/index.js';
import { Module } from '../module.js';
import { BatchNorm2d, Conv2d, Dropout, Linear, Sequential, type InitOptions } from '../layers.js';
import * as init from '../init.js';

class WideBlock extends Module {
  private readonly equal: boolean;
  private readonly dropRate: number;
  constructor(inPlanes: number, outPlanes: number, stride: number, dropRate: number, o: InitOptions) {
    super();
    const g = { generator: o.generator, bias: false };
    this.equal = inPlanes === outPlanes && stride === 1;
    this.dropRate = dropRate;
    this.registerModule('bn1', new BatchNorm2d(inPlanes));
    this.registerModule('conv1', new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, ...g }));
    this.registerModule('bn2', new BatchNorm2d(outPlanes));
    if (dropRate > 0) this.registerModule('drop', new Dropout(dropRate));
    this.registerModule('conv2', new Conv2d(outPlanes, outPlanes, 3, { padding: 1, ...g }));
    if (!this.equal) this.registerModule('shortcut', new Conv2d(inPlanes, outPlanes, 1, { stride, ...g }));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const a = this.child('bn1').forward(x).relu();
      let h = this.child('conv1').forward(a);
      h = this.child('bn2').forward(h).relu();
      if (this.dropRate > 0) h = this.child('drop').forward(h);
      h = this.child('conv2').forward(h);
      // Pre-activation: the projection shortcut takes the activated input.
      return h.add(this.equal ? x : this.child('shortcut').forward(a));
    });
  }
}

export interface WideResNetOptions extends InitOptions {
  depth?: number;
  widen?: number;
  dropRate?: number;
  inChannels?: number;
  numClasses?: number;
}

export class WideResNet extends Module {
  constructor(o: WideResNetOptions = {}) {
    super();
    const depth = o.depth ?? 28;
    const k = o.widen ?? 10;
    if ((depth - 4) % 6 !== 0) throw new Error(`WideResNet: depth must be 6n + 4, got ${depth}`);
    const n = (depth - 4) / 6;
    const widths = [16, 16 * k, 32 * k, 64 * k];
    const g = { generator: o.generator };
    this.registerModule('conv1', new Conv2d(o.inChannels ?? 3, widths[0]!, 3, { padding: 1, bias: false, ...g }));
    for (let s = 0; s < 3; s++) {
      const blocks: Module[] = [];
      for (let b = 0; b < n; b++) blocks.push(new WideBlock(b === 0 ? widths[s]! : widths[s + 1]!, widths[s + 1]!, b === 0 && s > 0 ? 2 : 1, o.dropRate ?? 0, g));
      this.registerModule(`block${s + 1}`, new Sequential(...blocks));
    }
    this.registerModule('bn', new BatchNorm2d(widths[3]!));
    this.registerModule('linear', new Linear(widths[3]!, o.numClasses ?? 10, g));
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' }, o.generator);
        if (m instanceof Linear && m.bias) init.zeros_(m.bias);
      }
    });
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      let h = this.child('conv1').forward(x);
      for (let s = 1; s <= 3; s++) h = this.child(`block${s}`).forward(h);
      h = this.child('bn').forward(h).relu();
      return this.child('linear').forward(F.adaptiveAvgPool2d(h, 1).flatten(1));
    });
  }
}

export const wrn28x10 = (o: WideResNetOptions = {}): WideResNet => new WideResNet({ ...o, depth: 28, widen: 10 });
