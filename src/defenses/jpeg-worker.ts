// Worker thread of the JPEG defense (jpeg.ts): re-encodes every image of a shared NCHW uint8 buffer as a
// JPEG at the given quality with sharp (libvips + mozjpeg/libjpeg-turbo), decodes it, and writes the result
// into the shared output buffer. It answers on a MessagePort and wakes the waiting caller through Atomics,
// so the caller can stay synchronous (jpeg.ts blocks on Atomics.wait and reads the answer with
// receiveMessageOnPort).
import { workerData, type MessagePort } from 'node:worker_threads';

interface Job {
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
  signal: SharedArrayBuffer;
  port: MessagePort;
  n: number;
  c: number;
  h: number;
  w: number;
  quality: number;
  chromaSubsampling: string;
}

async function run(job: Job): Promise<{ ok: true; changed: number } | { ok: false; error: string }> {
  let sharp: typeof import('sharp').default;
  try {
    sharp = (await import('sharp')).default;
  } catch (e) {
    return { ok: false, error: `the jpeg defense needs the 'sharp' package, which failed to load (${(e as Error).message}); run npm install` };
  }
  const { n, c, h, w } = job;
  const per = c * h * w;
  const src = new Uint8Array(job.input);
  const dst = new Uint8Array(job.output);
  let changed = 0;
  const one = async (i: number): Promise<void> => {
    const hwc = Buffer.alloc(per);
    const base = i * per;
    for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) hwc[p * c + ch] = src[base + ch * h * w + p]!;
    const jpg = await sharp(hwc, { raw: { width: w, height: h, channels: c as 1 | 3 } })
      .jpeg({ quality: job.quality, chromaSubsampling: job.chromaSubsampling })
      .toBuffer();
    const { data, info } = await sharp(jpg).raw().toBuffer({ resolveWithObject: true });
    if (info.width !== w || info.height !== h) throw new Error(`decoded JPEG is ${info.width}×${info.height}, expected ${w}×${h}`);
    const dc = info.channels;
    for (let ch = 0; ch < c; ch++) {
      const sc = Math.min(ch, dc - 1);
      for (let p = 0; p < h * w; p++) {
        const v = data[p * dc + sc]!;
        if (v !== src[base + ch * h * w + p]) changed++;
        dst[base + ch * h * w + p] = v;
      }
    }
  };
  try {
    const chunk = 64;
    for (let s = 0; s < n; s += chunk) {
      const jobs: Promise<void>[] = [];
      for (let i = s; i < Math.min(n, s + chunk); i++) jobs.push(one(i));
      await Promise.all(jobs);
    }
    return { ok: true, changed };
  } catch (e) {
    return { ok: false, error: `JPEG re-encoding failed: ${(e as Error).message}` };
  }
}

const job = workerData as Job;
void run(job).then((answer) => {
  job.port.postMessage(answer);
  const flag = new Int32Array(job.signal);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
