// The GUE generator: the authors' U-Net (reference notes §5), written from its description.
//  - double_conv(i, o) = [Conv3x3(i→o, bias) → BN → ReLU] × 2
//  - encoder widths w·[1, 2, 4, 8] (w = 64 in the paper; 16 is the CPU size), AvgPool2d(2) between levels
//  - decoder: bilinear ×2 upsampling (align_corners=true), concatenate the skip, double_conv
//  - head: Conv1x1(w → C) → BatchNorm2d(C) → tanh, so |G(x)| < 1 and δ = ε·G(x)
// Inputs whose size is not a multiple of 8 (28×28) are reflect-padded to the next multiple and cropped back.
// Submodule names follow the authors' state dict (dconv_down1.0.weight, ..., conv_last.1.running_var).
import { F, Tensor, cat, scope } from '../../engine/index.js';
import { Module } from '../module.js';
import { BatchNorm2d, Conv2d, ReLU, Sequential, type InitOptions } from '../layers.js';

export interface UNetOptions extends InitOptions {
  /** Image channels in and out (1 for grayscale, 3 for RGB). Default 3. */
  channels?: number;
  /** Width of the first level; the paper's U-Net has 64, CPU runs use 16. */
  width?: number;
}

function doubleConv(i: number, o: number, g: InitOptions): Sequential {
  return new Sequential(
    new Conv2d(i, o, 3, { padding: 1, generator: g.generator }),
    new BatchNorm2d(o),
    new ReLU(),
    new Conv2d(o, o, 3, { padding: 1, generator: g.generator }),
    new BatchNorm2d(o),
    new ReLU(),
  );
}

export class UNet extends Module {
  readonly channels: number;
  readonly width: number;

  constructor(o: UNetOptions = {}) {
    super();
    const c = o.channels ?? 3;
    const w = o.width ?? 64;
    if (!Number.isInteger(c) || c < 1) throw new Error(`UNet: channels must be a positive integer, got ${c}`);
    if (!Number.isInteger(w) || w < 1) throw new Error(`UNet: width must be a positive integer, got ${w}`);
    this.channels = c;
    this.width = w;
    this.registerModule('dconv_down1', doubleConv(c, w, o));
    this.registerModule('dconv_down2', doubleConv(w, 2 * w, o));
    this.registerModule('dconv_down3', doubleConv(2 * w, 4 * w, o));
    this.registerModule('dconv_down4', doubleConv(4 * w, 8 * w, o));
    this.registerModule('dconv_up3', doubleConv(8 * w + 4 * w, 4 * w, o));
    this.registerModule('dconv_up2', doubleConv(4 * w + 2 * w, 2 * w, o));
    this.registerModule('dconv_up1', doubleConv(2 * w + w, w, o));
    this.registerModule('conv_last', new Sequential(new Conv2d(w, c, 1, { generator: o.generator }), new BatchNorm2d(c)));
  }

  /** G(x) in (−1, 1), same shape as x. */
  forward(x: Tensor): Tensor {
    const s = x.shape;
    if (s.length !== 4 || s[1] !== this.channels) {
      throw new Error(`UNet: expected input [N, ${this.channels}, H, W], got [${s.join(', ')}]`);
    }
    return scope(() => {
      const [h, w] = [s[2]!, s[3]!];
      const ph = (8 - (h % 8)) % 8;
      const pw = (8 - (w % 8)) % 8;
      const top = Math.floor(ph / 2);
      const left = Math.floor(pw / 2);
      let inp = x;
      if (ph > 0 || pw > 0) inp = F.pad(x, [left, pw - left, top, ph - top], ph >= h || pw >= w ? 'replicate' : 'reflect');
      const up = (t: Tensor): Tensor => F.interpolate(t, { scaleFactor: 2, mode: 'bilinear', alignCorners: true });
      const c1 = this.child('dconv_down1').forward(inp);
      const c2 = this.child('dconv_down2').forward(F.avgPool2d(c1, 2));
      const c3 = this.child('dconv_down3').forward(F.avgPool2d(c2, 2));
      const b = this.child('dconv_down4').forward(F.avgPool2d(c3, 2));
      const u3 = this.child('dconv_up3').forward(cat([up(b), c3], 1));
      const u2 = this.child('dconv_up2').forward(cat([up(u3), c2], 1));
      const u1 = this.child('dconv_up1').forward(cat([up(u2), c1], 1));
      let out = this.child('conv_last').forward(u1).tanh();
      if (ph > 0 || pw > 0) out = out.narrow(2, top, h).narrow(3, left, w);
      return out;
    });
  }
}
