// A template generator (an option of ours, `--gen-arch templates`; the paper's generator is the U-Net in unet.ts).
//
//   G(x) = tanh( Σ_k softmax(E(x))_k · P_k )
//
//  - P_1..P_K are K learned full-image patterns (a parameter [K, C, H, W], K = the number of classes by default).
//  - E is a small CNN encoder, [conv3×3-BN-ReLU, max-pool] at widths w and 2w, adaptive average pool to 4×4, linear
//    to K logits. It sees only x, never the label, so the generator applies to data it never saw, as the U-Net does.
//
// Why (docs/study.md, "A template generator"): perturbations that make data unlearnable are simple, linearly separable
// class signals (Yu et al., KDD 2022); the U-Net's δ is an image-like transform of x that a linear probe separates no
// better than the image itself. This head can only produce a per-image choice among K patterns, close to class-wise
// noise but without labels at apply time. Measured: on its own the game does not teach the encoder to route classes
// to patterns (it collapses onto one or two patterns); `--route-weight` (supervised routing, src/game/bome.ts) does.
//
// Other image sizes: the patterns are bilinearly resized to the input, and the encoder pools adaptively.
//
// `routing: 'label'` (`--gen-arch class-templates`): no encoder; image i gets pattern P_{y_i}, G(x, y) = tanh(P_y).
// The game then optimises K class-wise patterns (a class-conditional generator, as class-wise EM's δ). It needs each
// image's label wherever it is applied, so it protects labelled datasets (`gue poison`, experiments) and refuses
// unlabelled photos (`gue protect`, `gue serve`, ONNX export).
import { F, Tensor, scope, zeros } from '../../engine/index.js';
import { Module } from '../module.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential, type InitOptions } from '../layers.js';

/**
 * The patterns are stored as P/γ and used as γ·(stored), γ = 32. A pattern's gradient carries the factor ε of
 * δ = ε·G(x) (≈ 0.03 at 8/255), so with one SGD lr for the whole generator the patterns would not move while the
 * encoder learns; the gain gives them an effective step γ² larger, the same reparameterisation as a per-parameter lr.
 */
export const TEMPLATE_GAIN = 32;

export interface TemplateGeneratorOptions extends InitOptions {
  /** Image channels in and out. Default 3. */
  channels?: number;
  /** [H, W] of the patterns (the training images' size). */
  imageSize: [number, number];
  /** Number of patterns (default 10). */
  templates?: number;
  /** Encoder width w (default 16). */
  width?: number;
  /** 'router' (default): the encoder picks a mixture from x alone; 'label': pattern y for an image of label y. */
  routing?: TemplateRouting;
}

export type TemplateRouting = 'router' | 'label';

/** Thrown when a label-routed generator is applied without labels. */
export const LABEL_ROUTED_MESSAGE =
  "this generator is class-conditional (--gen-arch class-templates): it picks each image's pattern by its label, so it applies only to a labelled dataset (gue poison, gue experiment), not to unlabelled images";

export class TemplateGenerator extends Module {
  readonly channels: number;
  readonly width: number;
  readonly numTemplates: number;
  readonly imageSize: [number, number];
  readonly routing: TemplateRouting;

  constructor(o: TemplateGeneratorOptions) {
    super();
    const c = o.channels ?? 3;
    const w = o.width ?? 16;
    const k = o.templates ?? 10;
    const [h, wd] = o.imageSize;
    for (const [name, v] of [['channels', c], ['width', w], ['templates', k], ['image height', h], ['image width', wd]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`TemplateGenerator: ${name} must be a positive integer, got ${v}`);
    }
    if (k < 2) throw new Error(`TemplateGenerator: templates must be at least 2, got ${k}`);
    this.channels = c;
    this.width = w;
    this.numTemplates = k;
    this.imageSize = [h, wd];
    this.routing = o.routing ?? 'router';
    if (this.routing !== 'router' && this.routing !== 'label') throw new Error(`TemplateGenerator: routing must be 'router' or 'label', got ${String(this.routing)}`);
    const g = { generator: o.generator };
    if (this.routing === 'router') this.registerModule(
      'encoder',
      new Sequential(
        new Conv2d(c, w, 3, { padding: 1, bias: false, ...g }), new BatchNorm2d(w), new ReLU(), new MaxPool2d(2),
        new Conv2d(w, 2 * w, 3, { padding: 1, bias: false, ...g }), new BatchNorm2d(2 * w), new ReLU(), new MaxPool2d(2),
        new AdaptiveAvgPool2d(4),
      ),
    );
    if (this.routing === 'router') this.registerModule('head', new Linear(2 * w * 16, k, g));
    // The patterns start at zero (δ = 0 at step 0): whatever structure they have is learned in the game.
    this.registerParameter('templates', zeros([k, c, h, wd]));
  }

  /** The encoder's logits over the patterns, [N, K] (what `--route-weight` trains towards the labels). */
  routeLogits(x: Tensor): Tensor {
    if (this.routing === 'label') throw new Error('TemplateGenerator: a label-routed generator has no router');
    return scope(() => this.child('head').forward(this.child('encoder').forward(x).flatten(1)));
  }

  /** Softmax weights over the patterns, [N, K]. */
  assign(x: Tensor): Tensor {
    return scope(() => this.routeLogits(x).softmax(1));
  }

  /** G(x) in (−1, 1), same shape as x. `y` (int64 labels, [N]) is required with routing 'label' and ignored otherwise. */
  forward(x: Tensor, y?: Tensor): Tensor {
    const s = x.shape;
    if (s.length !== 4 || s[1] !== this.channels) {
      throw new Error(`TemplateGenerator: expected input [N, ${this.channels}, H, W], got [${s.join(', ')}]`);
    }
    if (this.routing === 'label') {
      if (y === undefined) throw new Error(LABEL_ROUTED_MESSAGE);
      if (y.shape.length !== 1 || y.shape[0] !== s[0]) throw new Error(`TemplateGenerator: expected ${s[0]} labels, got shape [${y.shape.join(', ')}]`);
    }
    return scope(() => {
      const [n, h, w] = [s[0]!, s[2]!, s[3]!];
      const [th, tw] = this.imageSize;
      const k = this.numTemplates;
      let pats = this.param('templates').mul(TEMPLATE_GAIN);
      if (h !== th || w !== tw) pats = F.interpolate(pats, { size: [h, w], mode: 'bilinear', alignCorners: false });
      if (this.routing === 'label') {
        const yy = y!.onDevice(pats.device);
        const lo = yy.min().item();
        const hi = yy.max().item();
        if (lo < 0 || hi >= k) throw new Error(`TemplateGenerator: labels must be in [0, ${k - 1}], got ${lo}..${hi}`);
        return pats.indexSelect(0, yy).tanh();
      }
      const mixed = this.assign(x).matmul(pats.reshape([k, this.channels * h * w]));
      return mixed.reshape([n, this.channels, h, w]).tanh();
    });
  }
}
