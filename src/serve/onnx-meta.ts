// Reads what `gue serve` and the browser page need from an exported generator (`gue export --onnx`):
// the model's metadata_props (gue.kind, gue.eps, gue.channels) and the graph's input and output names.
// A minimal protobuf reader over the ONNX ModelProto (onnx.proto: ModelProto.graph = 7,
// ModelProto.metadata_props = 14, StringStringEntryProto.key/value = 1/2, GraphProto.input/output = 11/12,
// ValueInfoProto.name = 1). Pure TypeScript without Node or DOM APIs, so the page bundles the same file.

export interface GeneratorOnnxInfo {
  /** L∞ budget in [0,1] units (gue.eps). */
  eps: number;
  /** Image channels, 1 or 3 (gue.channels). */
  channels: number;
  /** All metadata_props entries. */
  metadata: Record<string, string>;
  inputs: string[];
  outputs: string[];
}

interface Field {
  num: number;
  wire: number;
  /** Payload of a length-delimited field. */
  bytes?: Uint8Array;
}

function* fields(buf: Uint8Array): Generator<Field> {
  let p = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= buf.length) throw new Error('truncated varint');
      const b = buf[p++]!;
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
    throw new Error('varint too long');
  };
  while (p < buf.length) {
    const key = varint();
    const num = Math.floor(key / 8);
    const wire = key % 8;
    if (num === 0) throw new Error('field number 0');
    if (wire === 0) varint();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const len = varint();
      if (p + len > buf.length) throw new Error('truncated field');
      yield { num, wire, bytes: buf.subarray(p, p + len) };
      p += len;
      continue;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (p > buf.length) throw new Error('truncated field');
    yield { num, wire };
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function stringField(msg: Uint8Array, num: number): string {
  let s = '';
  for (const f of fields(msg)) if (f.num === num && f.bytes) s = utf8.decode(f.bytes);
  return s;
}

/**
 * Parses an ONNX model's bytes and checks that it is a gue generator with the page's contract: input
 * `image`, output `protected`, metadata gue.kind = gue-generator, gue.eps in (0, 1], gue.channels 1 or 3.
 * Throws an Error whose message says what is wrong (`what` names the file in messages).
 */
export function readGeneratorOnnx(bytes: Uint8Array, what = 'the model'): GeneratorOnnxInfo {
  const metadata: Record<string, string> = {};
  const inputs: string[] = [];
  const outputs: string[] = [];
  let sawGraph = false;
  try {
    for (const f of fields(bytes)) {
      if (f.wire !== 2 || !f.bytes) continue;
      if (f.num === 14) metadata[stringField(f.bytes, 1)] = stringField(f.bytes, 2);
      else if (f.num === 7) {
        sawGraph = true;
        for (const g of fields(f.bytes)) {
          if (g.wire !== 2 || !g.bytes) continue;
          if (g.num === 11) inputs.push(stringField(g.bytes, 1));
          else if (g.num === 12) outputs.push(stringField(g.bytes, 1));
        }
      }
    }
  } catch (e) {
    throw new Error(`${what} is not an ONNX model (${(e as Error).message})`);
  }
  if (!sawGraph) throw new Error(`${what} is not an ONNX model (no graph)`);
  if (metadata['gue.kind'] !== 'gue-generator') {
    throw new Error(`${what} is an ONNX model but not a gue generator (metadata gue.kind is ${metadata['gue.kind'] === undefined ? 'missing' : `'${metadata['gue.kind']}'`}); export one with \`gue export --onnx\``);
  }
  const eps = Number(metadata['gue.eps']);
  if (!(eps > 0 && eps <= 1)) throw new Error(`${what}: metadata gue.eps must be a number in (0, 1]; got '${metadata['gue.eps']}'`);
  const channels = Number(metadata['gue.channels']);
  if (channels !== 1 && channels !== 3) throw new Error(`${what}: metadata gue.channels must be 1 or 3; got '${metadata['gue.channels']}'`);
  if (!inputs.includes('image')) throw new Error(`${what}: the graph has no input named 'image' (inputs: ${inputs.join(', ') || 'none'})`);
  if (!outputs.includes('protected')) throw new Error(`${what}: the graph has no output named 'protected' (outputs: ${outputs.join(', ') || 'none'})`);
  return { eps, channels, metadata, inputs, outputs };
}
