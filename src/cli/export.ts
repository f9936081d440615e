// `gue export --onnx <generator|run-dir> -o file.onnx`: writes a trained GUE generator, ε included, as an
// ONNX model (src/export/onnx.ts) that onnxruntime (node, web) runs without libtorch. The export is checked
// by running onnxruntime and libtorch on the same random batch (--no-verify skips it).
import type { Command } from './main.js';
import { UsageError } from './args.js';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The checkpoint base of a generator given as a run folder, a base path, or its .safetensors/.json file. */
export function generatorBase(g: string): string {
  let isDir = false;
  try {
    isDir = statSync(g).isDirectory();
  } catch { /* not there: loadGenerator says so */ }
  if (isDir) {
    if (existsSync(join(g, 'generator.json'))) return join(g, 'generator');
    throw new UsageError(`${g} is a folder without generator.json; give a gue train run folder or a generator.safetensors file`);
  }
  if (/\.onnx$/i.test(g)) throw new UsageError(`${g} is already an ONNX model; --onnx takes a libtorch generator (run folder or generator.safetensors)`);
  return g.replace(/\.(safetensors|json)$/, '');
}

export const exportCommand: Command = {
  spec: {
    name: 'export',
    summary: 'export a trained generator (ε included) as an ONNX model for onnxruntime (no libtorch needed to run it)',
    usage: 'gue export --onnx <run-dir|generator.safetensors> -o <file.onnx> [--overwrite] [--no-verify]',
    positionals: { name: '', min: 0, max: 2 },
    flags: {
      onnx: { type: 'string', description: 'the generator to export: a run folder of gue train, or its generator.safetensors' },
      o: { type: 'string', description: 'output .onnx file (never overwritten unless --overwrite)' },
      out: { type: 'string', description: 'same as -o' },
      overwrite: { type: 'boolean', description: 'replace an existing output file' },
      verify: { type: 'boolean', description: 'run onnxruntime and libtorch on a random batch and check they agree (--no-verify to skip)', default: true },
    },
  },
  async run({ flags, positionals, out }) {
    // `-o file` (one dash) reaches us as two positionals when the flag parser only knows --flags.
    let o = (flags.o ?? flags.out) as string | undefined;
    if (positionals.length > 0) {
      if (positionals.length === 2 && positionals[0] === '-o') {
        if (o !== undefined && o !== positionals[1]) throw new UsageError('give the output file once (-o or --out)');
        o = positionals[1];
      } else {
        throw new UsageError(`unexpected argument '${positionals[0]}'. Usage: gue export --onnx <run-dir|generator.safetensors> -o <file.onnx>`);
      }
    }
    if (flags.o !== undefined && flags.out !== undefined && flags.o !== flags.out) throw new UsageError('give the output file once (-o or --out)');
    const g = flags.onnx as string | undefined;
    if (!g) throw new UsageError('--onnx <generator> is required (a gue train run folder or generator.safetensors)');
    if (!o) throw new UsageError('-o <file.onnx> is required');
    if (!/\.onnx$/i.test(o)) throw new UsageError(`the output file must end in .onnx (gue protect picks the ONNX runtime by extension), got '${o}'`);
    if (existsSync(o)) {
      if (statSync(o).isDirectory()) throw new UsageError(`${o} is a folder`);
      if (flags.overwrite !== true) throw new UsageError(`${o} already exists; pass --overwrite to replace it`);
    }
    const base = generatorBase(g);

    // libtorch is needed to read the generator; imported here so `gue export --help` never loads it.
    const { loadGenerator } = await import('../game/train.js');
    const { exportOnnx } = await import('../export/onnx.js');
    const { writeFileAtomicSync } = await import('../io/atomic.js');
    const { gen, meta } = loadGenerator(base);
    if ((meta.arch ?? 'unet') !== 'unet') {
      gen.dispose();
      throw new UsageError(`${g}: a '${meta.arch}' generator (--gen-arch ${meta.arch}) cannot be exported to ONNX; only the U-Net can. Apply it with the libtorch backend (${meta.arch === 'class-templates' ? 'gue poison: it needs labels' : 'gue protect, gue poison'})`);
    }
    let bytes: Uint8Array;
    let maxDiff: number | null = null;
    try {
      bytes = exportOnnx(gen, { eps: meta.eps, channels: meta.channels, extra: { 'gue.source': resolve(`${base}.safetensors`), 'gue.steps': String(meta.steps ?? '') } });
      if (flags.verify === true) {
        const { verifyOnnxExport } = await import('../export/verify.js');
        maxDiff = await verifyOnnxExport(gen, meta.eps, bytes);
      }
    } finally {
      gen.dispose();
    }
    mkdirSync(dirname(resolve(o)), { recursive: true });
    writeFileAtomicSync(o, bytes);
    out.result(
      { out: o, bytes: bytes.length, eps: meta.eps, eps255: meta.eps * 255, channels: meta.channels, width: meta.width, max_abs_diff: maxDiff },
      `exported ${base}.safetensors → ${o}  (${(bytes.length / 1e6).toFixed(2)} MB, ε = ${(meta.eps * 255).toFixed(3)}/255, ${meta.channels} channel${meta.channels > 1 ? 's' : ''}, width ${meta.width}` +
        (maxDiff === null ? ', not verified)' : `; onnxruntime vs libtorch max |diff| ${maxDiff.toExponential(2)})`),
    );
    return 0;
  },
};
