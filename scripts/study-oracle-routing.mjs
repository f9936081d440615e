#!/usr/bin/env node
// Diagnostic for the template generator (docs/study.md, "A template generator"): protects the first N Fashion-MNIST
// training images with a template generator's learned patterns chosen by the TRUE LABEL (oracle routing,
// δ = ε·tanh(γ·P_y)) or by the generator's own router's argmax ('hard'), and writes a dataset folder that
// `gue evaluate --data <out>` trains a victim on. It is a study tool, not a protection mode of gue.
// Usage: node scripts/study-oracle-routing.mjs <generator run-dir|base> <out-dir> [label|hard] [--train-size 10000]
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadGenerator } from '../dist/src/game/train.js';
import { TEMPLATE_GAIN } from '../dist/src/nn/models/template-gen.js';
import { loadIdxDataset, FASHION_MNIST_DIR, saveDataset } from '../dist/src/data/index.js';
import { poisonDataset } from '../dist/src/attacks/poison.js';
import { noGrad, scope } from '../dist/src/engine/index.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { 'train-size': { type: 'string', default: '10000' }, 'data-dir': { type: 'string' } } });
const [genArg, out, mode = 'label'] = positionals;
if (!genArg || !out || !['label', 'hard'].includes(mode)) {
  process.stderr.write('usage: node scripts/study-oracle-routing.mjs <generator run-dir|base> <out-dir> [label|hard] [--train-size 10000]\n');
  process.exit(2);
}
const base = existsSync(join(genArg, 'generator.json')) ? join(genArg, 'generator') : genArg.replace(/\.(json|safetensors)$/, '');
const { gen, meta } = loadGenerator(base);
if ((meta.arch ?? 'unet') !== 'templates') {
  process.stderr.write(`${genArg}: not a template generator (--gen-arch templates); this diagnostic needs its patterns\n`);
  process.exit(2);
}
const full = loadIdxDataset('train', values['data-dir'] ?? FASHION_MNIST_DIR);
const n = Math.min(Number(values['train-size']), full.labels.length);
const per = full.shape[0] * full.shape[1] * full.shape[2];
const ds = { images: full.images.subarray(0, n * per), labels: full.labels.subarray(0, n), shape: full.shape, numClasses: full.numClasses, source: `fashion-mnist[0:${n}]` };
const P = noGrad(() => gen.getParameter('templates').mul(TEMPLATE_GAIN).tanh().mul(meta.eps)).keep();
const perturb = mode === 'hard'
  ? (x) => scope(() => P.indexSelect(0, gen.routeLogits(x).argmax(1)))
  : (_x, _index, y) => scope(() => P.indexSelect(0, y));
const r = noGrad(() => poisonDataset(ds, perturb, { eps: meta.eps, quantization: 'round', batchSize: 500, device: 'cpu' }));
saveDataset(out, r.dataset, { note: `patterns of ${base}, routing '${mode}' (scripts/study-oracle-routing.mjs)` });
process.stdout.write(JSON.stringify({ out, mode, images: n, ...r.report }) + '\n');
