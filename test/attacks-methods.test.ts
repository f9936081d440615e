// Method-level checks of the baseline attacks and of the L2 budget in poisonDataset:
//  - L2: a δ exactly on the sphere leaves the ball after plain rounding (the quantization tolerance the
//    path must handle); the stored bytes of poisonDataset never do, for round and floor quantization;
//  - AR: each class's AR filter (coefficients with −1 at the bottom-right) annihilates that class's noise
//    and not the other classes' (the paper's "perfect filter");
//  - LSP: the noise alone is linearly separable (nearest class mean classifies it perfectly).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Generator, arange, memory, noGrad, randn, scope, setNumThreads, tensor } from '../src/engine/index.js';
import { ATTACKS, poisonDataset } from '../src/attacks/index.js';
import { resolveOptions } from '../src/util/options.js';
import { syntheticDataset, syntheticTemplates } from './helpers/synthetic.js';

setNumThreads(1);
const SIZE = { classes: 4, size: 8 };

test('poisonDataset L2: rounding would leave the ball; the stored bytes never do', () => {
  const templates = syntheticTemplates(11, SIZE);
  const ds = syntheticDataset(256, 12, templates, SIZE);
  try {
    const eps = 0.4;
    const per = 64;
    // δ exactly on the L2 sphere of radius eps, seeded.
    const delta = noGrad(() => scope(() => { const z = randn([256, 1, 8, 8], { generator: new Generator(5) }); return z.div(z.reshape([256, per]).norm([1], true).reshape([256, 1, 1, 1])).mul(eps).keep(); }));
    const plain = noGrad(() => scope(() => {
      const x = tensor(ds.images, { shape: [256, 1, 8, 8], dtype: 'uint8' }).to('float32');
      const q = x.div(255).add(delta).clamp(0, 1).mul(255).round();
      return q.sub(x).square().reshape([256, per]).sum([1]).sqrt().div(255).toArray() as number[];
    }));
    assert.ok(plain.some((v) => v > eps), 'plain rounding exceeds the L2 ball for some image (the tolerance issue)');
    const before = memory().tensors;
    for (const quantization of ['round', 'floor'] as const) {
      const { dataset, report } = poisonDataset(ds, (_x, index) => delta.indexSelect(0, index), { eps, norm: 'l2', quantization, batchSize: 100, device: 'cpu' });
      let worst = 0;
      for (let s = 0; s < 256; s++) {
        let ss = 0;
        for (let i = s * per; i < (s + 1) * per; i++) ss += (dataset.images[i]! - ds.images[i]!) ** 2;
        worst = Math.max(worst, ss);
      }
      assert.ok(worst <= (eps * 255) ** 2, `${quantization}: stored Σd² ${worst} > (255ε)² ${(eps * 255) ** 2}`);
      assert.ok(Math.abs(report.l2Max - Math.sqrt(worst) / 255) < 1e-12);
      assert.ok(report.l2Max > eps * 0.97, `${quantization}: the budget is nearly used (${report.l2Max})`);
      assert.equal(report.norm, 'l2');
    }
    assert.equal(memory().tensors, before);
    delta.dispose();
    // An oversized δ is projected onto the ball, not rejected.
    const { report } = poisonDataset(ds, (x) => x.mul(0).add(0.3), { eps, norm: 'l2', quantization: 'round', batchSize: 128, device: 'cpu' });
    assert.ok(report.l2Max <= eps && report.l2Max > 0.3);
    assert.throws(() => poisonDataset(ds, (x) => x.mul(0), { eps: 9, norm: 'l2', quantization: 'round', batchSize: 128, device: 'cpu' }), /L2 radius must be in \(0, 8\.00\]/);
  } finally {
    templates.dispose();
  }
});

test('AR: each class filter annihilates its own class noise only', () => {
  const templates = syntheticTemplates(3, SIZE);
  const ds = syntheticDataset(128, 4, templates, SIZE);
  const prepared = ATTACKS.ar!.prepare({ train: ds, eps: 1, norm: 'l2', seed: 3, device: 'cpu', onEvent: () => {}, task: 'ar' }, resolveOptions('ar', ATTACKS.ar!.options, {}));
  try {
    const coeffs = prepared.meta.coefficients as number[][][];
    noGrad(() => scope(() => {
      const d = prepared.perturb(null as never, arange(128, undefined, 1, { dtype: 'int64' }), null as never);
      for (let k = 0; k < 4; k++) {
        const filt = tensor(Float32Array.from([...coeffs[k]![0]!, -1]), { shape: [1, 1, 3, 3] });
        const resp = F.conv2d(d, filt).abs().mean([1, 2, 3]).toArray() as number[];
        for (let i = 0; i < 128; i++) {
          if (ds.labels[i] === k) assert.ok(resp[i]! < 1e-4, `class ${k} filter leaves ${resp[i]} on its own noise`);
          else assert.ok(resp[i]! > 1e-3, `class ${k} filter annihilates class ${ds.labels[i]} noise too (${resp[i]})`);
        }
      }
    }));
  } finally {
    prepared.dispose();
    templates.dispose();
  }
});

test('LSP: the noise alone is linearly separable (nearest class mean is perfect)', () => {
  const templates = syntheticTemplates(5, SIZE);
  const ds = syntheticDataset(256, 6, templates, SIZE);
  const prepared = ATTACKS.lsp!.prepare({ train: ds, eps: 32 / 255, norm: 'linf', seed: 1, device: 'cpu', onEvent: () => {}, task: 'lsp' }, resolveOptions('lsp', ATTACKS.lsp!.options, { patchSize: 2 }));
  try {
    noGrad(() => scope(() => {
      const d = prepared.perturb(null as never, arange(256, undefined, 1, { dtype: 'int64' }), null as never).reshape([256, 64]);
      assert.ok(Math.abs(d.abs().max().item() - 32 / 255) < 1e-6, 'L∞ scaling: max |δ| = ε');
      const y = tensor(BigInt64Array.from(ds.labels, (v) => BigInt(v)), { shape: [256], dtype: 'int64' });
      const onehot = tensor(Float32Array.from({ length: 256 * 4 }, (_, i) => (ds.labels[Math.floor(i / 4)] === i % 4 ? 1 : 0)), { shape: [256, 4] });
      const means = onehot.transpose(0, 1).matmul(d).div(onehot.sum([0]).reshape([4, 1]));
      const dist = d.reshape([256, 1, 64]).sub(means.reshape([1, 4, 64])).square().sum([2]);
      const acc = dist.argmin(1).eq(y).to('float32').mean().item();
      assert.equal(acc, 1, `nearest-mean accuracy on the LSP noise: ${acc}`);
    }));
  } finally {
    prepared.dispose();
    templates.dispose();
  }
});
