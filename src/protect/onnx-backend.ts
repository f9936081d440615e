// The protection-only runtime: runs an exported GUE generator (`gue export --onnx`, src/export/onnx.ts) on
// onnxruntime-node's CPU execution provider. No libtorch: this file and what it imports never load the
// native addon, so `gue protect --generator g.onnx` works on an install where libtorch is absent.
// The graph computes clamp(x + ε·G(x), 0, 1) itself (GUE, AAAI 2024: one forward pass per image) and pads
// any H×W to a multiple of 8 inside the graph, so `multiple` is 1.
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { ProtectBackend } from './backend.js';
import { ONNX_INPUT, ONNX_OUTPUT, OnnxModelError, readGueOnnxMeta, type GueOnnxMeta } from '../export/onnx-meta.js';

export interface OnnxBackendOptions {
  /** Intra-op threads; default GUE_NUM_THREADS or one per core. */
  threads?: number;
}

/** The ProtectBackend of an ONNX generator, plus its metadata. */
export interface OnnxBackend extends ProtectBackend {
  readonly meta: GueOnnxMeta;
  readonly threads: number;
}

function defaultThreads(): number {
  const env = Number(process.env.GUE_NUM_THREADS ?? '');
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/** Loads an exported generator (.onnx) for protection. Clear errors for missing files and non-gue models. */
export async function createOnnxBackend(path: string, opts: OnnxBackendOptions = {}): Promise<OnnxBackend> {
  let bytes: Uint8Array;
  try {
    if (!statSync(path).isFile()) throw new OnnxModelError(`${path} is not a file`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof OnnxModelError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new OnnxModelError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${(e as Error).message})`);
  }
  const meta = readGueOnnxMeta(bytes, path);
  const threads = opts.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);

  let ort: typeof import('onnxruntime-node');
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    throw new Error(`onnxruntime-node is not installed or cannot load (${(e as Error).message}); run \`npm install\``);
  }
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
  } catch (e) {
    throw new OnnxModelError(`${path}: onnxruntime cannot load the model (${(e as Error).message})`);
  }
  if (!session.inputNames.includes(ONNX_INPUT) || !session.outputNames.includes(ONNX_OUTPUT)) {
    await session.release();
    throw new OnnxModelError(`${path}: the graph has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]; a gue generator has '${ONNX_INPUT}' → '${ONNX_OUTPUT}'`);
  }
  let released = false;
  return {
    kind: 'onnxruntime',
    channels: meta.channels,
    eps: meta.eps,
    multiple: 1,
    meta,
    threads,
    async run(x: Float32Array, shape: [number, number, number, number]): Promise<Float32Array> {
      if (released) throw new Error('the ONNX backend was disposed');
      const [n, c, h, w] = shape;
      if (shape.length !== 4 || ![n, c, h, w].every((d) => Number.isInteger(d) && d >= 1)) throw new Error(`expected a shape [n, c, h, w] of positive integers, got [${shape.join(', ')}]`);
      if (c !== meta.channels) throw new Error(`the generator takes ${meta.channels}-channel images, got ${c} channels`);
      if (x.length !== n * c * h * w) throw new Error(`the data has ${x.length} values but the shape [${shape.join(', ')}] needs ${n * c * h * w}`);
      const input = new ort.Tensor('float32', x, shape);
      try {
        const res = await session.run({ [ONNX_INPUT]: input });
        return res[ONNX_OUTPUT]!.data as Float32Array;
      } finally {
        input.dispose();
      }
    },
    async dispose(): Promise<void> {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}
