// A PNG decoder (PNG spec, 3rd ed.: colour types 0/2/3/4/6, bit depths 1–16, tRNS, Adam7 interlacing) to exact
// 8-bit RGBA. The browser's canvas stores premultiplied alpha, which moves the colours of semi-transparent
// pixels by a step or more; decoding PNGs here keeps every original value, so the L∞ bound the page checks is
// the bound against the file's real pixels. 16-bit samples are rounded to 8 bits (v / 257). zlib via
// DecompressionStream('deflate'). Other formats (JPEG, WebP, …) go through the browser's decoder.

export const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

export function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && PNG_SIGNATURE.every((v, i) => b[i] === v);
}

export interface DecodedPng {
  width: number;
  height: number;
  rgba: Uint8Array;
}

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const ADAM7 = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
] as const; // [x0, y0, dx, dy]

/** Decodes a PNG file; `maxPixels` guards memory before anything large is allocated. */
export async function decodePng(file: Uint8Array, maxPixels: number): Promise<DecodedPng> {
  if (!isPng(file)) throw new Error('not a PNG file');
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let p = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colorType = -1;
  let interlace = 0;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (p + 8 <= file.length) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(file[p + 4]!, file[p + 5]!, file[p + 6]!, file[p + 7]!);
    if (p + 12 + len > file.length) throw new Error(`the PNG is truncated (chunk ${type})`);
    const data = file.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = dv.getUint32(p + 8);
      height = dv.getUint32(p + 12);
      depth = data[8]!;
      colorType = data[9]!;
      interlace = data[12]!;
      if (data[10] !== 0 || data[11] !== 0 || interlace > 1) throw new Error('unknown PNG compression, filter or interlace method');
      const ok = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] }[colorType as 0 | 2 | 3 | 4 | 6];
      if (!ok || !ok.includes(depth)) throw new Error(`invalid PNG colour type ${colorType} with bit depth ${depth}`);
      if (width === 0 || height === 0) throw new Error('the PNG has no pixels');
      if (width * height > maxPixels) throw new Error(`too large: ${width}×${height}`);
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') {
      ended = true;
      break;
    }
    p += 12 + len;
  }
  if (colorType < 0) throw new Error('the PNG has no header');
  if (idat.length === 0) throw new Error('the PNG has no image data');
  if (!ended) throw new Error('the PNG is truncated (no IEND)');
  if (colorType === 3 && !palette) throw new Error('the PNG has no palette');
  const total = idat.reduce((s, d) => s + d.length, 0);
  const z = new Uint8Array(total);
  let o = 0;
  for (const d of idat) {
    z.set(d, o);
    o += d.length;
  }
  let raw: Uint8Array;
  try {
    raw = await inflate(z);
  } catch {
    throw new Error('the PNG image data is corrupt');
  }
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType as 0 | 2 | 3 | 4 | 6];
  const bitsPP = channels * depth;
  const bpp = Math.max(1, bitsPP >> 3);
  const rgba = new Uint8Array(width * height * 4);
  const maxV = (1 << depth) - 1;
  // tRNS colour key for gray/RGB, in sample units.
  const key = trns && (colorType === 0 || colorType === 2)
    ? Array.from({ length: colorType === 0 ? 1 : 3 }, (_, i) => (trns![2 * i]! << 8) | trns![2 * i + 1]!)
    : null;
  const passes = interlace ? ADAM7 : [[0, 0, 1, 1] as const];
  let pos = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * bitsPP) / 8);
    let prev = new Uint8Array(stride);
    for (let y = 0; y < ph; y++) {
      if (pos + 1 + stride > raw.length) throw new Error('the PNG image data is truncated');
      const f = raw[pos]!;
      const line = raw.slice(pos + 1, pos + 1 + stride);
      pos += 1 + stride;
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? line[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        let pred = 0;
        if (f === 1) pred = a;
        else if (f === 2) pred = b;
        else if (f === 3) pred = (a + b) >> 1;
        else if (f === 4) {
          const pp = a + b - c;
          const pa = Math.abs(pp - a);
          const pb = Math.abs(pp - b);
          const pc = Math.abs(pp - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        } else if (f !== 0) throw new Error(`the PNG image data is corrupt (filter ${f})`);
        line[i] = (line[i]! + pred) & 0xff;
      }
      prev = line;
      const sample = (x: number, ch: number): number => {
        if (depth === 8) return line[x * channels + ch]!;
        if (depth === 16) {
          const k = 2 * (x * channels + ch);
          return (line[k]! << 8) | line[k + 1]!;
        }
        const bit = x * depth;
        return (line[bit >> 3]! >> (8 - depth - (bit & 7))) & maxV;
      };
      const to8 = (v: number): number => (depth === 16 ? Math.round(v / 257) : depth === 8 ? v : Math.round((v * 255) / maxV));
      for (let x = 0; x < pw; x++) {
        const d = 4 * ((y0 + y * dy) * width + x0 + x * dx);
        if (colorType === 3) {
          const idx = sample(x, 0);
          if (3 * idx + 2 >= palette!.length) throw new Error('the PNG uses a colour outside its palette');
          rgba[d] = palette![3 * idx]!;
          rgba[d + 1] = palette![3 * idx + 1]!;
          rgba[d + 2] = palette![3 * idx + 2]!;
          rgba[d + 3] = trns && idx < trns.length ? trns[idx]! : 255;
        } else if (colorType === 0 || colorType === 4) {
          const v = sample(x, 0);
          rgba[d] = rgba[d + 1] = rgba[d + 2] = to8(v);
          rgba[d + 3] = colorType === 4 ? to8(sample(x, 1)) : key && v === key[0] ? 0 : 255;
        } else {
          const r = sample(x, 0);
          const g = sample(x, 1);
          const b = sample(x, 2);
          rgba[d] = to8(r);
          rgba[d + 1] = to8(g);
          rgba[d + 2] = to8(b);
          rgba[d + 3] = colorType === 6 ? to8(sample(x, 3)) : key && r === key[0] && g === key[1] && b === key[2] ? 0 : 255;
        }
      }
    }
  }
  return { width, height, rgba };
}
