// `gue protect` as a library: protect image files and folders with a generator, one forward pass per image
// (GUE, AAAI 2024), writing new files and reporting per-image quality. Never prints: it emits events
// (a progress event per image, a 'result' event per protected image, a 'warn' log per failed file).
//
// Rules (each tested in test/protect.test.ts):
// - Inputs: files (PNG, JPEG, WebP, TIFF by extension) and folders. Folders are walked recursively by
//   default (hidden entries and files with other extensions skipped and counted; `recursive: false` takes
//   only the folder's own files). The output folder is never walked, even when it lies inside an input.
// - Output names mirror the inputs: a file argument → <out>/<name>.<fmt>; a folder argument →
//   <out>/<relative path inside the folder>.<fmt> (sub-folders recreated). Two inputs that map to the same
//   output name are an error for the later one.
// - Inputs are never overwritten (not even with overwrite); existing outputs only with overwrite.
// - Each output is encoded in memory, decoded again and measured (L∞ / PSNR / SSIM against the oriented
//   original), then written atomically (temp file + rename): a failure leaves no partial file. For PNG the
//   L∞ on the decoded bytes must be ≤ ⌊255ε⌋, or nothing is written. JPEG/WebP are lossy: their stored
//   L∞ can exceed ε, and a warning says that lossy compression weakens the protection.
// - A file that cannot be read, decoded or written is reported, and the others go on.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { silent, type EventSink } from '../util/events.js';
import type { ProtectBackend } from './backend.js';
import { APPLY_DEFAULTS, UNET_GRID, colourMode, protectPixels, type ApplyOptions } from './apply.js';
import { OUTPUT_EXTENSIONS, decodeImage, encodeImage, type OutputFormat } from './codec.js';
import { colourChannels, imageQuality, type RawImage } from './metrics.js';

export const INPUT_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff'];

export interface ProtectFilesOptions extends ApplyOptions {
  format: OutputFormat;
  /** 1–100, for jpg and webp. */
  quality: number;
  overwrite: boolean;
  recursive: boolean;
}

export const PROTECT_DEFAULTS: Readonly<ProtectFilesOptions> = Object.freeze({
  ...APPLY_DEFAULTS, format: 'png' as OutputFormat, quality: 90, overwrite: false, recursive: true,
});

export interface ImageReport {
  input: string;
  output: string;
  width: number;
  height: number;
  /** Colour channels of the image (1 gray, 3 RGB) and whether it had alpha. */
  channels: number;
  alpha: boolean;
  /** How the generator was applied: direct, replicate (gray image, RGB generator), luminance (RGB image, gray generator). */
  mode: string;
  linf255: number;
  psnr: number;
  ssim: number;
  seconds: number;
}

export interface FileFailure {
  input: string;
  error: string;
}

export interface ProtectSummary {
  images: ImageReport[];
  failed: FileFailure[];
  /** Files inside input folders that are not images (by extension), not touched. */
  skipped: string[];
  /** ⌊255ε⌋: the bound the stored bytes must respect (PNG). */
  bound255: number;
  maxLinf255: number;
  meanPsnr: number;
  meanSsim: number;
  minSsim: number;
  seconds: number;
}

interface Job {
  input: string;
  output: string;
}

const isImageName = (n: string): boolean => INPUT_EXTENSIONS.includes(extname(n).toLowerCase());
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Plans input → output pairs. Problems with arguments (missing paths) become failures, not exceptions. */
export function planJobs(inputs: string[], outDir: string, o: Pick<ProtectFilesOptions, 'format' | 'recursive'>): { jobs: Job[]; failed: FileFailure[]; skipped: string[] } {
  const out = resolve(outDir);
  const ext = OUTPUT_EXTENSIONS[o.format];
  const jobs: Job[] = [];
  const failed: FileFailure[] = [];
  const skipped: string[] = [];
  const owner = new Map<string, string>();
  const add = (input: string, rel: string): void => {
    const target = join(out, rel.slice(0, rel.length - extname(rel).length) + ext);
    const prev = owner.get(target);
    if (prev !== undefined) {
      failed.push({ input, error: `its output ${target} would also be the output of ${prev}; rename one of them` });
      return;
    }
    owner.set(target, input);
    jobs.push({ input, output: target });
  };
  const walk = (root: string, dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort(byCodeUnit);
    } catch (e) {
      failed.push({ input: dir, error: `cannot list folder (${(e as Error).message})` });
      return;
    }
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const p = join(dir, n);
      if (resolve(p) === out) continue;
      let st;
      try {
        st = statSync(p);
      } catch {
        skipped.push(p);
        continue;
      }
      if (st.isDirectory()) {
        if (o.recursive) walk(root, p);
      } else if (st.isFile() && isImageName(n)) add(p, relative(root, p));
      else skipped.push(p);
    }
  };
  for (const input of inputs) {
    let st;
    try {
      st = statSync(input);
    } catch {
      failed.push({ input, error: 'no such file or folder' });
      continue;
    }
    if (st.isDirectory()) walk(input, input);
    else if (!isImageName(input)) failed.push({ input, error: `unsupported file type '${extname(input) || '(none)'}' (supported: ${INPUT_EXTENSIONS.join(' ')})` });
    else add(input, basename(input));
  }
  return { jobs, failed, skipped };
}

function withoutAlpha(img: RawImage): RawImage {
  if (img.channels !== 2 && img.channels !== 4) return img;
  const cc = img.channels - 1;
  const n = img.width * img.height;
  const data = new Uint8Array(n * cc);
  for (let p = 0; p < n; p++) for (let c = 0; c < cc; c++) data[p * cc + c] = img.data[p * img.channels + c]!;
  return { data, width: img.width, height: img.height, channels: cc };
}

/** Protects one decoded image; returns the encoded output bytes and their measured quality. */
export async function protectImage(img: RawImage, backend: ProtectBackend, o: ProtectFilesOptions): Promise<{ bytes: Buffer; stored: RawImage; quality: ReturnType<typeof imageQuality> }> {
  const protectedPx = await protectPixels(img, backend, o);
  const outImg: RawImage = { data: protectedPx, width: img.width, height: img.height, channels: img.channels };
  const bytes = await encodeImage(outImg, o.format, o.quality);
  // Measure what will be stored: decode the encoded bytes again.
  const gray = colourChannels(img.channels) === 1;
  let stored: RawImage = await decodeImage(bytes, gray);
  let ref = img;
  if (stored.channels !== img.channels) {
    ref = withoutAlpha(img);
    stored = withoutAlpha(stored);
  }
  const quality = imageQuality(ref, stored);
  if (o.format === 'png') {
    const bound = Math.floor(backend.eps * 255 + 1e-6);
    if (quality.linf255 > bound) throw new Error(`internal error: the stored PNG exceeds the L∞ budget (${quality.linf255}/255 > ${bound}/255); nothing written`);
    for (let i = 0; i < img.data.length; i++) {
      if (stored.data[i] !== outImg.data[i]) throw new Error('internal error: the PNG does not decode to the protected pixels; nothing written');
    }
  }
  return { bytes, stored, quality };
}

const messageOf = (e: unknown): string => ((e as Error).message ?? String(e)).trim();

/** Protects files and folders into outDir (see the header). */
export async function protectFiles(inputs: string[], outDir: string, backend: ProtectBackend, opts: Partial<ProtectFilesOptions> = {}, onEvent: EventSink = silent): Promise<ProtectSummary> {
  const o: ProtectFilesOptions = { ...PROTECT_DEFAULTS, ...opts };
  if (!(o.quality >= 1 && o.quality <= 100)) throw new Error(`quality must be in 1..100, got ${o.quality}`);
  const grid = Math.max(backend.multiple, UNET_GRID);
  if (o.tile > 0 && o.tile % grid !== 0) throw new Error(`tile must be a multiple of ${grid}, got ${o.tile}`);
  if (o.tile > 0 && o.tile < 2 * o.overlap + grid) throw new Error(`tile ${o.tile} is too small for an overlap of ${o.overlap} (need ≥ ${2 * o.overlap + grid})`);
  const t0 = Date.now();
  if (o.format !== 'png') {
    onEvent({ type: 'log', level: 'warn', message: `${o.format.toUpperCase()} is lossy: compression (quality ${o.quality}) changes the protective perturbation and weakens the protection, and the stored change can exceed ε; prefer PNG` });
  }
  const { jobs, failed, skipped } = planJobs(inputs, outDir, o);
  for (const f of failed) onEvent({ type: 'log', level: 'warn', message: `${f.input}: ${f.error}` });
  const inputsAbs = new Set(jobs.map((j) => resolve(j.input)));
  const images: ImageReport[] = [];
  const warned = new Set<string>();
  let step = 0;
  for (const job of jobs) {
    const s0 = Date.now();
    try {
      if (inputsAbs.has(resolve(job.output))) throw new Error(`its output ${job.output} is an input; inputs are never overwritten (choose another -o)`);
      if (!o.overwrite && existsSync(job.output)) throw new Error(`${job.output} already exists; pass --overwrite to replace it`);
      let buf: Buffer;
      try {
        buf = readFileSync(job.input);
      } catch (e) {
        throw new Error(`cannot read file (${messageOf(e)})`);
      }
      const img = await decodeImage(buf);
      const cc = colourChannels(img.channels);
      let mode: string;
      try {
        mode = colourMode(cc, backend.channels);
      } catch (e) {
        throw new Error(messageOf(e));
      }
      if (mode === 'replicate' && !warned.has(mode)) {
        warned.add(mode);
        onEvent({ type: 'log', level: 'warn', message: 'gray images under an RGB generator get the luma of its perturbation, which can be much weaker than ε; use a gray (1-channel) generator for gray photos' });
      }
      const alpha = img.channels === 2 || img.channels === 4;
      if (alpha && o.format === 'jpg') onEvent({ type: 'log', level: 'warn', message: `${job.input}: JPEG has no alpha channel; transparency is flattened onto black` });
      const { bytes, quality } = await protectImage(img, backend, o);
      mkdirSync(dirname(job.output), { recursive: true });
      if (!o.overwrite && existsSync(job.output)) throw new Error(`${job.output} already exists; pass --overwrite to replace it`);
      writeFileAtomicSync(job.output, bytes);
      const r: ImageReport = {
        input: job.input, output: job.output, width: img.width, height: img.height, channels: cc, alpha, mode,
        linf255: quality.linf255, psnr: quality.psnr, ssim: quality.ssim, seconds: (Date.now() - s0) / 1000,
      };
      images.push(r);
      onEvent({ type: 'result', task: 'image', metrics: { input: r.input, output: r.output, width: r.width, height: r.height, linf255: r.linf255, psnr: r.psnr, ssim: r.ssim } });
    } catch (e) {
      const f = { input: job.input, error: messageOf(e) };
      failed.push(f);
      onEvent({ type: 'log', level: 'warn', message: `${f.input}: ${f.error}` });
    }
    onEvent({ type: 'progress', task: 'protect', step: ++step, total: jobs.length });
  }
  const finite = images.map((r) => r.psnr).filter((v) => Number.isFinite(v));
  return {
    images,
    failed,
    skipped,
    bound255: Math.floor(backend.eps * 255 + 1e-6),
    maxLinf255: images.reduce((m, r) => Math.max(m, r.linf255), 0),
    meanPsnr: finite.length === 0 ? (images.length > 0 ? Infinity : NaN) : finite.reduce((a, b) => a + b, 0) / finite.length,
    meanSsim: images.length === 0 ? NaN : images.reduce((a, r) => a + r.ssim, 0) / images.length,
    minSsim: images.length === 0 ? NaN : Math.min(...images.map((r) => r.ssim)),
    seconds: (Date.now() - t0) / 1000,
  };
}
