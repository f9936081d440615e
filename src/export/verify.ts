// Checks an ONNX export against the libtorch generator it came from: both compute clamp(x + ε·G(x), 0, 1)
// on the same seeded random batch (a size that is not a multiple of 8, so the in-graph padding is checked
// too); returns the max abs difference and throws when it exceeds the tolerance.
import { Generator, noGrad, rand, scope } from '../engine/index.js';
import type { UNet } from '../nn/models/unet.js';
import { createOnnxBackendFromBytes } from '../protect/onnx-backend.js';

/** Max |onnxruntime − libtorch| accepted for an export. */
export const ONNX_TOLERANCE = 1e-4;

/** Max abs difference between the ONNX model and clamp(x + ε·gen(x), 0, 1) on a seeded [2, C, 36, 44] batch. */
export async function verifyOnnxExport(gen: UNet, eps: number, bytes: Uint8Array, shape: [number, number, number, number] = [2, gen.channels, 36, 44], tolerance = ONNX_TOLERANCE): Promise<number> {
  const wasTraining = gen.training;
  gen.eval();
  const [x, ref] = noGrad(() =>
    scope(() => {
      const xt = rand(shape, { generator: new Generator(0) });
      const p = xt.add(gen.forward(xt).mul(eps)).clamp(0, 1);
      return [xt.toTypedArray() as Float32Array, p.toTypedArray() as Float32Array];
    }),
  );
  if (wasTraining) gen.train();
  const backend = await createOnnxBackendFromBytes(bytes, 'the exported model', { threads: 1 });
  try {
    const out = await backend.run(x, shape);
    let m = 0;
    for (let i = 0; i < out.length; i++) {
      const d = Math.abs(out[i]! - ref[i]!);
      if (!(d <= m)) m = d; // NaN propagates
    }
    if (!(m <= tolerance)) throw new Error(`the ONNX export does not match the generator: max |onnxruntime − libtorch| = ${m} > ${tolerance}`);
    return m;
  } finally {
    await backend.dispose();
  }
}
