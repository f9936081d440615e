// npm run bench:protect [-- --json] [-- --seconds S] [-- --rounds R] [-- --widths 16,64] [-- --threads N]
// Protection throughput of a GUE generator, x' = clamp(x + ε·G(x), 0, 1) with G the U-Net in eval mode
// (GUE, AAAI 2024: one forward pass per image), in images/s:
//   onnx     our protection-only runtime: the generator exported by `gue export --onnx`, on onnxruntime-node
//            (src/protect/onnx-backend.ts, CPU, one intra-op thread per core)
//   libtorch our libtorch path: the TypeScript U-Net on our binding, noGrad, as `gue protect` with a
//            .safetensors generator
//   pytorch  PyTorch eager forward of the SAME weights (bench/protect_torch.py reads our safetensors file)
// Workloads: 32×32 RGB at batch 64 and 512×512 RGB at batch 1, for the paper's width 64 and the CPU width 16.
// Each stack runs in its own process with jemalloc and one thread per core; rounds alternate the order and
// the best throughput per workload is kept. Prints a table with the ratios to PyTorch; with --json the last
// line is {"bench":"protect","ratios":{"<workload>": onnx/pytorch, ...},"ratios_libtorch":{...},
// "ratios_per_cpu_second":{...},"threads":n}. Images per CPU-second (process user + system time) is reported
// too: on a shared, oversubscribed machine wall-clock throughput depends on how each runtime's thread pool
// copes with lost time slices, CPU time much less so (with --threads 1 it is the cleanest comparison).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, engineInfo, noGrad, rand, scope, setNumThreads, tensor } from '../src/engine/index.js';
import { UNet } from '../src/nn/models/index.js';
import { loadGenerator, saveGenerator } from '../src/game/train.js';
import { exportOnnx } from '../src/export/onnx.js';
import { createOnnxBackend } from '../src/protect/onnx-backend.js';
import { PYTHON, ROOT, hasTorchPython, runJson, table } from './common.js';

interface Workload {
  name: string;
  width: number;
  size: number;
  batch: number;
  warmup: number;
  repeats: number;
  /** generator base path (no extension): <base>.safetensors, <base>.json, <base>.onnx */
  base: string;
  weights: string;
  channels: number;
  eps: number;
}

const EPS = 8 / 255;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

/**
 * As timeIt (bench/common.ts) for an async step: best images/s over `repeats` windows of ≥ `seconds`
 * (wall clock), and best images per CPU-second of this process (user + system, all threads).
 */
async function timeItAsync(step: () => Promise<unknown>, items: number, seconds: number, warmup: number, repeats: number): Promise<[number, number]> {
  for (let i = 0; i < warmup; i++) await step();
  let best = 0;
  let bestCpu = 0;
  for (let r = 0; r < repeats; r++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    let dt = 0;
    for (;;) {
      await step();
      n++;
      dt = Number(process.hrtime.bigint() - t0) / 1e9;
      if (dt >= seconds && n >= 2) break;
    }
    const c = process.cpuUsage(c0);
    best = Math.max(best, (n * items) / dt);
    bestCpu = Math.max(bestCpu, (n * items) / Math.max((c.user + c.system) / 1e6, 1e-9));
  }
  return [best, bestCpu];
}

/** The input batch, identical in every process (PyTorch draws its own: content does not change the cost). */
function input(w: Workload): { data: Float32Array; shape: [number, number, number, number] } {
  const shape: [number, number, number, number] = [w.batch, w.channels, w.size, w.size];
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s / 2 ** 32;
  }
  return { data, shape };
}

async function worker(stack: string, workloads: Workload[], seconds: number, threads: number): Promise<void> {
  const out: Record<string, number | string> = {};
  const record = (name: string, [wall, cpu]: [number, number]) => {
    out[name] = wall;
    out[`${name}:cpu`] = cpu;
  };
  for (const w of workloads) {
    const { data, shape } = input(w);
    if (stack === 'onnx') {
      const b = await createOnnxBackend(`${w.base}.onnx`, { threads });
      record(w.name, await timeItAsync(() => b.run(data, shape), w.batch, seconds, w.warmup, w.repeats));
      out.threads = b.threads;
      await b.dispose();
    } else {
      // As the libtorch ProtectBackend: float32 NCHW in, noGrad, clamp(x + ε·G(x), 0, 1), float32 out.
      setNumThreads(threads);
      const { gen, meta } = loadGenerator(w.base);
      const step = async (): Promise<Float32Array> =>
        noGrad(() => scope(() => {
          const x = tensor(data, { shape: [...shape] });
          return x.add(gen.forward(x).mul(meta.eps)).clamp(0, 1).toFloat32Array();
        }));
      record(w.name, await timeItAsync(step, w.batch, seconds, w.warmup, w.repeats));
      out.threads = engineInfo().threads;
      gen.dispose();
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const seconds = arg('seconds', '2');
  const rounds = Number(arg('rounds', '2'));
  const threads = arg('threads', String(availableParallelism()));
  if (!(Number.isInteger(Number(threads)) && Number(threads) > 0)) throw new Error('--threads takes a positive integer');
  const widths = arg('widths', '16,64').split(',').map(Number);
  if (!widths.every((w) => Number.isInteger(w) && w > 0)) throw new Error('--widths takes positive integers, e.g. 16,64');
  if (!hasTorchPython()) {
    process.stderr.write(`bench:protect needs PyTorch for ${PYTHON} (Debian python3-torch; npm run bench:protect installs it).\n`);
    process.exit(1);
  }
  // One seeded generator per width, with BN statistics from a few train-mode forwards, saved as gue train
  // saves it and exported to ONNX next to it.
  const dir = mkdtempSync(join(tmpdir(), 'gue-bench-protect-'));
  try {
    const workloads: Workload[] = [];
    for (const width of widths) {
      const base = join(dir, `generator-w${width}`);
      const g = new Generator(width);
      const gen = new UNet({ channels: 3, width, generator: g });
      noGrad(() => scope(() => {
        gen.train();
        for (let i = 0; i < 2; i++) gen.forward(rand([8, 3, 32, 32], { generator: g }));
      }));
      gen.eval();
      saveGenerator(base, gen, {
        kind: 'gue-generator', eps: EPS, channels: 3, width, imageShape: [3, 32, 32], numClasses: 10, dataset: 'bench', steps: 0, options: {}, versions: {},
      });
      writeFileSync(`${base}.onnx`, exportOnnx(gen, { eps: EPS, channels: 3 }));
      gen.dispose();
      const common = { width, base, weights: `${base}.safetensors`, channels: 3, eps: EPS };
      workloads.push({ ...common, name: `w${width}_32x32_b64`, size: 32, batch: 64, warmup: 2, repeats: 3 });
      // 512×512 at width 64 costs ~0.35 TFLOP per image: one timed window of ≥ 2 images.
      workloads.push({ ...common, name: `w${width}_512x512_b1`, size: 512, batch: 1, warmup: 1, repeats: width >= 64 ? 1 : 2 });
    }
    const self = fileURLToPath(import.meta.url);
    const py = join(ROOT, 'bench', 'protect_torch.py');
    const spec = JSON.stringify(workloads);
    const res: Record<'onnx' | 'libtorch' | 'pytorch', Record<string, number | string>[]> = { onnx: [], libtorch: [], pytorch: [] };
    const a = () => res.onnx.push(runJson(process.execPath, [self, '--worker', 'onnx', '--spec', spec, '--seconds', seconds, '--threads', threads], 'onnxruntime worker'));
    const b = () => res.libtorch.push(runJson(process.execPath, [self, '--worker', 'libtorch', '--spec', spec, '--seconds', seconds, '--threads', threads], 'libtorch worker'));
    const c = () => res.pytorch.push(runJson(PYTHON, [py, '--workloads', spec, '--seconds', seconds, '--threads', threads], 'PyTorch script'));
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) { a(); b(); c(); } else { c(); b(); a(); }
    }
    const best = (rs: Record<string, number | string>[], k: string) => Math.max(...rs.map((x) => Number(x[k])));
    const fmt = (v: number) => (v >= 100 ? v.toFixed(1) : v.toPrecision(3));
    const ratios: Record<string, number> = {};
    const ratiosLibtorch: Record<string, number> = {};
    const ratiosCpu: Record<string, number> = {};
    const rows = [['workload (RGB, width, size, batch)', 'onnx img/s', 'libtorch img/s', 'PyTorch img/s', 'onnx/PyTorch', 'libtorch/PyTorch', 'onnx/PyTorch per CPU-s']];
    for (const w of workloads) {
      const o = best(res.onnx, w.name);
      const l = best(res.libtorch, w.name);
      const t = best(res.pytorch, w.name);
      ratios[w.name] = Number((o / t).toFixed(3));
      ratiosLibtorch[w.name] = Number((l / t).toFixed(3));
      ratiosCpu[w.name] = Number((best(res.onnx, `${w.name}:cpu`) / best(res.pytorch, `${w.name}:cpu`)).toFixed(3));
      rows.push([w.name, fmt(o), fmt(l), fmt(t), ratios[w.name]!.toFixed(3), ratiosLibtorch[w.name]!.toFixed(3), ratiosCpu[w.name]!.toFixed(3)]);
    }
    if (json) {
      process.stdout.write(JSON.stringify({ bench: 'protect', onnx: res.onnx, libtorch: res.libtorch, pytorch: res.pytorch }) + '\n');
    } else {
      const ort = (await import('onnxruntime-node')).env.versions.node;
      process.stdout.write(`bench:protect  x' = clamp(x + ε·G(x), 0, 1), eval mode; ${res.onnx[0]?.threads} threads; onnxruntime-node ${ort}, `
        + `libtorch ${engineInfo().torch}, PyTorch ${res.pytorch[0]?.torch} eager (no_grad, NCHW); best of ${rounds} rounds\n`);
      process.stdout.write(table(rows) + '\n');
    }
    process.stdout.write(JSON.stringify({ bench: 'protect', ratios, ratios_libtorch: ratiosLibtorch, ratios_per_cpu_second: ratiosCpu, threads: Number(threads) }) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--worker')) {
  const spec = JSON.parse(arg('spec', '[]')) as Workload[];
  await worker(arg('worker', 'onnx'), spec, Number(arg('seconds', '2')), Number(arg('threads', String(availableParallelism()))));
} else {
  await main();
}
