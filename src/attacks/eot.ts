// Differentiable victim augmentations for expectation over transformation (EOT; Athalye et al., "Synthesizing
// Robust Adversarial Examples", ICML 2018), as used by REM (Fu et al., ICLR 2022) to make noise survive the
// victim's random crop + flip.
// augment.ts applies the victim's augmentations without autograd. Both are linear maps that only move pixels
// (crop with zero padding, flip), so we run augment.ts once on a map of pixel indices and then apply the sampled
// map to any batch with `gather`, which autograd differentiates. The random draws (crop offsets, flips) are
// exactly those augment.ts makes for a victim with the same generator.
import { Generator, Tensor, arange, cat, noGrad, scope, zeros } from '../engine/index.js';
import { augmentBatch, type AugmentOptions } from '../data/augment.js';

/**
 * Samples one augmentation per sample for a batch of shape [n, c, h, w]. Returns an int64 index map
 * [n, c, h·w] into each image's flattened pixels shifted by one (0 reads the zero padding). The caller owns it.
 */
export function sampleAugmentation(shape: readonly number[], o: AugmentOptions, gen: Generator, device = 'cpu'): Tensor {
  const [n, c, h, w] = shape as [number, number, number, number];
  return noGrad(() =>
    scope(() => {
      const ids = arange(1, h * w + 1, 1, { dtype: 'float32' }).reshape([1, 1, h, w]).expand([n, 1, h, w]).contiguous();
      const moved = augmentBatch(ids, o, gen);
      const index = moved.round().to('int64').reshape([n, 1, h * w]).expand([n, c, h * w]).contiguous();
      return device === 'cpu' ? index : index.to({ device });
    }),
  );
}

/** Applies a map from `sampleAugmentation` to x [n, c, h, w]; differentiable in x. */
export function applyAugmentation(x: Tensor, index: Tensor): Tensor {
  return scope(() => {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const flat = cat([zeros([n, c, 1], { device: x.device }), x.reshape([n, c, h * w])], 2);
    return flat.gather(2, index).reshape([n, c, h, w]);
  });
}

/** True when the options describe the identity (no crop, no flip). */
export function isIdentityAugmentation(o: AugmentOptions): boolean {
  return o.cropPadding <= 0 && !o.flip;
}
