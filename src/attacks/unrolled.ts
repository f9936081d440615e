// A VGG-style classifier that can also run with substituted parameters: f_{θ'}(x) where θ' = θ − α·∇θ L is a
// differentiable function of something else (DeepConfuse's "pseudo-update", Feng et al., NeurIPS 2019).
// The network is an ordinary nn Sequential (so it is initialised, trained and freed like any model);
// `forwardWith` walks its layers and uses the substitute tensor for each parameter. BatchNorm runs on batch
// statistics there (as a classifier in train mode) and updates no running statistics.
import { F, Generator, Tensor, scope } from '../engine/index.js';
import { Module } from '../nn/module.js';
import { Sequential } from '../nn/container.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU } from '../nn/layers.js';

/** Layer plans: numbers are 3×3 conv-BN-ReLU widths, 'M' a 2×2 max-pool (skipped once the map is 1 pixel wide). */
export const VGG_PLANS: Readonly<Record<string, readonly (number | 'M')[]>> = Object.freeze({
  // VGG-11 (Simonyan & Zisserman 2015, with BN), the classifier of DeepConfuse's CIFAR-10 code.
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  small: [32, 'M', 64, 'M'],
  tiny: [8, 'M', 16, 'M'],
});

export function buildVgg(plan: string, o: { inChannels: number; imageSize: number; numClasses: number; generator: Generator }): Sequential {
  const cfg = VGG_PLANS[plan];
  if (!cfg) throw new Error(`unknown classifier '${plan}'; available: ${Object.keys(VGG_PLANS).join(', ')}`);
  const layers: Module[] = [];
  let ch = o.inChannels;
  let size = o.imageSize;
  for (const v of cfg) {
    if (v === 'M') {
      if (size >= 2) {
        layers.push(new MaxPool2d(2));
        size = Math.floor(size / 2);
      }
    } else {
      layers.push(new Conv2d(ch, v, 3, { padding: 1, generator: o.generator }), new BatchNorm2d(v), new ReLU());
      ch = v;
    }
  }
  layers.push(new Flatten(), new Linear(ch * size * size, o.numClasses, { generator: o.generator }));
  return new Sequential(...layers);
}

/** f(x) with every parameter p of `net` replaced by `subst.get(p)` (p itself when absent). */
export function forwardWith(net: Sequential, subst: ReadonlyMap<Tensor, Tensor>, x: Tensor): Tensor {
  const s = (p: Tensor | null): Tensor | null => (p === null ? null : subst.get(p) ?? p);
  return scope(() => {
    let h = x;
    for (const m of net.children()) {
      if (m instanceof Conv2d) h = F.conv2d(h, s(m.weight)!, s(m.bias), { stride: m.stride, padding: m.padding, dilation: m.dilation, groups: m.groups });
      else if (m instanceof BatchNorm2d) h = F.batchNorm(h, { weight: s(m.weight), bias: s(m.bias), training: true, eps: m.eps });
      else if (m instanceof Linear) h = F.linear(h, s(m.weight)!, s(m.bias));
      else if (m instanceof ReLU || m instanceof MaxPool2d || m instanceof Flatten) h = m.forward(h);
      else throw new Error(`forwardWith: unsupported layer ${m.typeName}`);
    }
    return h;
  });
}
