// Victim-side augmentations on float NCHW batches, seeded by an explicit Generator:
// random crop with zero padding (torchvision RandomCrop(size, padding)) and horizontal flip.
import { Generator, Tensor, F, noGrad, randint, rand, cat, where, scope } from '../engine/index.js';

/** Per-sample random crop of the zero-padded batch back to the original size. */
export function randomCrop(x: Tensor, padding: number, gen: Generator): Tensor {
  if (padding <= 0) return x.clone();
  return noGrad(() =>
    scope(() => {
      const [n, , h, w] = x.shape as [number, number, number, number];
      const padded = F.pad(x, [padding, padding, padding, padding], 'constant', 0);
      const offs = randint(0, 2 * padding + 1, [n, 2], { generator: gen }).toArray();
      const parts: Tensor[] = [];
      for (let i = 0; i < n; i++) {
        const dy = offs[2 * i]!;
        const dx = offs[2 * i + 1]!;
        parts.push(padded.narrow(0, i, 1).narrow(2, dy, h).narrow(3, dx, w));
      }
      return cat(parts, 0);
    }),
  );
}

/** Flips each sample left-right with probability p. */
export function randomHorizontalFlip(x: Tensor, gen: Generator, p = 0.5): Tensor {
  return noGrad(() =>
    scope(() => {
      const n = x.shape[0]!;
      const mask = rand([n], { generator: gen }).lt(p).reshape([n, 1, 1, 1]).to({ device: x.device });
      return where(mask, x.flip(3), x);
    }),
  );
}

export interface AugmentOptions {
  cropPadding: number;
  flip: boolean;
}

/** The standard victim augmentation: RandomCrop(padding) then RandomHorizontalFlip. */
export function augmentBatch(x: Tensor, o: AugmentOptions, gen: Generator): Tensor {
  return scope(() => {
    let out = o.cropPadding > 0 ? randomCrop(x, o.cropPadding, gen) : x;
    if (o.flip) out = randomHorizontalFlip(out, gen);
    return out === x ? x.clone() : out;
  });
}
