// Reads the header of an ONNX model (ModelProto, onnx/onnx.proto): IR version, opsets, producer and the
// metadata_props, without parsing the graph and without onnxruntime or libtorch. Used to check that a
// .onnx file is a gue generator and to read its ε and channels (metadata_props gue.eps, gue.channels).
import { ProtoDecodeError, decodeString, readFields } from './protobuf.js';

/** metadata_props key → value written by exportOnnx. */
export const GUE_KIND = 'gue-generator';
export const META_KIND = 'gue.kind';
export const META_EPS = 'gue.eps';
export const META_CHANNELS = 'gue.channels';
export const META_WIDTH = 'gue.width';
/** Graph input and output names of an exported generator. */
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'protected';

export interface OnnxHeader {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  /** domain ('' = the default ONNX domain) → opset version. */
  opsets: Record<string, number>;
  metadata: Record<string, string>;
  hasGraph: boolean;
}

/** What a gue generator's metadata says. */
export interface GueOnnxMeta {
  eps: number;
  channels: number;
  width?: number;
  metadata: Record<string, string>;
}

/** Raised when a file is not an ONNX model or not a gue generator. */
export class OnnxModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxModelError';
  }
}

// ModelProto field numbers.
const M_IR_VERSION = 1;
const M_PRODUCER_NAME = 2;
const M_PRODUCER_VERSION = 3;
const M_GRAPH = 7;
const M_OPSET_IMPORT = 8;
const M_METADATA_PROPS = 14;

/** Parses the ModelProto header. Throws OnnxModelError when the bytes are not an ONNX model. */
export function readOnnxHeader(bytes: Uint8Array, what = 'the file'): OnnxHeader {
  const h: OnnxHeader = { irVersion: 0, producerName: '', producerVersion: '', opsets: {}, metadata: {}, hasGraph: false };
  try {
    for (const f of readFields(bytes)) {
      if (f.field === M_IR_VERSION && f.int !== undefined) h.irVersion = Number(f.int);
      else if (f.field === M_PRODUCER_NAME && f.data) h.producerName = decodeString(f.data);
      else if (f.field === M_PRODUCER_VERSION && f.data) h.producerVersion = decodeString(f.data);
      else if (f.field === M_GRAPH && f.data) h.hasGraph = true;
      else if (f.field === M_OPSET_IMPORT && f.data) {
        let domain = '';
        let version = 0;
        for (const g of readFields(f.data)) {
          if (g.field === 1 && g.data) domain = decodeString(g.data);
          else if (g.field === 2 && g.int !== undefined) version = Number(g.int);
        }
        h.opsets[domain] = version;
      } else if (f.field === M_METADATA_PROPS && f.data) {
        let key = '';
        let value = '';
        for (const g of readFields(f.data)) {
          if (g.field === 1 && g.data) key = decodeString(g.data);
          else if (g.field === 2 && g.data) value = decodeString(g.data);
        }
        h.metadata[key] = value;
      }
    }
  } catch (e) {
    if (e instanceof ProtoDecodeError) throw new OnnxModelError(`${what} is not an ONNX model (${e.message})`);
    throw e;
  }
  if (h.irVersion <= 0 || !h.hasGraph) throw new OnnxModelError(`${what} is not an ONNX model (no IR version or no graph)`);
  return h;
}

/** Checks that the header is a gue generator's and returns its ε and channels. */
export function gueMetaOf(h: OnnxHeader, what = 'the file'): GueOnnxMeta {
  const m = h.metadata;
  if (m[META_KIND] !== GUE_KIND) {
    const kind = m[META_KIND] === undefined ? 'no gue.kind metadata' : `gue.kind is '${m[META_KIND]}'`;
    throw new OnnxModelError(`${what} is an ONNX model but not a gue generator (${kind}); export one with \`gue export --onnx\``);
  }
  const eps = Number(m[META_EPS]);
  if (!(eps > 0 && eps <= 1)) throw new OnnxModelError(`${what}: bad gue.eps metadata '${String(m[META_EPS])}' (expected a number in (0, 1])`);
  const channels = Number(m[META_CHANNELS]);
  if (!Number.isInteger(channels) || channels < 1) throw new OnnxModelError(`${what}: bad gue.channels metadata '${String(m[META_CHANNELS])}'`);
  const width = m[META_WIDTH] === undefined ? undefined : Number(m[META_WIDTH]);
  return { eps, channels, ...(width !== undefined && Number.isInteger(width) ? { width } : {}), metadata: { ...m } };
}

/** readOnnxHeader + gueMetaOf. */
export function readGueOnnxMeta(bytes: Uint8Array, what = 'the file'): GueOnnxMeta {
  return gueMetaOf(readOnnxHeader(bytes, what), what);
}
