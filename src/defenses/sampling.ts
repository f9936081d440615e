// Seeded scalar draws for the training-loop defenses: uniforms, normals and Beta(α, α), all from an explicit
// libtorch Generator so a victim run is reproducible. Beta via two Gamma draws (Marsaglia & Tsang, "A Simple
// Method for Generating Gamma Variables", ACM TOMS 2000; shape < 1 boosted by U^(1/α)).
import { Generator, rand, randn } from '../engine/index.js';

export function uniforms(n: number, g: Generator): number[] {
  const t = rand([n], { generator: g, dtype: 'float64' });
  const out = t.toArray() as number[];
  t.dispose();
  return out;
}

function normal(g: Generator): number {
  const t = randn([1], { generator: g, dtype: 'float64' });
  const v = t.item();
  t.dispose();
  return v;
}

export function gamma(shape: number, g: Generator): number {
  if (shape < 1) return gamma(shape + 1, g) * Math.pow(uniforms(1, g)[0]!, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = normal(g);
    const v = Math.pow(1 + c * z, 3);
    if (v <= 0) continue;
    const u = uniforms(1, g)[0]!;
    if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** λ ~ Beta(α, α); α = 1 is the uniform distribution on [0, 1]. */
export function betaSymmetric(alpha: number, g: Generator): number {
  if (alpha === 1) return uniforms(1, g)[0]!;
  const a = gamma(alpha, g);
  const b = gamma(alpha, g);
  return a + b > 0 ? a / (a + b) : 0.5;
}
