// Autograd semantics: .grad accumulation, grad() options, higher order, noGrad, detach, input gradients.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { F, enableGrad, grad, gradStrict, isGradEnabled, noGrad, ones, scope, tensor, zeros, type Tensor } from '../src/engine/index.js';
import { assertClose, f64, randT } from './helpers/gradcheck.js';

const leaf = (v: number[]): Tensor => f64(v).requiresGrad_();

describe('backward() and .grad', () => {
  test('backward accumulates into .grad across two calls; setting grad to null resets', () => {
    scope(() => {
      const x = leaf([1, 2, 3]);
      assert.equal(x.grad, null);
      x.mul(x).sum().backward(); // 2x
      assertClose(x.grad!.toArray(), [2, 4, 6]);
      x.mul(3).sum().backward(); // + 3
      assertClose(x.grad!.toArray(), [5, 7, 9]);
      x.grad = null;
      assert.equal(x.grad, null);
      x.sum().backward();
      assertClose(x.grad!.toArray(), [1, 1, 1]);
      x.grad = zeros([3], { dtype: 'float64' });
      x.sum().backward();
      assertClose(x.grad!.toArray(), [1, 1, 1]);
    });
  });
  test('backward with retainGraph can run twice on the same graph (and accumulates); without it the second throws', () => {
    scope(() => {
      const x = leaf([2]);
      const y = x.pow(3).sum();
      y.backward(null, { retainGraph: true });
      y.backward();
      assertClose(x.grad!.toArray(), [24]);
      assert.throws(() => y.backward(), (e: unknown) => e instanceof Error && /backward/.test(e.message) && /second time/i.test(e.message));
      assert.equal(tensor([1, 2]).add(1).toArray()[1], 3); // still alive
    });
  });
  test('backward with an explicit gradient for a non-scalar output', () => {
    scope(() => {
      const x = leaf([1, 2]);
      x.mul(x).backward(f64([1, 10]));
      assertClose(x.grad!.toArray(), [2, 40]);
      assert.throws(() => x.mul(2).backward(), /backward.*scalar/);
    });
  });
  test('only leaves that require grad get .grad; isLeaf / requiresGrad flags', () => {
    scope(() => {
      const x = leaf([1, 2]);
      const c = f64([3, 4]);
      const y = x.mul(c);
      assert.ok(x.isLeaf);
      assert.ok(x.requiresGrad);
      assert.ok(!y.isLeaf);
      assert.ok(y.requiresGrad);
      assert.ok(!c.requiresGrad);
      y.sum().backward();
      assertClose(x.grad!.toArray(), [3, 4]);
      assert.equal(c.grad, null);
      const r = f64([1]);
      r.requiresGrad = true;
      assert.ok(r.requiresGrad);
      r.requiresGrad_(false);
      assert.ok(!r.requiresGrad);
    });
  });
  test(
    'assigning a .grad of the wrong shape or dtype is rejected at assignment',
    () => {
      scope(() => {
        const x = leaf([1, 2, 3]);
        assert.throws(() => {
          x.grad = ones([5], { dtype: 'float64' });
        });
        assert.throws(() => {
          x.grad = ones([3]);
        });
      });
    },
  );
});

describe('grad()', () => {
  test('grad() returns d(sum of outputs)/d(inputs) and does not touch .grad', () => {
    scope(() => {
      const x = leaf([1, 2]);
      const w = leaf([3, -1]);
      const [gx, gw] = grad(x.mul(w).sum(), [x, w]);
      assertClose(gx!.toArray(), [3, -1]);
      assertClose(gw!.toArray(), [1, 2]);
      assert.equal(x.grad, null);
      assert.equal(w.grad, null);
      // with an existing .grad, grad() leaves it unchanged
      x.sum().backward();
      grad(x.mul(5).sum(), [x]);
      assertClose(x.grad!.toArray(), [1, 1]);
    });
  });
  test('several outputs are summed; gradOutputs weight non-scalar outputs', () => {
    scope(() => {
      const x = leaf([1, 2]);
      const [g] = grad([x.sum(), x.mul(x).sum()], [x]);
      assertClose(g!.toArray(), [1 + 2, 1 + 4]);
      const [h] = grad(x.mul(3), [x], { gradOutputs: [f64([1, -2])] });
      assertClose(h!.toArray(), [3, -6]);
      const [k] = gradStrict(x.exp().sum(), [x]);
      assertClose(k!.toArray(), [Math.E, Math.exp(2)]);
    });
  });
  test('retainGraph allows a second grad() call; without it the second call throws a JS Error and the process keeps running', () => {
    scope(() => {
      const x = leaf([3]);
      const y = x.square().sum();
      const [a] = grad(y, [x], { retainGraph: true });
      const [b] = grad(y, [x]);
      assertClose(a!.toArray(), [6]);
      assertClose(b!.toArray(), [6]);
      let err: unknown;
      try {
        grad(y, [x]);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof Error, 'expected a JS Error');
      assert.match(err.message, /grad/);
      assert.match(err.message, /second time/i);
      // the engine is still usable
      const [c] = grad(x.square().sum(), [x]);
      assertClose(c!.toArray(), [6]);
    });
  });
  test('createGraph gives higher derivatives: d²/dx² x³ = 6x, d³/dx³ = 6', () => {
    scope(() => {
      const x = leaf([-1.5, 0.5, 2]);
      const [d1] = grad(x.pow(3).sum(), [x], { createGraph: true });
      assertClose(d1!.toArray(), [3 * 2.25, 3 * 0.25, 12]);
      assert.ok(d1!.requiresGrad);
      const [d2] = grad(d1!.sum(), [x], { createGraph: true });
      assertClose(d2!.toArray(), [-9, 3, 12]);
      const [d3] = grad(d2!.sum(), [x]);
      assertClose(d3!.toArray(), [6, 6, 6]);
      // without createGraph the first derivative is not differentiable
      const [p] = grad(x.pow(3).sum(), [x]);
      assert.ok(!p!.requiresGrad);
    });
  });
  test('a gradient-norm penalty (double backward through conv + tanh) matches finite differences of the input gradient', () => {
    scope(() => {
      const x = randT([1, 1, 4, 4], 1).requiresGrad_();
      const w = randT([2, 1, 3, 3], 2);
      const f = (xx: Tensor): Tensor => F.conv2d(xx, w, null, { padding: 1 }).tanh().square().sum();
      const [gx] = grad(f(x), [x], { createGraph: true });
      const [hv] = grad(gx!.square().sum(), [x]); // = 2 H g
      // finite-difference check of d/dx ||∇f||² along coordinate 5
      const base = x.detach().toArray();
      const eps = 1e-6;
      const gnorm = (delta: number): number =>
        scope(() => {
          const v = base.slice();
          v[5]! += delta;
          const xx = tensor(Float64Array.from(v), { shape: [1, 1, 4, 4], dtype: 'float64' }).requiresGrad_();
          const [g] = grad(f(xx), [xx]);
          return g!.square().sum().item();
        });
      assertClose(hv!.toArray()[5]!, (gnorm(eps) - gnorm(-eps)) / (2 * eps), { rtol: 1e-5, atol: 1e-7 });
    });
  });
  test('allowUnused gives null for an unused input; without it grad() throws', () => {
    scope(() => {
      const x = leaf([1]);
      const u = leaf([2]);
      const [gx, gu] = grad(x.mul(2).sum(), [x, u], { allowUnused: true });
      assertClose(gx!.toArray(), [2]);
      assert.equal(gu, null);
      assert.throws(() => grad(x.mul(2).sum(), [x, u]), (e: unknown) => e instanceof Error && /grad/.test(e.message));
    });
  });
  test('grad() of an output that does not require grad throws a JS Error', () => {
    scope(() => {
      const x = f64([1]);
      assert.throws(() => grad(x.mul(2).sum(), [x]), (e: unknown) => e instanceof Error && /grad/.test(e.message));
    });
  });
  test('a tensor used twice accumulates both paths', () => {
    scope(() => {
      const x = leaf([3]);
      const [g] = grad(x.mul(x).add(x.exp()).sum(), [x]);
      assertClose(g!.toArray(), [6 + Math.exp(3)]);
    });
  });
});

describe('noGrad, enableGrad, detach', () => {
  test('noGrad produces tensors with requiresGrad false and restores the mode (even after a throw)', () => {
    scope(() => {
      const x = leaf([1, 2]);
      assert.ok(isGradEnabled());
      const y = noGrad(() => {
        assert.ok(!isGradEnabled());
        return x.mul(2).exp();
      });
      assert.ok(!y.requiresGrad);
      assert.ok(y.isLeaf);
      assert.ok(isGradEnabled());
      assert.throws(() => noGrad(() => {
        throw new Error('boom');
      }), /boom/);
      assert.ok(isGradEnabled());
      assert.ok(x.mul(2).requiresGrad);
    });
  });
  test('enableGrad inside noGrad records again; nested noGrad restores the outer mode', () => {
    scope(() => {
      const x = leaf([1]);
      noGrad(() => {
        const a = enableGrad(() => x.mul(2));
        assert.ok(a.requiresGrad);
        assert.ok(!isGradEnabled());
        noGrad(() => assert.ok(!isGradEnabled()));
        assert.ok(!x.mul(2).requiresGrad);
      });
      assert.ok(isGradEnabled());
    });
  });
  test('detach cuts the graph but shares storage', () => {
    scope(() => {
      const x = leaf([2, 3]);
      const d = x.detach();
      assert.ok(!d.requiresGrad);
      const [g] = grad(d.mul(x).sum(), [x]); // d is a constant: grad = d, not 2x
      assertClose(g!.toArray(), [2, 3]);
      noGrad(() => x.mul_(10));
      assertClose(d.toArray(), [20, 30]);
      const y = x.mul(2);
      assert.throws(() => grad(y.detach().sum(), [x]), /grad/);
    });
  });
  test('an in-place op on a leaf that requires grad is a JS Error, allowed under noGrad', () => {
    scope(() => {
      const x = leaf([1, 2]);
      assert.throws(() => x.add_(1), (e: unknown) => e instanceof Error && /add/i.test(e.message) && /leaf/.test(e.message));
      noGrad(() => x.add_(1));
      assertClose(x.toArray(), [2, 3]);
      assert.ok(x.requiresGrad);
    });
  });
});

describe('gradient with respect to the input batch (PGD-style)', () => {
  test('dL/dx of CE(linear(x)) matches the closed form (softmax − onehot) W / N; weights get no grad', () => {
    scope(() => {
      const N = 3;
      const W = randT([4, 5], 10);
      const b = randT([4], 11);
      const y = tensor([0, 3, 1], { dtype: 'int64' });
      const x = randT([N, 5], 12).requiresGrad_();
      const loss = F.crossEntropy(F.linear(x, W, b), y);
      const [gx] = grad(loss, [x]);
      assert.deepEqual(gx!.shape, [N, 5]);
      assert.equal(W.grad, null);
      // closed form in plain JS
      const xv = x.detach().toArray();
      const wv = W.toArray();
      const bv = b.toArray();
      const yv = y.toArray();
      const expected: number[] = [];
      for (let n = 0; n < N; n++) {
        const z = [0, 1, 2, 3].map((c) => bv[c]! + [0, 1, 2, 3, 4].reduce((s, k) => s + wv[c * 5 + k]! * xv[n * 5 + k]!, 0));
        const m = Math.max(...z);
        const e = z.map((v) => Math.exp(v - m));
        const Z = e.reduce((s, v) => s + v, 0);
        const d = e.map((v, c) => (v / Z - (c === yv[n] ? 1 : 0)) / N);
        for (let k = 0; k < 5; k++) expected.push(d.reduce((s, dc, c) => s + dc * wv[c * 5 + k]!, 0));
      }
      assertClose(gx!.toArray(), expected, { rtol: 1e-10, atol: 1e-12 });
    });
  });
  test('PGD steps on a conv net increase the loss and stay inside the ε-ball', () => {
    scope(() => {
      const w1 = randT([4, 3, 3, 3], 20);
      const w2 = randT([3, 4 * 2 * 2], 21);
      const model = (xx: Tensor): Tensor => F.linear(F.avgPool2d(F.conv2d(xx, w1, null, { padding: 1 }).relu(), 2).flatten(1), w2);
      const y = tensor([0, 1, 2, 0], { dtype: 'int64' });
      const x0 = randT([4, 3, 4, 4], 22, { lo: 0, hi: 1 });
      const loss0 = noGrad(() => F.crossEntropy(model(x0), y).item());
      const eps = 0.1;
      const alpha = 0.03;
      let xa = x0.clone();
      for (let it = 0; it < 5; it++) {
        xa = scope(() => {
          const xr = xa.detach().requiresGrad_();
          const [g] = grad(F.crossEntropy(model(xr), y), [xr]);
          return noGrad(() => xr.add(g!.sign().mul(alpha)).sub(x0).clamp(-eps, eps).add(x0).clamp(0, 1));
        });
      }
      const loss1 = noGrad(() => F.crossEntropy(model(xa), y).item());
      assert.ok(loss1 > loss0, `PGD should increase the loss: ${loss0} → ${loss1}`);
      assert.ok(!xa.requiresGrad);
      const delta = xa.sub(x0).abs().amax().item();
      assert.ok(delta <= eps + 1e-12, `perturbation ${delta} exceeds ε`);
      assert.ok(xa.amin().item() >= 0 && xa.amax().item() <= 1);
    });
  });
  test('the input gradient of a per-sample loss sum is independent across the batch', () => {
    scope(() => {
      const W = randT([3, 4], 30);
      const x = randT([2, 4], 31).requiresGrad_();
      const y = tensor([2, 1], { dtype: 'int64' });
      const [gBatch] = grad(F.crossEntropy(F.linear(x, W), y, { reduction: 'sum' }), [x]);
      for (let n = 0; n < 2; n++) {
        const xn = x.detach().narrow(0, n, 1).requiresGrad_();
        const [gn] = grad(F.crossEntropy(F.linear(xn, W), y.narrow(0, n, 1), { reduction: 'sum' }), [xn]);
        assertClose(gBatch!.narrow(0, n, 1).toArray(), gn!.toArray(), { rtol: 1e-12, atol: 1e-14 });
      }
      assert.equal(ones([1]).requiresGrad, false);
    });
  });
});
