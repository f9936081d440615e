// JPEG compression of the training set, the strongest "image shortcut squeezing" defense (Liu, Zhao & Larson,
// "Image Shortcut Squeezing: Countering Perturbative Availability Poisons with Compression", ICML 2023):
// every training image is JPEG-encoded at quality q (default 10, the ISS setting "JPEG-10") and decoded back.
// Encoding uses sharp (libvips), chroma subsampling 4:2:0 by default as PIL's encoder at low quality.
// sharp is asynchronous; to keep DataDefense.apply (and trainVictim) synchronous the work runs in a worker
// thread and the caller blocks on Atomics.wait until it answers (jpeg-worker.ts). 1- and 3-channel images only.
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { channelProblem, type DataDefense } from './types.js';
import type { ImageDataset } from '../data/dataset.js';

/** Re-encodes every image as JPEG at `quality` (1–100); returns the decoded images (same shape). */
export function jpegRoundTrip(ds: ImageDataset, quality: number, chromaSubsampling = '4:2:0'): ImageDataset {
  const [c, h, w] = ds.shape;
  const problem = channelProblem(jpeg, c, ds.source);
  if (problem) throw new Error(problem);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new Error(`JPEG quality must be an integer in 1..100, got ${quality}`);
  const n = ds.labels.length;
  const input = new SharedArrayBuffer(ds.images.length);
  new Uint8Array(input).set(ds.images);
  const output = new SharedArrayBuffer(ds.images.length);
  const signal = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./jpeg-worker.js', import.meta.url), {
    workerData: { input, output, signal, port: port2, n, c, h, w, quality, chromaSubsampling },
    transferList: [port2],
  });
  const flag = new Int32Array(signal);
  // A generous deadline (a hung worker cannot be detected otherwise while this thread waits): 50 ms per image,
  // at least 5 minutes. Measured: about 4 ms per 28×28 image on 2 heavily loaded cores.
  const limitS = Math.max(300, Math.ceil(n * 0.05));
  const deadline = Date.now() + limitS * 1000;
  try {
    while (Atomics.load(flag, 0) === 0) {
      if (Date.now() > deadline) throw new Error(`JPEG re-encoding of ${n} images did not finish in ${limitS} s`);
      Atomics.wait(flag, 0, 0, 1000);
    }
    const msg = receiveMessageOnPort(port1)?.message as { ok: true; changed: number } | { ok: false; error: string } | undefined;
    if (!msg) throw new Error('the JPEG worker stopped without an answer');
    if (!msg.ok) throw new Error(msg.error);
    return { ...ds, images: new Uint8Array(output).slice(), source: `${ds.source} (jpeg q=${quality})` };
  } finally {
    port1.close();
    void worker.terminate();
  }
}

export const jpeg: DataDefense = {
  kind: 'data',
  channels: [1, 3],
  name: 'jpeg',
  title: 'JPEG compression of the training images (ISS)',
  cite: 'Liu, Zhao & Larson, "Image Shortcut Squeezing: Countering Perturbative Availability Poisons with Compression", ICML 2023',
  options: {
    quality: { type: 'int', description: 'JPEG quality 1–100 (ISS uses 10)', default: 10, min: 1, max: 100 },
    subsampling: { type: 'string', description: 'chroma subsampling for colour images', default: '4:2:0', choices: ['4:2:0', '4:4:4'] },
  },
  apply(ds, options) {
    return jpegRoundTrip(ds, options.quality as number, options.subsampling as string);
  },
};
