// Decoding and encoding photos for `gue protect`, with sharp (loaded lazily, so a missing sharp binary is a
// clear error rather than a crash at start-up).
// - Inputs: PNG, JPEG, WebP, TIFF (whatever sharp reads). EXIF orientation is applied (sharp .rotate()), so
//   the pixels are protected as they are displayed. Decoding is strict (failOn 'warning'): a truncated or
//   corrupt file is an error, never a grey patch.
// - Colour: gray images (libvips interpretation b-w or grey16) stay gray (1 channel, or 2 with alpha);
//   everything else (sRGB, CMYK, palette, 16-bit) becomes 8-bit sRGB (3 channels, or 4 with alpha).
// - Outputs: PNG (lossless; default), JPEG or WebP at a given quality. Metadata (EXIF, ICC) is not copied:
//   the pixels are sRGB and already oriented, and location data does not travel with a protected photo.
//   JPEG has no alpha: sharp flattens it onto black, and the caller is warned.
import type { RawImage } from './metrics.js';

type SharpFn = typeof import('sharp').default;
let sharpPromise: Promise<SharpFn> | undefined;

export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

export async function loadSharp(): Promise<SharpFn> {
  sharpPromise ??= import('sharp').then(
    (m) => m.default,
    (e: unknown) => {
      sharpPromise = undefined;
      throw new ImageError(`reading and writing images needs the 'sharp' package, which failed to load (${(e as Error).message}); run npm install`);
    },
  );
  return sharpPromise;
}

export type OutputFormat = 'png' | 'jpg' | 'webp';
export const OUTPUT_EXTENSIONS: Readonly<Record<OutputFormat, string>> = { png: '.png', jpg: '.jpg', webp: '.webp' };

export interface DecodedImage extends RawImage {
  /** The source format as sharp reports it (png, jpeg, webp, tiff, ...). */
  format: string;
  /** EXIF orientation tag (1 = none), applied to the pixels. */
  orientation: number;
}

const clean = (e: unknown): string => ((e as Error).message ?? String(e)).trim();

/** Decodes an image file or buffer to oriented 8-bit pixels (see the header for the colour rules). */
export async function decodeImage(input: string | Buffer, gray?: boolean): Promise<DecodedImage> {
  const sharp = await loadSharp();
  let meta;
  try {
    meta = await sharp(input, { failOn: 'warning' }).metadata();
  } catch (e) {
    throw new ImageError(`cannot read image (${clean(e)})`);
  }
  const isGray = gray ?? (meta.space === 'b-w' || meta.space === 'grey16');
  try {
    // Always decode to sRGB (+ alpha): libvips drops alpha when asked for b-w. Gray sources give R = G = B,
    // and are packed back to gray (+ alpha) below.
    const { data, info } = await sharp(input, { failOn: 'warning' })
      .rotate()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 && info.channels !== 4) throw new Error(`decoded to ${info.channels} channels`);
    let px = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let channels: number = info.channels;
    if (isGray) {
      const n = info.width * info.height;
      const c = info.channels;
      const g = c === 4 ? 2 : 1;
      const out = new Uint8Array(n * g);
      for (let p = 0; p < n; p++) {
        const r = px[p * c]!;
        const gg = px[p * c + 1]!;
        const b = px[p * c + 2]!;
        // Gray sources decode to R = G = B; a lossy (YUV) file of a gray image may not, exactly: take the luma.
        out[p * g] = r === gg && r === b ? r : (19595 * r + 38470 * gg + 7471 * b + 32768) >>> 16;
        if (g === 2) out[p * g + 1] = px[p * c + 3]!;
      }
      px = out;
      channels = g;
    }
    return {
      data: px,
      width: info.width,
      height: info.height,
      channels,
      format: meta.format ?? 'unknown',
      orientation: meta.orientation ?? 1,
    };
  } catch (e) {
    throw new ImageError(`cannot decode image (${clean(e)})`);
  }
}

/** Encodes pixels; quality (1–100) applies to jpg and webp. */
export async function encodeImage(img: RawImage, format: OutputFormat, quality = 90): Promise<Buffer> {
  const sharp = await loadSharp();
  let p = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: img.channels as 1 | 2 | 3 | 4 },
  });
  // Without this, sharp writes gray pixels as an RGB file.
  if (img.channels <= 2) p = p.toColourspace('b-w');
  switch (format) {
    case 'png': return p.png({ compressionLevel: 6 }).toBuffer();
    case 'jpg': return p.jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
    case 'webp': return p.webp({ quality }).toBuffer();
  }
}
