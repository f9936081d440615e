// ResNet-18 in its CIFAR variant (He et al. 2016; the form used by the GUE authors and most UE papers):
// 3×3 stem with stride 1 and no max-pool, BasicBlocks [2,2,2,2] at widths 64/128/256/512, strides 1/2/2/2,
// 1×1 conv + BN projection shortcuts, global average pool, linear. Kaiming-normal (fan_out) convs.
import { F, Tensor, scope, noGrad } from '../../engine/index.js';
import { Module } from '../module.js';
import { BatchNorm2d, Conv2d, Linear, Sequential, type InitOptions } from '../layers.js';
import * as init from '../init.js';

export interface ResNetOptions extends InitOptions {
  numClasses?: number;
  inChannels?: number;
  /** Width of the first stage (64 in ResNet-18). */
  width?: number;
}

export class BasicBlock extends Module {
  private readonly hasShortcut: boolean;
  constructor(inPlanes: number, planes: number, stride: number, o: InitOptions) {
    super();
    this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, generator: o.generator }));
    this.registerModule('bn1', new BatchNorm2d(planes));
    this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride: 1, padding: 1, bias: false, generator: o.generator }));
    this.registerModule('bn2', new BatchNorm2d(planes));
    this.hasShortcut = stride !== 1 || inPlanes !== planes;
    if (this.hasShortcut) {
      this.registerModule('shortcut', new Sequential(new Conv2d(inPlanes, planes, 1, { stride, bias: false, generator: o.generator }), new BatchNorm2d(planes)));
    }
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const out = this.child('bn1').forward(this.child('conv1').forward(x)).relu();
      const main = this.child('bn2').forward(this.child('conv2').forward(out));
      const sc = this.hasShortcut ? this.child('shortcut').forward(x) : x;
      return main.add(sc).relu();
    });
  }
}

export class ResNet extends Module {
  readonly numClasses: number;
  constructor(blocks: [number, number, number, number], o: ResNetOptions = {}) {
    super();
    const k = o.numClasses ?? 10;
    const w = o.width ?? 64;
    this.numClasses = k;
    this.registerModule('conv1', new Conv2d(o.inChannels ?? 3, w, 3, { padding: 1, bias: false, generator: o.generator }));
    this.registerModule('bn1', new BatchNorm2d(w));
    let inPlanes = w;
    const widths = [w, 2 * w, 4 * w, 8 * w];
    for (let s = 0; s < 4; s++) {
      const layers: Module[] = [];
      for (let b = 0; b < blocks[s]!; b++) {
        layers.push(new BasicBlock(inPlanes, widths[s]!, b === 0 && s > 0 ? 2 : 1, o));
        inPlanes = widths[s]!;
      }
      this.registerModule(`layer${s + 1}`, new Sequential(...layers));
    }
    this.registerModule('linear', new Linear(8 * w, k, { generator: o.generator }));
    // The authors' init: Kaiming-normal fan_out for convs, BN (1, 0), linear bias 0.
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' }, o.generator);
        if (m instanceof Linear && m.bias) init.zeros_(m.bias);
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

export const resnet18 = (o: ResNetOptions = {}): ResNet => new ResNet([2, 2, 2, 2], o);
