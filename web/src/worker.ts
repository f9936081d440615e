// The generator's Web Worker: ONNX Runtime Web (WebAssembly) runs here, off the page's main thread, so the page
// stays responsive while a large photo's tiles are processed. Messages: init {bytes, wasmPaths, numThreads} →
// ready {inputNames, outputNames} | error; run {id, x, shape} → result {id, y} | error {id, message}.
import * as ort from 'onnxruntime-web/wasm';

type InMsg =
  | { type: 'init'; bytes: Uint8Array; wasmPaths: string; numThreads: number }
  | { type: 'run'; id: number; x: Float32Array; shape: number[]; input: string; output: string };

let session: ort.InferenceSession | null = null;
const post = (m: unknown, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(m, transfer);

self.onmessage = async (e: MessageEvent<InMsg>) => {
  const m = e.data;
  if (m.type === 'init') {
    try {
      ort.env.wasm.wasmPaths = m.wasmPaths;
      ort.env.wasm.numThreads = m.numThreads;
      session = await ort.InferenceSession.create(m.bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      post({ type: 'ready', inputNames: session.inputNames, outputNames: session.outputNames });
    } catch (err) {
      post({ type: 'error', id: -1, message: `ONNX Runtime could not load the generator: ${(err as Error).message}` });
    }
    return;
  }
  try {
    if (!session) throw new Error('the generator is not loaded');
    const t = new ort.Tensor('float32', m.x, m.shape);
    const out = await session.run({ [m.input]: t });
    const y = out[m.output];
    if (!y) throw new Error(`the generator has no output '${m.output}'`);
    const data = (y.data as Float32Array).slice();
    t.dispose();
    y.dispose();
    post({ type: 'result', id: m.id, y: data }, [data.buffer]);
  } catch (err) {
    post({ type: 'error', id: m.id, message: (err as Error).message });
  }
};
