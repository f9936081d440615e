// npm run bench:gue [-- --json] [-- --seconds S] [-- --rounds R] [-- --settings a,b] [-- --steps N] [-- --warmup W] [-- --batch B]
//                   [-- --device cpu|cuda|cuda:N]  (both stacks on that device; the default is cpu)
// ONE GUE outer step (BOME with the dynamic barrier, T = 10 inner Adam steps, ε = 8/255) in our TypeScript
// stack (src/game/bome.ts GameSolver) and in PyTorch (bench/gue_torch.py, the authors' algorithm written from
// the reference notes §2), in three settings (batch per setting unless --batch is given):
//   fmnist_smallcnn:    28×28×1, SmallCNN surrogate (width 32), U-Net width 16 (our CPU size), batch 128
//   cifar_resnet18:     32×32×3, ResNet-18 (CIFAR variant) surrogate, U-Net width 16, batch 128
//   cifar_resnet18_w64: 32×32×3, ResNet-18 surrogate, the paper's width-64 U-Net, batch 32
// Ours runs both solver paths, as `gue train` sets them up (all models and the batch channels-last):
//   exact: the authors' algorithm step for step (generator forward + backward at every inner step, two more
//          generator forwards for q) — the like-for-like comparison with PyTorch;
//   fast:  one generator forward per outer step (same gradients; see bome.ts).
// PyTorch runs only the authors' algorithm (fresh deepcopy + fresh Adam each step), default NCHW layout.
// Each setting runs in its own processes (one TS worker for both paths, one Python process), one thread per
// core, jemalloc on both sides; rounds alternate which stack goes first and the best throughput is kept.
// Timing: `--warmup` steps (default 1; PyTorch checks λ finite and ≥ 0 after it), then at least `--steps`
// steps (default 2) and at least `--seconds` (default 10). A ResNet-18 step takes tens of seconds on a
// 2-core machine, so a full run takes a while; progress goes to stderr.
// How to read it: numbers are images/s (batch × outer steps/s; seconds per step in brackets), higher is
// better. "ratio exact" = ours exact / PyTorch (> 1: we are faster on the same algorithm); "ratio fast" =
// ours fast / PyTorch (what the fast path, the default of `gue train`, gains on top). The fast path saves the
// generator's T + 2 forwards and T backwards per step, so its gain grows with the generator's share of the
// cost: large with the paper's width-64 U-Net, small with a width-16 U-Net next to ResNet-18.
// With --json the last stdout line is {"bench":"gue","ratios":{<setting>:r,...},"fast":{<setting>:r,...}}
// (ratios = exact path vs PyTorch, fast = fast path vs PyTorch).
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Generator, manualSeed, rand, randint, scope, engineInfo, type Tensor } from '../src/engine/index.js';
import { UNet, buildClassifier } from '../src/nn/models/index.js';
import { GameSolver } from '../src/game/index.js';
import { PYTHON, ROOT, hasTorchPython, runJson, table } from './common.js';

/** A workload: image shape, surrogate, U-Net width (16 = our CPU size, 64 = the paper's), default batch. */
interface Setting { c: number; size: number; surrogate: string; width: number; batch: number }
const SETTINGS: Readonly<Record<string, Setting>> = Object.freeze({
  fmnist_smallcnn: { c: 1, size: 28, surrogate: 'small-cnn', width: 16, batch: 128 },
  cifar_resnet18: { c: 3, size: 32, surrogate: 'resnet18', width: 16, batch: 128 },
  // The paper's CIFAR-10 setting: the authors' width-64 U-Net against ResNet-18 (batch 32 keeps a CPU step short).
  cifar_resnet18_w64: { c: 3, size: 32, surrogate: 'resnet18', width: 64, batch: 32 },
});
const PATHS = ['exact', 'fast'] as const;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

/** Outer steps/s: `warmup` steps, then at least `minSteps` steps and at least `seconds`. */
function timeSteps(step: () => void, seconds: number, minSteps: number, warmup: number): { rate: number; n: number } {
  for (let i = 0; i < warmup; i++) step();
  let n = 0;
  const t0 = process.hrtime.bigint();
  for (;;) {
    step();
    n++;
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (dt >= seconds && n >= minSteps) return { rate: n / dt, n };
  }
}

function worker(): void {
  const seconds = Number(arg('seconds', '10'));
  const minSteps = Number(arg('steps', '2'));
  const warmup = Number(arg('warmup', '1'));
  const T = Number(arg('inner', '10'));
  const device = arg('device', 'cpu');
  const out: Record<string, number | string> = {};
  for (const name of arg('settings', Object.keys(SETTINGS).join(',')).split(',')) {
    const s = SETTINGS[name];
    if (!s) throw new Error(`unknown setting '${name}'; available: ${Object.keys(SETTINGS).join(', ')}`);
    const B = Number(arg('batch', String(s.batch)));
    for (const path of PATHS) {
      // As trainGenerator: seeded init, generator + classifier + scratch copy, all channels-last.
      manualSeed(0);
      const g = new Generator(0);
      const gen = new UNet({ channels: s.c, width: s.width, generator: g });
      const spec = { inChannels: s.c, numClasses: 10, imageSize: s.size, generator: g };
      const clf = buildClassifier(s.surrogate, spec);
      const scratch = buildClassifier(s.surrogate, spec);
      for (const m of [gen, clf, scratch]) m.to({ device, memoryFormat: 'channelsLast' });
      const x: Tensor = scope(() => rand([B, s.c, s.size, s.size], { generator: g }).to({ device }).contiguous('channelsLast')).keep();
      const y: Tensor = scope(() => randint(0, 10, [B], { generator: g }).to({ device })).keep();
      const solver = new GameSolver(gen, clf, scratch, { innerSteps: T, path });
      let lambda = Number.NaN;
      const r = timeSteps(() => { lambda = scope(() => solver.step(x, y)).lambda; }, seconds, minSteps, warmup);
      if (!(Number.isFinite(lambda) && lambda >= 0)) throw new Error(`${name}/${path}: λ = ${lambda} (expected finite and >= 0)`);
      out[`${name}/${path}`] = r.rate;
      out[`${name}/${path}_n`] = r.n;
      out[`${name}/${path}_lambda`] = lambda;
      solver.dispose();
      for (const m of [gen, clf, scratch]) m.dispose();
      x.dispose();
      y.dispose();
    }
  }
  const info = engineInfo();
  process.stdout.write(JSON.stringify({ ...out, rss_mb: process.resourceUsage().maxRSS / 1024, threads: info.threads, torch: info.torch }) + '\n');
}

function main(): void {
  const json = process.argv.includes('--json');
  const seconds = arg('seconds', '10');
  const steps = arg('steps', '2');
  const warmup = arg('warmup', '1');
  const batchArg = process.argv.includes('--batch') ? arg('batch', '') : null;
  const device = arg('device', 'cpu');
  if (!/^(cpu|cuda(:\d+)?)$/.test(device)) {
    process.stderr.write(`bench:gue: --device must be cpu, cuda or cuda:N; got '${device}'\n`);
    process.exit(2);
  }
  const batchOf = (s: string) => Number(batchArg ?? SETTINGS[s]!.batch);
  const rounds = Number(arg('rounds', '1'));
  const settings = arg('settings', Object.keys(SETTINGS).join(',')).split(',');
  for (const s of settings) {
    if (!SETTINGS[s]) {
      process.stderr.write(`bench:gue: unknown setting '${s}'; available: ${Object.keys(SETTINGS).join(', ')}\n`);
      process.exit(2);
    }
  }
  if (!hasTorchPython()) {
    process.stderr.write(`bench:gue needs PyTorch for ${PYTHON} (Debian python3-torch; npm run bench:gue installs it).\n`);
    process.exit(1);
  }
  const self = fileURLToPath(import.meta.url);
  const py = join(ROOT, 'bench', 'gue_torch.py');
  const common = (s: string) => ['--seconds', seconds, '--steps', steps, '--warmup', warmup, '--batch', String(batchOf(s)), '--device', device];
  const ours: Record<string, Record<string, number | string>[]> = {};
  const theirs: Record<string, Record<string, number | string>[]> = {};
  const log = (m: string) => process.stderr.write(`[bench:gue] ${m}\n`);
  for (let r = 0; r < rounds; r++) {
    for (const s of settings) {
      const a = () => {
        log(`round ${r + 1}/${rounds} ${s}: TypeScript (exact, fast)`);
        (ours[s] ??= []).push(runJson(process.execPath, [self, '--worker', '--settings', s, ...common(s)], 'TypeScript worker'));
      };
      const b = () => {
        log(`round ${r + 1}/${rounds} ${s}: PyTorch (authors' algorithm)`);
        (theirs[s] ??= []).push(runJson(PYTHON, [py, '--settings', s, ...common(s)], 'PyTorch script'));
      };
      if (r % 2 === 0) { a(); b(); } else { b(); a(); }
    }
  }
  const best = (rs: Record<string, number | string>[], k: string) => Math.max(...rs.map((x) => Number(x[k])));
  const fmt = (stepsPerS: number, B: number) => `${(stepsPerS * B).toFixed(2)} (${(1 / stepsPerS).toFixed(1)} s)`;
  const ratios: Record<string, number> = {};
  const fast: Record<string, number> = {};
  const rows = [['setting', 'ours exact', 'ours fast', 'PyTorch (authors)', 'ratio exact', 'ratio fast', 'RSS MB ours/PyTorch']];
  for (const s of settings) {
    const oe = best(ours[s]!, `${s}/exact`);
    const of = best(ours[s]!, `${s}/fast`);
    const t = best(theirs[s]!, s);
    ratios[s] = Number((oe / t).toFixed(3));
    fast[s] = Number((of / t).toFixed(3));
    const rssO = best(ours[s]!, 'rss_mb');
    const rssT = best(theirs[s]!, 'rss_mb');
    rows.push([s, fmt(oe, batchOf(s)), fmt(of, batchOf(s)), fmt(t, batchOf(s)), ratios[s]!.toFixed(3), fast[s]!.toFixed(3), `${rssO.toFixed(0)} / ${rssT.toFixed(0)}`]);
  }
  const o0 = Object.values(ours)[0]?.[0];
  const t0 = Object.values(theirs)[0]?.[0];
  if (!json) {
    process.stdout.write(`bench:gue  one outer step on ${device}, T = 10, batch ${settings.map((s) => `${s} ${batchOf(s)}`).join(', ')}, ${o0?.threads} threads, `
      + `libtorch ${o0?.torch} vs PyTorch ${t0?.torch}, best of ${rounds} round(s)\n`);
    process.stdout.write(table(rows) + '\n');
    process.stdout.write('images/s (seconds per outer step), higher is better. "ratio exact": ours on the authors\' algorithm '
      + '(path exact) / PyTorch;\n"ratio fast": ours with one generator forward per outer step (path fast) / the same PyTorch number.\n');
  } else {
    process.stdout.write(JSON.stringify({ bench: 'gue', device, ours, pytorch: theirs }) + '\n');
  }
  process.stdout.write(JSON.stringify({ bench: 'gue', device, ratios, fast }) + '\n');
}

if (process.argv.includes('--worker')) worker();
else main();
