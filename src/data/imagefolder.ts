// An image-folder reader in the layout of torchvision's ImageFolder: <dir>/<class>/**/<image>, one
// subfolder per class, class index = position of the folder name in sorted order (or in classNames).
// Images (PNG, JPEG, WebP, TIFF) are decoded with sharp (loaded lazily, so the rest of the package works
// without its native binary), EXIF orientation applied, resized to a fixed size, converted to gray or RGB
// and stored as CHW uint8, like every other ImageDataset.
//
// Decoding choices (documented so results are reproducible):
// - resize: fit 'fill' (default) scales to exactly [h, w] ignoring the aspect ratio, like torchvision
//   Resize((h, w)); fit 'cover' scales to cover [h, w] keeping the aspect ratio, then center-crops, like
//   Resize(min) + CenterCrop((h, w)). The kernel is sharp's default (lanczos3). An image already of the
//   target size (after orientation) is not resampled, so its pixels come through exactly.
// - alpha is dropped (not composited), like PIL's convert('RGB'); CMYK / gray / palette become sRGB.
// - gray is PIL's convert('L') of the RGB pixels: L = (19595 R + 38470 G + 7471 B + 32768) >> 16, so a gray
//   source image comes through unchanged.
// - decoding is strict (sharp failOn 'warning'): a truncated or corrupt file is an error, not a grey patch.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import { DataError } from './idx.js';
import type { ImageDataset } from './dataset.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff'];

export interface ImageFolderOptions {
  /** Output size: [height, width], or one number for a square. */
  size: [number, number] | number;
  /** 1: gray (PIL 'L' luma), 3: RGB. */
  channels: 1 | 3;
  /**
   * The class folders, in class-index order (e.g. the classNames of the training split, so that a test
   * split gets the same mapping). Every listed folder must exist, and no other class folder may be present.
   * Default: all non-hidden subfolders, sorted by name (code-unit order, like Python's sorted()).
   */
  classNames?: string[];
  /** 'fill' (default): exact resize ignoring aspect ratio; 'cover': keep aspect ratio, center-crop. */
  fit?: 'fill' | 'cover';
  /** Images decoded at once (default: min(16, available parallelism)). */
  concurrency?: number;
}

type SharpFn = typeof import('sharp').default;
let sharpPromise: Promise<SharpFn> | undefined;

async function loadSharp(): Promise<SharpFn> {
  sharpPromise ??= import('sharp').then(
    (m) => m.default,
    (e: unknown) => {
      sharpPromise = undefined;
      throw new DataError(`reading image folders needs the 'sharp' package, which failed to load (${(e as Error).message}); run npm install`);
    },
  );
  return sharpPromise;
}

const isHidden = (name: string): boolean => name.startsWith('.');
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Image files under dir (recursively, following links), sorted by relative path; hidden entries skipped. */
function listImages(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    const names = readdirSync(d).filter((n) => !isHidden(n)).sort(byCodeUnit);
    for (const n of names) {
      const p = join(d, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue; // dangling link
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && IMAGE_EXTENSIONS.includes(extname(n).toLowerCase())) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function parseSize(size: ImageFolderOptions['size']): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  for (const v of [h, w]) {
    if (!Number.isInteger(v) || v < 1 || v > 16384) throw new DataError(`image size must be positive integers, got ${JSON.stringify(size)}`);
  }
  return [h, w];
}

/** Loads <dir>/<class>/.../<image> (nested folders allowed) into an in-memory ImageDataset of shape [channels, h, w]. */
export async function loadImageFolder(dir: string, o: ImageFolderOptions): Promise<ImageDataset> {
  const [h, w] = parseSize(o.size);
  const channels = o.channels;
  if (channels !== 1 && channels !== 3) throw new DataError(`channels must be 1 or 3, got ${String(channels)}`);
  const fit = o.fit ?? 'fill';
  if (fit !== 'fill' && fit !== 'cover') throw new DataError(`fit must be 'fill' or 'cover', got ${String(fit)}`);
  if (!existsSync(dir)) throw new DataError(`${dir}: image folder not found`);
  if (!isDir(dir)) throw new DataError(`${dir}: not a folder (expected one subfolder per class)`);

  const found = readdirSync(dir).filter((n) => !isHidden(n) && isDir(join(dir, n))).sort(byCodeUnit);
  let classes: string[];
  if (o.classNames) {
    classes = [...o.classNames];
    if (classes.length === 0) throw new DataError(`${dir}: classNames is empty`);
    if (new Set(classes).size !== classes.length) throw new DataError(`${dir}: classNames has duplicates`);
    const missing = classes.filter((c) => !found.includes(c));
    if (missing.length > 0) throw new DataError(`${dir}: class folder(s) ${missing.map((c) => JSON.stringify(c)).join(', ')} not found`);
    const extra = found.filter((c) => !classes.includes(c));
    if (extra.length > 0) throw new DataError(`${dir}: folder(s) ${extra.map((c) => JSON.stringify(c)).join(', ')} are not among the given class names`);
  } else {
    classes = found;
    if (classes.length === 0) throw new DataError(`${dir}: no class subfolders (expected <dir>/<class>/<image files>)`);
  }

  const files: string[] = [];
  const labelList: number[] = [];
  classes.forEach((c, k) => {
    const imgs = listImages(join(dir, c));
    if (imgs.length === 0) throw new DataError(`${join(dir, c)}: class "${c}" has no image files (${IMAGE_EXTENSIONS.join(' ')})`);
    for (const f of imgs) {
      files.push(f);
      labelList.push(k);
    }
  });

  const sharp = await loadSharp();
  const n = files.length;
  const per = channels * h * w;
  const plane = h * w;
  const images = new Uint8Array(n * per);

  const decode = async (i: number): Promise<void> => {
    const file = files[i]!;
    let data: Buffer;
    let info: { width: number; height: number; channels: number };
    try {
      const r = await sharp(file, { failOn: 'warning' })
        .rotate() // EXIF orientation
        .resize(w, h, fit === 'fill' ? { fit: 'fill' } : { fit: 'cover', position: 'centre' })
        .removeAlpha()
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      data = r.data;
      info = r.info;
    } catch (e) {
      throw new DataError(`${file}: cannot decode image (${(e as Error).message.trim()})`);
    }
    if (info.width !== w || info.height !== h || info.channels !== 3 || data.length !== plane * 3) {
      throw new DataError(`${file}: decoded to ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x3`);
    }
    const out = images.subarray(i * per, (i + 1) * per);
    if (channels === 3) {
      for (let p = 0; p < plane; p++) {
        out[p] = data[3 * p]!;
        out[plane + p] = data[3 * p + 1]!;
        out[2 * plane + p] = data[3 * p + 2]!;
      }
    } else {
      for (let p = 0; p < plane; p++) {
        out[p] = (19595 * data[3 * p]! + 38470 * data[3 * p + 1]! + 7471 * data[3 * p + 2]! + 32768) >>> 16;
      }
    }
  };

  const workers = Math.max(1, Math.min(o.concurrency ?? Math.min(16, availableParallelism()), n));
  let next = 0;
  let failed: unknown;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (failed === undefined && next < n) {
        const i = next++;
        try {
          await decode(i);
        } catch (e) {
          failed ??= e;
        }
      }
    }),
  );
  if (failed !== undefined) throw failed;

  const labels = classes.length <= 256 ? Uint8Array.from(labelList) : Int32Array.from(labelList);
  return { images, labels, shape: [channels, h, w], numClasses: classes.length, classNames: classes, source: dir };
}

