// npm run bench:engine [-- --json] [-- --seconds S] [-- --rounds R]
// Three workloads in our TypeScript stack and in PyTorch (bench/engine_torch.py), same nets, batch 128,
// one thread per core, jemalloc on both sides, each in its own process; rounds alternate the two stacks
// and the best throughput per workload is kept.
//   W1: one training step of a small ResNet (CE, backward, SGD momentum), 32×32×3
//   W2: forward + backward of the GUE U-Net at widths 16-32-64-128
//   W3: the gradient with respect to the input through W1's net (one PGD step), eval mode
// gue runs its convolutions channels-last; PyTorch is measured in its default layout (the ratio) and with
// channels-last set by hand (ratio vs CL).
// Prints images/s for both and ours/PyTorch ratios; with --json the last line is
// {"bench":"engine","ratios":{"W1":r1,"W2":r2,"W3":r3},"rss_ratio":m}.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { F, Generator, grad, manualSeed, rand, randint, scope, engineInfo } from '../src/engine/index.js';
import { SmallResNet, UNet } from '../src/nn/models/index.js';
import { SGD } from '../src/optim/index.js';
import { PYTHON, ROOT, hasTorchPython, runJson, table, timeIt } from './common.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

function worker(): void {
  const B = Number(arg('batch', '128'));
  const seconds = Number(arg('seconds', '2'));
  const wl = arg('workloads', 'W1,W2,W3').split(',');
  const fmt = process.argv.includes('--nchw') ? 'contiguous' : 'channelsLast';
  manualSeed(0);
  const gen = new Generator(0);
  const x = rand([B, 3, 32, 32], { generator: gen }).contiguous(fmt).keep();
  const y = randint(0, 10, [B], { generator: gen }).keep();
  const out: Record<string, number> = {};
  if (wl.includes('W1')) {
    const net = new SmallResNet({ generator: gen }).to({ memoryFormat: fmt });
    const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
    out.W1 = timeIt(() => scope(() => {
      opt.zeroGrad();
      F.crossEntropy(net.forward(x), y).backward();
      opt.step();
    }), B, seconds);
    opt.dispose();
    net.dispose();
  }
  if (wl.includes('W2')) {
    const g = new UNet({ channels: 3, width: 16, generator: gen }).to({ memoryFormat: fmt });
    out.W2 = timeIt(() => scope(() => {
      g.zeroGrad();
      g.forward(x).mean().backward();
    }), B, seconds);
    g.dispose();
  }
  if (wl.includes('W3')) {
    const net = new SmallResNet({ generator: gen }).to({ memoryFormat: fmt }).eval();
    for (const p of net.parameters()) p.requiresGrad = false;
    out.W3 = timeIt(() => scope(() => {
      const xa = x.clone().requiresGrad_();
      grad(F.crossEntropy(net.forward(xa), y), [xa]);
    }), B, seconds);
    net.dispose();
  }
  const info = engineInfo();
  process.stdout.write(JSON.stringify({ ...out, rss_mb: process.resourceUsage().maxRSS / 1024, threads: info.threads, torch: info.torch }) + '\n');
}

function main(): void {
  const json = process.argv.includes('--json');
  const seconds = arg('seconds', '2');
  const rounds = Number(arg('rounds', '2'));
  if (!hasTorchPython()) {
    process.stderr.write(`bench:engine needs PyTorch for ${PYTHON} (Debian python3-torch; npm run bench:engine installs it).\n`);
    process.exit(1);
  }
  const self = fileURLToPath(import.meta.url);
  const py = join(ROOT, 'bench', 'engine_torch.py');
  const ours: Record<string, number>[] = [];
  const theirs: Record<string, number>[] = [];
  const theirsCl: Record<string, number>[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = () => ours.push(runJson(process.execPath, [self, '--worker', '--seconds', seconds], 'TypeScript worker') as Record<string, number>);
    const b = () => theirs.push(runJson(PYTHON, [py, '--seconds', seconds], 'PyTorch script') as Record<string, number>);
    const c = () => theirsCl.push(runJson(PYTHON, [py, '--seconds', seconds, '--channels-last'], 'PyTorch script (channels-last)') as Record<string, number>);
    if (r % 2 === 0) { a(); b(); c(); } else { c(); b(); a(); }
  }
  const best = (rs: Record<string, number>[], k: string) => Math.max(...rs.map((r) => Number(r[k])));
  const ws = ['W1', 'W2', 'W3'];
  const ratios: Record<string, number> = {};
  const ratiosCl: Record<string, number> = {};
  const rows = [['workload', 'gue img/s', 'PyTorch img/s', 'ratio', 'PyTorch CL img/s', 'ratio vs CL']];
  for (const w of ws) {
    const o = best(ours, w);
    const t = best(theirs, w);
    const tc = best(theirsCl, w);
    ratios[w] = Number((o / t).toFixed(3));
    ratiosCl[w] = Number((o / tc).toFixed(3));
    rows.push([w, o.toFixed(1), t.toFixed(1), ratios[w]!.toFixed(3), tc.toFixed(1), ratiosCl[w]!.toFixed(3)]);
  }
  const rssO = Math.max(...ours.map((r) => Number(r.rss_mb)));
  const rssT = Math.max(...theirs.map((r) => Number(r.rss_mb)));
  const rssRatio = Number((rssO / rssT).toFixed(3));
  rows.push(['peak RSS MB', rssO.toFixed(0), rssT.toFixed(0), rssRatio.toFixed(3), '', '']);
  if (!json) {
    process.stdout.write(`bench:engine  batch 128, ${ours[0]?.threads} threads, libtorch ${ours[0]?.torch} vs PyTorch ${theirs[0]?.torch}, best of ${rounds} rounds\n`);
    process.stdout.write(table(rows) + '\n');
  } else {
    process.stdout.write(JSON.stringify({ bench: 'engine', ours, pytorch: theirs, pytorch_channels_last: theirsCl }) + '\n');
  }
  if (!json) {
    process.stdout.write('gue runs channels-last (its default layout for convolutions); "ratio" compares with PyTorch eager in its\n'
      + 'default NCHW layout, "ratio vs CL" with PyTorch given channels-last input and weights by hand.\n');
  }
  process.stdout.write(JSON.stringify({ bench: 'engine', ratios, ratios_vs_channels_last: ratiosCl, rss_ratio: rssRatio }) + '\n');
}

if (process.argv.includes('--worker')) worker();
else main();
