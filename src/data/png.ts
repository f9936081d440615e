// A minimal PNG encoder (8-bit grayscale or RGB, no interlace) for exporting datasets without native deps.
import { deflateSync } from 'node:zlib';
import { crc32 } from '../io/zip.js';


function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data.buffer, data.byteOffset, data.length).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encodes CHW uint8 pixels (C = 1 or 3) as a PNG file. */
export function encodePng(chw: Uint8Array, channels: number, height: number, width: number): Buffer {
  if (channels !== 1 && channels !== 3) throw new Error(`PNG export supports 1 or 3 channels, got ${channels}`);
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  const plane = height * width;
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) raw[row + 1 + x * channels + c] = chw[c * plane + y * width + x]!;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
