// End to end on a small seeded synthetic task: a GUE generator trained by our solver protects its training
// set — a victim trained on the protected data does clearly worse on clean test data than one trained on
// clean data — while random ±ε noise (the control) does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runProtectionTask } from './helpers/protection-task.js';

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

test('GUE protection lowers victim accuracy on a seeded synthetic task; random noise does not', (t) => {
  const r = runProtectionTask({ maxSteps: 450 }, [1, 2]);
  assert.ok(r.linf255 <= 32);
  // Per-epoch accuracy averaged over the two victim seeds (one victim's curve is noisy).
  const perEpoch = (runs: number[][]) => runs[0]!.map((_, i) => mean(runs.map((c) => c[i]!)));
  const clean = perEpoch(r.clean);
  const prot = perEpoch(r.protected);
  const ctrl = perEpoch(r.random);
  const msg = `clean ${clean.map((v) => v.toFixed(1))} | protected ${prot.map((v) => v.toFixed(1))} | random noise ${ctrl.map((v) => v.toFixed(1))}`;
  t.diagnostic(msg);
  assert.ok(clean[clean.length - 1]! > 90, `the clean task is learnable: ${msg}`);
  // Measured (450 steps, AMD EPYC, 2026-11-30): mean gap 11.2 points, final gap 6.1; with 300 steps the final gap
  // was 2 points on that CPU (and 8 on the machine this test was written on): the generator's strength varies
  // with the CPU's float rounding, hence the longer run and the two victim seeds.
  assert.ok(mean(prot) <= mean(clean) - 6, `protected training is clearly worse over the run: ${msg}`);
  assert.ok(prot[prot.length - 1]! <= clean[clean.length - 1]! - 3, `protected training is worse at the end: ${msg}`);
  // Measured: random noise costs ≈ 2 points on average, GUE ≈ 11.
  assert.ok(mean(clean) - mean(ctrl) <= (mean(clean) - mean(prot)) / 2, `random ±ε noise hurts at most half as much as GUE: ${msg}`);
  assert.ok(mean(prot) <= mean(ctrl) - 5, `GUE beats the random-noise control: ${msg}`);
});

test('the synthetic task protects at the budget the generator trained at (--set eps of the study script)', () => {
  // A generator trained at 8/255 used to be applied at the task's 32/255 (δ = 32/255 · G(x)); now the protected data
  // and the random control take the generator's ε. 30 outer steps (the generator starts at δ = 0) and no victims:
  // only the stored bytes are checked.
  const r = runProtectionTask({ maxSteps: 30, eps: 8 / 255 }, []);
  assert.ok(r.linf255 <= 8, `protected at 8/255, got ${r.linf255}/255`);
  assert.ok(r.linf255 >= 1, `and perturbed at all, got ${r.linf255}/255`);
});
