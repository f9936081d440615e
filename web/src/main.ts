// The browser page served by `gue serve`: loads the exported generator (/model.onnx) into ONNX Runtime Web
// (WebAssembly from the page's own ort/ folder, in a Web Worker: worker.ts), protects dropped photos one by one
// with protect.ts, shows before/after with L∞, PSNR and SSIM, and offers each protected PNG (and a ZIP of all)
// for download. No photo leaves the page.
import { ONNX_INPUT, ONNX_OUTPUT, readGueOnnxMeta } from '../../src/export/onnx-meta.js';
import { protectImage, type Decoded, type Generator } from './protect.js';
import { zipStore } from './zip.js';
import { decodePng, isPng } from './png-decode.js';
import './style.css';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const modelStatus = $('model-status');
const drop = $('drop');
const input = $<HTMLInputElement>('files');
const queueEl = $('queue');
const progress = $<HTMLProgressElement>('progress');
const downloadAll = $<HTMLButtonElement>('download-all');
const results = $('results');

/** Browsers cannot decode these; say so instead of a generic failure. */
const UNSUPPORTED: Record<string, string> = {
  tif: 'TIFF', tiff: 'TIFF', heic: 'HEIC', heif: 'HEIF', psd: 'Photoshop', raw: 'camera RAW', cr2: 'camera RAW', nef: 'camera RAW', arw: 'camera RAW', dng: 'camera RAW', svg: 'SVG (vector)', pdf: 'PDF',
};
/** Larger photos would need gigabytes of memory in a tab. */
const MAX_PIXELS = 40e6;

const done: { name: string; data: Uint8Array }[] = [];
const pending: File[] = [];
let generator: Generator | null = null;
let busy = false;

function fmtMp(n: number): string {
  return `${(n / 1e6).toFixed(1)} MP`;
}

function setQueue(): void {
  queueEl.textContent = busy || pending.length > 0 ? `${pending.length + (busy ? 1 : 0)} photo(s) to protect…` : done.length > 0 ? `${done.length} protected` : '';
}

/** Starts the worker that runs the generator; resolves with the run function once the session is ready. */
function startWorker(bytes: Uint8Array, numThreads: number): Promise<{ run: Generator['run'] }> {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  const waiting = new Map<number, { resolve: (y: Float32Array) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  return new Promise((resolveReady, rejectReady) => {
    worker.onerror = (e) => {
      const err = new Error(`the generator's worker failed: ${e.message || 'could not start'}`);
      rejectReady(err);
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
    };
    worker.onmessage = (e: MessageEvent) => {
      const m = e.data as { type: string; id?: number; y?: Float32Array; message?: string; inputNames?: string[]; outputNames?: string[] };
      if (m.type === 'ready') {
        if (!m.inputNames!.includes(ONNX_INPUT) || !m.outputNames!.includes(ONNX_OUTPUT)) {
          rejectReady(new Error(`model.onnx must have input '${ONNX_INPUT}' and output '${ONNX_OUTPUT}' (it has ${m.inputNames!.join(', ')} → ${m.outputNames!.join(', ')})`));
          return;
        }
        resolveReady({
          run: (x, shape) => new Promise<Float32Array>((resolve, reject) => {
            const id = nextId++;
            waiting.set(id, { resolve, reject });
            worker.postMessage({ type: 'run', id, x, shape, input: ONNX_INPUT, output: ONNX_OUTPUT }, [x.buffer]);
          }),
        });
      } else if (m.type === 'error' && m.id === -1) rejectReady(new Error(m.message));
      else {
        const w = waiting.get(m.id!);
        if (!w) return;
        waiting.delete(m.id!);
        if (m.type === 'result') w.resolve(m.y!);
        else w.reject(new Error(m.message));
      }
    };
    worker.postMessage({ type: 'init', bytes, wasmPaths: new URL('ort/', document.baseURI).href, numThreads });
  });
}

async function loadGenerator(): Promise<Generator> {
  // Threads need a cross-origin isolated page (gue serve sends the COOP/COEP headers); otherwise one thread.
  const numThreads = globalThis.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  const res = await fetch('model.onnx', { cache: 'no-store' });
  if (!res.ok) throw new Error(`the server has no generator (/model.onnx: HTTP ${res.status})`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const info = readGueOnnxMeta(bytes, 'model.onnx');
  if (info.channels !== 1 && info.channels !== 3) throw new Error(`the generator takes ${info.channels}-channel images; the page handles 1 (gray) or 3 (RGB)`);
  let source = '';
  try {
    const meta = await (await fetch('model.json', { cache: 'no-store' })).json() as { source?: string };
    if (typeof meta.source === 'string') source = meta.source;
  } catch {
    // model.json is informative only (a plain static host may not have it).
  }
  const { run } = await startWorker(bytes, numThreads);
  const eps255 = Math.round(info.eps * 255 * 100) / 100;
  modelStatus.textContent = `Generator ready: ε = ${eps255}/255, ${info.channels === 1 ? 'grayscale (colour photos are protected channel by channel)' : 'RGB'}${source ? `, from ${source}` : ''}; ${numThreads} thread(s).`;
  document.body.dataset.ready = 'true';
  return { eps: info.eps, channels: info.channels, run };
}

async function decode(file: File): Promise<Decoded> {
  const ext = (file.name.split('.').pop() ?? '').toLowerCase();
  const kind = UNSUPPORTED[ext] ?? (file.type === 'image/tiff' ? 'TIFF' : undefined);
  if (kind) throw new Error(`${kind} files cannot be read by a browser. Convert it to PNG or JPEG, or use \`gue protect\` on the command line.`);
  if (file.type && !file.type.startsWith('image/')) throw new Error(`not an image (${file.type}).`);
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  if (isPng(head)) {
    // Exact values, alpha included (the canvas would round semi-transparent colours).
    try {
      return await decodePng(new Uint8Array(await file.arrayBuffer()), MAX_PIXELS);
    } catch (e) {
      const m = (e as Error).message;
      if (m.startsWith('too large')) throw new Error(`${m.slice(11)} is too large for the browser page (max ${fmtMp(MAX_PIXELS)}); use \`gue protect\`.`);
      throw new Error(`this PNG cannot be decoded: ${m}.`);
    }
  }
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(file, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch {
    throw new Error('this file is not an image the browser can decode (supported: PNG, JPEG, WebP, GIF, BMP, AVIF), or it is damaged.');
  }
  try {
    const { width, height } = bmp;
    if (width * height > MAX_PIXELS) throw new Error(`${width}×${height} (${fmtMp(width * height)}) is too large for the browser page (max ${fmtMp(MAX_PIXELS)}); use \`gue protect\`.`);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true, colorSpace: 'srgb' });
    if (!ctx) throw new Error('this browser has no 2D canvas.');
    ctx.drawImage(bmp, 0, 0);
    return { width, height, rgba: ctx.getImageData(0, 0, width, height).data };
  } finally {
    bmp.close();
  }
}

function outName(name: string): string {
  const base = name.replace(/\.[^.]*$/, '') || 'photo';
  let n = `${base}.protected.png`;
  for (let k = 2; done.some((d) => d.name === n); k++) n = `${base}.protected-${k}.png`;
  return n;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function figure(caption: string, src: string, alt: string): HTMLElement {
  const f = el('figure');
  f.append(el('img', { src, alt }), el('figcaption', {}, caption));
  return f;
}

async function protectFile(file: File): Promise<void> {
  const card = el('article', { class: 'card', 'data-file': file.name, 'data-state': 'working' });
  const title = el('h2', {}, file.name);
  const status = el('p', { class: 'status' }, 'Decoding…');
  card.append(title, status);
  results.prepend(card);
  try {
    if (!generator) throw new Error('the generator is not loaded.');
    const img = await decode(file);
    status.textContent = `Protecting ${img.width}×${img.height}…`;
    progress.hidden = false;
    const t0 = performance.now();
    const r = await protectImage(img, generator, (d, t) => {
      progress.max = t;
      progress.value = d;
    });
    const secs = (performance.now() - t0) / 1000;
    const name = outName(file.name);
    done.push({ name, data: r.png });
    const url = URL.createObjectURL(new Blob([r.png as BlobPart], { type: 'image/png' }));
    const pair = el('div', { class: 'pair' });
    pair.append(figure('Original', URL.createObjectURL(file), `original ${file.name}`), figure('Protected', url, `protected ${file.name}`));
    const m = r.metrics;
    const table = el('dl', { class: 'metrics' });
    const add = (k: string, v: string, key: string): void => {
      table.append(el('dt', {}, k), el('dd', { 'data-metric': key }, v));
    };
    add('L∞', `${m.linf255}/255 (budget ${r.bound255}/255)`, 'linf');
    add('PSNR', Number.isFinite(m.psnr) ? `${m.psnr.toFixed(2)} dB` : '∞ (unchanged)', 'psnr');
    add('SSIM', m.ssim.toFixed(4), 'ssim');
    add('Size', `${r.width}×${r.height}${r.gray ? ', gray' : ''}${r.hasAlpha ? ', alpha kept' : ''}`, 'size');
    add('Time', `${secs.toFixed(2)} s`, 'time');
    const a = el('a', { href: url, download: name, class: 'download' }, `Download ${name}`);
    status.textContent = 'Protected.';
    card.append(pair, table, a);
    card.dataset.state = 'done';
    card.dataset.linf = String(m.linf255);
    card.dataset.psnr = String(m.psnr);
    card.dataset.ssim = String(m.ssim);
    downloadAll.disabled = false;
  } catch (e) {
    card.dataset.state = 'error';
    card.classList.add('error');
    status.textContent = `Could not protect ${file.name}: ${(e as Error).message}`;
  } finally {
    progress.hidden = true;
  }
}

async function pump(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    while (pending.length > 0) {
      setQueue();
      await protectFile(pending.shift()!);
    }
  } finally {
    busy = false;
    setQueue();
  }
}

function enqueue(files: Iterable<File>): void {
  for (const f of files) pending.push(f);
  setQueue();
  if (generator) void pump();
}

input.addEventListener('change', () => {
  if (input.files) enqueue(Array.from(input.files));
  input.value = '';
});
for (const ev of ['dragenter', 'dragover'] as const) {
  drop.addEventListener(ev, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
}
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer?.files) enqueue(Array.from(e.dataTransfer.files));
});
// Photos dropped anywhere else must not make the browser navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

downloadAll.addEventListener('click', () => {
  const zip = zipStore(done);
  const a = el('a', { href: URL.createObjectURL(new Blob([zip as BlobPart], { type: 'application/zip' })), download: 'protected-photos.zip' });
  document.body.append(a);
  a.click();
  a.remove();
});

loadGenerator().then(
  (g) => {
    generator = g;
    void pump();
  },
  (e: unknown) => {
    modelStatus.textContent = `Cannot protect: ${(e as Error).message}`;
    document.getElementById('model')?.classList.add('error');
    document.body.dataset.ready = 'error';
  },
);
