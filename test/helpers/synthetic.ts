// A small seeded synthetic image task for end-to-end tests: `classes` classes of size×size images, each a
// faint class template (±amplitude) under Gaussian noise (σ) around 0.5. Learnable in seconds on a CPU.
import { Generator, Tensor, noGrad, rand, randn, randint, scope } from '../../src/engine/index.js';
import type { ImageDataset } from '../../src/data/index.js';

export interface SyntheticOptions {
  classes?: number;
  channels?: number;
  size?: number;
  amplitude?: number;
  sigma?: number;
}

/** Class templates (±1), kept alive; dispose when done. */
export function syntheticTemplates(seed: number, o: SyntheticOptions = {}): Tensor {
  const k = o.classes ?? 4;
  const c = o.channels ?? 1;
  const s = o.size ?? 8;
  return noGrad(() => randn([k, c, s, s], { generator: new Generator(seed) }).sign().keep());
}

export function syntheticDataset(n: number, seed: number, templates: Tensor, o: SyntheticOptions = {}): ImageDataset {
  const [k, c, s] = [templates.shape[0]!, templates.shape[1]!, templates.shape[2]!];
  const g = new Generator(seed);
  return noGrad(() =>
    scope(() => {
      const y = randint(0, k, [n], { generator: g });
      const x = templates.indexSelect(0, y).mul(o.amplitude ?? 0.12).add(randn([n, c, s, s], { generator: g }).mul(o.sigma ?? 0.25)).add(0.5).clamp(0, 1).mul(255).round().to('uint8');
      return { images: new Uint8Array(x.toTypedArray() as Uint8Array), labels: Uint8Array.from(y.toArray() as number[]), shape: [c, s, s] as [number, number, number], numClasses: k, source: 'synthetic' };
    }),
  );
}

/** n uniformly random 1×8×8 uint8 images with random labels in [0, 10), from a seeded generator (no structure to learn). */
export function randomImageDataset(n: number, seed: number): ImageDataset {
  const g = new Generator(seed);
  const images = new Uint8Array(rand([n * 64], { generator: g }).mul(255).floor().to('uint8').toTypedArray() as Uint8Array);
  const labels = Uint8Array.from(randint(0, 10, [n], { generator: g }).toArray() as number[]);
  return { images, labels, shape: [1, 8, 8], numClasses: 10, source: 'synthetic' };
}
