// A tiny randomly initialised GUE generator (U-Net width 4) saved in gue's generator format, for fast tests
// of the protection path. Its BatchNorm running statistics are perturbed so that eval mode is not the identity,
// and its last convolution is scaled up so that the perturbation uses the whole budget.
import { join } from 'node:path';
import { Generator, noGrad, randn, scope } from '../../src/engine/index.js';
import { UNet } from '../../src/nn/models/index.js';
import { saveGenerator } from '../../src/game/train.js';

export function writeTinyGenerator(dir: string, o: { channels?: number; width?: number; eps255?: number; seed?: number; name?: string; gain?: number } = {}): string {
  const channels = o.channels ?? 3;
  const width = o.width ?? 4;
  const g = new Generator(o.seed ?? 7);
  const gen = new UNet({ channels, width, generator: g });
  try {
    noGrad(() =>
      scope(() => {
        for (const [k, t] of gen.stateDict()) {
          if (k.endsWith('running_mean')) t.copy_(randn(t.shape, { generator: g }).mul(0.1));
          // A large last-layer gain saturates tanh, so |δ| reaches ε and the bound is exercised.
          if (k === 'conv_last.0.weight') t.mul_(o.gain ?? 30);
        }
      }),
    );
    const base = join(dir, o.name ?? 'generator');
    saveGenerator(base, gen, {
      kind: 'gue-generator', eps: (o.eps255 ?? 8) / 255, channels, width, imageShape: [channels, 32, 32], numClasses: 10,
      dataset: 'test', steps: 0, options: {}, versions: {},
    });
    return base;
  } finally {
    gen.dispose();
  }
}
