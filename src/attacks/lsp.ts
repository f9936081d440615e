// Linearly separable synthetic perturbations (LSP), Yu, Zhang, Chen, Yin, Liu, "Availability Attacks Create
// Shortcuts", KDD 2022. Model-free: synthetic, linearly separable data are drawn once per training image
// and painted as a grid of uniform patches.
//  - Features: one value per patch and channel, F = ⌈H/p⌉·⌈W/p⌉·C (patch size p = 8 in the paper).
//  - Classes: as scikit-learn's make_classification(n_informative = F, class_sep = 10, one cluster per
//    class), which the authors use: class k has a centroid at a distinct random vertex of {−10, +10}^F
//    and a random linear map A_k (entries U[−1, 1]); an image of class k gets v = z·A_k + centroid_k with
//    z ~ N(0, I_F). The classes are therefore (far) linearly separable.
//  - Image: each feature fills its p×p patch (cropped to H×W), then the image's noise is scaled to the
//    budget: L2 norm ε (the paper: ε = √d · 6/255, ≈ 1.30 on CIFAR-10), or max |δ| = ε under L∞.
import { Generator, Tensor, keep, noGrad, rand, randint, randn, scope, tensor, zeros } from '../engine/index.js';
import { OptionError, type OptionSpec, type OptionValues } from '../util/options.js';
import type { Attack, AttackContext, PreparedAttack } from './types.js';
import { storedPerturbation } from './poison.js';

const LSP_OPTIONS: Record<string, OptionSpec> = {
  patchSize: { type: 'int', description: 'side of the uniform patches in pixels (paper 8)', default: 8, min: 1 },
  classSep: { type: 'number', description: 'class separation of the synthetic features (make_classification class_sep; paper 10)', default: 10, min: 0 },
};

/** Scales each row of v [n, ...] to L2 norm eps ('l2') or max |·| = eps ('linf'). */
export function scaleToBudget(v: Tensor, eps: number, norm: 'linf' | 'l2'): Tensor {
  return scope(() => {
    const n = v.shape[0]!;
    const flat = v.reshape([n, -1]);
    const size = norm === 'l2' ? flat.norm([1], true) : flat.abs().amax([1], true);
    return flat.div(size.clamp(1e-12, null)).mul(eps).reshape(v.shape);
  });
}

function prepareLsp(ctx: AttackContext, o: OptionValues): PreparedAttack {
  const [c, h, w] = ctx.train.shape;
  const n = ctx.train.labels.length;
  const k = ctx.train.numClasses;
  const p = o.patchSize as number;
  const gh = Math.ceil(h / p);
  const gw = Math.ceil(w / p);
  const f = gh * gw * c;
  if (f < 52 && 2 ** f < k) throw new OptionError(`option 'patchSize' of attack 'lsp': ${f} synthetic features give at most ${2 ** f} distinct class centroids, fewer than the ${k} classes; use a smaller patchSize`);
  const g = new Generator(ctx.seed);
  // Distinct random vertices of {−1, +1}^F, one per class.
  const seen = new Set<string>();
  const vertices: number[][] = [];
  while (vertices.length < k) {
    const bits = noGrad(() => scope(() => randint(0, 2, [f], { generator: g }).toArray() as number[]));
    const key = bits.join('');
    if (seen.has(key)) continue;
    seen.add(key);
    vertices.push(bits.map((b) => (b === 1 ? 1 : -1)));
  }
  const sep = o.classSep as number;
  const table: Tensor = noGrad(() =>
    keep(
      scope(() => {
        const centroids = tensor(Float32Array.from(vertices.flat(), (v) => v * sep), { shape: [k, f] });
        const maps = rand([k, f, f], { generator: g }).mul(2).sub(1);
        const y = tensor(BigInt64Array.from(ctx.train.labels, (v) => BigInt(v)), { shape: [n], dtype: 'int64' });
        const z = randn([n, f], { generator: g });
        let mixed = zeros([n, f]);
        for (let j = 0; j < k; j++) {
          const next = scope(() => mixed.add(z.matmul(maps.select(0, j)).mul(y.eq(j).to('float32').reshape([n, 1]))));
          mixed.dispose();
          mixed = next;
        }
        const feats = mixed.add(centroids.indexSelect(0, y));
        // Features → patches: [n, C, gh, gw] → each value repeated over p×p, cropped to H×W.
        const grid = feats.reshape([n, c, gh, 1, gw, 1]).expand([n, c, gh, p, gw, p]).reshape([n, c, gh * p, gw * p]);
        const img = grid.narrow(2, 0, h).narrow(3, 0, w);
        const d = scaleToBudget(img.contiguous(), ctx.eps, ctx.norm);
        return d.onDevice(ctx.device);
      }),
    ),
  );
  return {
    perturb: storedPerturbation(table),
    meta: { features: f, grid: [gh, gw] },
    dispose: () => table.dispose(),
  };
}

export const lsp: Attack = {
  name: 'lsp',
  title: 'linearly separable synthetic patches: per-image patch noise drawn around class centroids, scaled to the budget',
  cite: 'Yu, Zhang, Chen, Yin, Liu, "Availability Attacks Create Shortcuts", KDD 2022',
  norms: ['l2', 'linf'],
  options: LSP_OPTIONS,
  prepare: prepareLsp,
};
