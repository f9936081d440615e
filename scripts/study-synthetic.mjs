#!/usr/bin/env node
// The synthetic protection task of test/protection.test.ts (test/helpers/protection-task.ts) as a small study tool (issue #8, docs/study.md): train a
// GUE generator on the seeded 4-class 8×8 task (ε = 32/255, tiny CNN surrogate, U-Net width 4, batch 128, fast path,
// inner lr 1e-3), protect the training set, and train tiny-CNN victims (6 epochs) on clean, protected and random ±ε
// data. Any trainGenerator option can be changed with --set key=value (JSON values); --set eps=… sets the budget of the
// generator, of its protected data and of the random control together (linf255 in the summary line). E.g.
//   node scripts/study-synthetic.mjs --set maxSteps=450 --set resetEvery=50 --victim-seeds 1,2
// Prints one JSON line per victim seed and a summary line: mean and final clean test accuracy of each victim.
// Needs the build (npm run setup). Runs on one libtorch thread unless GUE_NUM_THREADS says otherwise.
import { parseArgs } from 'node:util';

const dist = new URL('../dist/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const { setNumThreads } = await load('src/engine/index.js');
const { runProtectionTask } = await load('test/helpers/protection-task.js');

const { values } = parseArgs({ options: { set: { type: 'string', multiple: true, default: [] }, 'victim-seeds': { type: 'string', default: '1,2' } } });
const extra = {};
for (const kv of values.set) {
  const i = kv.indexOf('=');
  if (i < 1) throw new Error(`--set needs key=value, got '${kv}'`);
  const v = kv.slice(i + 1);
  try {
    extra[kv.slice(0, i)] = JSON.parse(v);
  } catch {
    extra[kv.slice(0, i)] = v;
  }
}
const victimSeeds = values['victim-seeds'].split(',').map(Number);
if (!process.env.GUE_NUM_THREADS) setNumThreads(1);

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const t0 = Date.now();
const r = runProtectionTask(extra, victimSeeds);
const kinds = ['clean', 'protected', 'random'];
// Curves to 2 decimals, as printed; the summary is computed from them.
const curves = Object.fromEntries(kinds.map((k) => [k, r[k].map((c) => c.map((v) => +v.toFixed(2)))]));
victimSeeds.forEach((seed, i) => {
  process.stdout.write(JSON.stringify({ victimSeed: seed, ...Object.fromEntries(kinds.map((k) => [k, curves[k][i]])) }) + '\n');
});
const summary = Object.fromEntries(kinds.map((k) => [k, { mean: +mean(curves[k].map(mean)).toFixed(2), final: +mean(curves[k].map((c) => c.at(-1))).toFixed(2) }]));
process.stdout.write(JSON.stringify({ options: extra, victimSeeds, linf255: r.linf255, summary, seconds: (Date.now() - t0) / 1000 }) + '\n');
