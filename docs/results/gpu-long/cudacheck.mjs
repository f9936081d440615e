// Ran on the lent H200 as .dev/cudacheck.mjs (2026-11-30; output in device-log.txt). Run: node docs/results/gpu-long/cudacheck.mjs (needs a CUDA build).
// CPU vs CUDA: the same GUE outer steps (same weights, same batch) on both devices; prints the per-step metrics
// and the largest parameter difference afterwards.
import { Generator, manualSeed, rand, randint, scope, engineInfo } from '../../../dist/src/engine/index.js';
import { UNet, buildClassifier } from '../../../dist/src/nn/models/index.js';
import { GameSolver } from '../../../dist/src/game/index.js';
console.log(JSON.stringify(engineInfo()));
function run(device, path) {
  manualSeed(0);
  const g = new Generator(0);
  const gen = new UNet({ channels: 1, width: 16, generator: g });
  const spec = { inChannels: 1, numClasses: 10, imageSize: 28, generator: g };
  const clf = buildClassifier('half-cnn', spec);
  const scratch = buildClassifier('half-cnn', spec);
  for (const m of [gen, clf, scratch]) m.to({ device, memoryFormat: 'channelsLast' });
  const x = scope(() => rand([128, 1, 28, 28], { generator: g }).to({ device }).contiguous('channelsLast')).keep();
  const y = scope(() => randint(0, 10, [128], { generator: g }).to({ device })).keep();
  const solver = new GameSolver(gen, clf, scratch, { innerSteps: 10, path });
  const steps = [];
  for (let i = 0; i < 5; i++) steps.push(scope(() => solver.step(x, y)));
  const params = [...gen.parameters(), ...clf.parameters()].map((p) => Float32Array.from(scope(() => p.to({ device: 'cpu' }).toArray())));
  return { steps, params, devs: [...new Set(gen.parameters().map((p) => p.device))] };
}
for (const path of ['fast', 'exact']) {
  const a = run('cpu', path), b = run('cuda', path);
  let maxd = 0, maxv = 0;
  a.params.forEach((p, i) => p.forEach((v, j) => { maxd = Math.max(maxd, Math.abs(v - b.params[i][j])); maxv = Math.max(maxv, Math.abs(v)); }));
  console.log(`path ${path}: param devices cpu=${a.devs} cuda=${b.devs}`);
  a.steps.forEach((s, i) => console.log(`  step ${i + 1}: cpu f=${s.f.toFixed(6)} g=${s.g.toFixed(6)} λ=${s.lambda.toFixed(6)} | cuda f=${b.steps[i].f.toFixed(6)} g=${b.steps[i].g.toFixed(6)} λ=${b.steps[i].lambda.toFixed(6)}`));
  console.log(`  after 5 steps: max |θ_cpu − θ_cuda| = ${maxd.toExponential(3)} (max |θ| ${maxv.toFixed(3)})`);
}
