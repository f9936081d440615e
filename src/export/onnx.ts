// Exports a trained GUE generator (the U-Net of src/nn/models/unet.ts, in eval mode) as an ONNX model
// that computes the whole protection map of the paper (GUE, AAAI 2024, §"Generator"): 
//     protected = clamp(image + ε·G(image), 0, 1)
// with ε baked in. Graph input `image` float32 [N, C, H, W] (N, H, W dynamic, any H and W: like the U-Net,
// the graph reflect-pads to a multiple of 8 — replicate-pads when the image is too small to reflect — and
// crops back); output `protected`, same shape. metadata_props: gue.kind = gue-generator, gue.eps,
// gue.channels, gue.width. Opset 17, IR version 8; written with our own protobuf encoder (no onnx package).
// Each BatchNorm (running statistics) is folded into the preceding convolution's weights and bias.
import type { Tensor } from '../engine/index.js';
import type { BatchNorm2d, Conv2d } from '../nn/layers.js';
import type { UNet } from '../nn/models/unet.js';
import { GUE_KIND, META_CHANNELS, META_EPS, META_KIND, META_WIDTH, ONNX_INPUT, ONNX_OUTPUT } from './onnx-meta.js';
import { ProtoWriter } from './protobuf.js';
import { gueVersion } from '../util/versions.js';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

// TensorProto.DataType
const FLOAT = 1;
const INT64 = 7;
// AttributeProto.AttributeType
const A_FLOAT = 1;
const A_INT = 2;
const A_STRING = 3;
const A_GRAPH = 5;
const A_INTS = 7;

type Attr =
  | { kind: 'i'; v: number }
  | { kind: 'f'; v: number }
  | { kind: 's'; v: string }
  | { kind: 'ints'; v: number[] }
  | { kind: 'g'; v: ProtoWriter };

const attr = {
  i: (v: number): Attr => ({ kind: 'i', v }),
  f: (v: number): Attr => ({ kind: 'f', v }),
  s: (v: string): Attr => ({ kind: 's', v }),
  ints: (v: number[]): Attr => ({ kind: 'ints', v }),
  g: (v: ProtoWriter): Attr => ({ kind: 'g', v }),
};

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function float32Bytes(a: Float32Array): Uint8Array {
  if (littleEndian) return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(4 * i, a[i]!, true);
  return out;
}

function int64Bytes(a: readonly number[]): Uint8Array {
  const out = new Uint8Array(a.length * 8);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setBigInt64(8 * i, BigInt(a[i]!), true);
  return out;
}

function tensorProto(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): ProtoWriter {
  const t = new ProtoWriter();
  for (const d of dims) t.varint(1, d);
  t.varint(2, dataType);
  t.string(8, name);
  t.bytes(9, raw);
  return t;
}

/** ValueInfoProto of a float tensor; dims are numbers (fixed) or strings (symbolic); no dims: shape unknown. */
function valueInfo(name: string, dims?: readonly (number | string)[]): ProtoWriter {
  const tt = new ProtoWriter().varint(1, FLOAT);
  if (dims) {
    const shape = new ProtoWriter();
    for (const d of dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
    tt.message(2, shape);
  }
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tt));
}

/** Accumulates the nodes and initializers of one graph. */
class GraphBuilder {
  private readonly nodes: ProtoWriter[] = [];
  private readonly inits: ProtoWriter[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(private readonly prefix = '') {}

  /** A fresh value name. */
  name(hint: string): string {
    let n = `${this.prefix}${hint}`;
    while (this.used.has(n)) n = `${this.prefix}${hint}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  reserve(name: string): string {
    this.used.add(name);
    return name;
  }

  /** Adds a node; returns its output names (`outputs` fixed names, or fresh ones from op type). */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs: string[] | number = 1): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.name(op.toLowerCase())) : outputs;
    const n = new ProtoWriter();
    for (const i of inputs) n.string(1, i);
    for (const o of outs) n.string(2, o);
    n.string(3, this.name(`${op}_node`));
    n.string(4, op);
    for (const [k, a] of Object.entries(attrs)) {
      const w = new ProtoWriter().string(1, k);
      switch (a.kind) {
        case 'i': w.varint(3, a.v).varint(20, A_INT); break;
        case 'f': w.float(2, a.v).varint(20, A_FLOAT); break;
        case 's': w.string(4, a.v).varint(20, A_STRING); break;
        case 'ints': for (const v of a.v) w.varint(8, v); w.varint(20, A_INTS); break;
        case 'g': w.message(6, a.v).varint(20, A_GRAPH); break;
      }
      n.message(5, w);
    }
    this.nodes.push(n);
    return outs;
  }

  one(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.node(op, inputs, attrs, 1)[0]!;
  }

  floatInit(hint: string, dims: number[], data: Float32Array): string {
    const name = this.name(hint);
    this.inits.push(tensorProto(name, FLOAT, dims, float32Bytes(data)));
    return name;
  }

  int64Init(hint: string, values: number[], dims: number[] = [values.length]): string {
    const name = this.name(hint);
    this.inits.push(tensorProto(name, INT64, dims, int64Bytes(values)));
    return name;
  }

  /** The GraphProto. */
  build(name: string, inputs: ProtoWriter[], outputs: ProtoWriter[], doc?: string): ProtoWriter {
    const g = new ProtoWriter();
    for (const n of this.nodes) g.message(1, n);
    g.string(2, name);
    for (const t of this.inits) g.message(5, t);
    if (doc) g.string(10, doc);
    for (const i of inputs) g.message(11, i);
    for (const o of outputs) g.message(12, o);
    return g;
  }
}

function floatData(t: Tensor): Float64Array {
  const c = t.to({ device: 'cpu', dtype: 'float32' });
  try {
    return Float64Array.from(c.toTypedArray() as Float32Array);
  } finally {
    if (c !== t) c.dispose();
  }
}

/** Conv weights/bias with the following BatchNorm's running statistics folded in (eval-mode BN). */
function foldConvBn(conv: Conv2d, bn: BatchNorm2d): { w: Float32Array; b: Float32Array; dims: number[] } {
  const w = floatData(conv.weight);
  const o = conv.outChannels;
  const b = conv.bias ? floatData(conv.bias) : new Float64Array(o);
  const mean = bn.runningMean ? floatData(bn.runningMean) : null;
  const varr = bn.runningVar ? floatData(bn.runningVar) : null;
  if (!mean || !varr) throw new Error('exportOnnx: the generator\'s BatchNorm layers have no running statistics');
  const gamma = bn.weight ? floatData(bn.weight) : new Float64Array(o).fill(1);
  const beta = bn.bias ? floatData(bn.bias) : new Float64Array(o);
  const per = w.length / o;
  const wf = new Float32Array(w.length);
  const bf = new Float32Array(o);
  for (let k = 0; k < o; k++) {
    const s = gamma[k]! / Math.sqrt(varr[k]! + bn.eps);
    for (let j = 0; j < per; j++) wf[k * per + j] = w[k * per + j]! * s;
    bf[k] = (b[k]! - mean[k]!) * s + beta[k]!;
  }
  return { w: wf, b: bf, dims: conv.weight.shape.slice() };
}

export interface OnnxExportMeta {
  /** L∞ budget in [0,1] units (8/255 in the paper). */
  eps: number;
  /** Image channels; must match the generator. */
  channels: number;
  /** Extra metadata_props (string values), e.g. the source run. Keys must not start with 'gue.' reserved above. */
  extra?: Record<string, string>;
}

/**
 * The ONNX model (serialized ModelProto) of protected = clamp(image + ε·G(image), 0, 1) for generator `gen`
 * (its weights and BatchNorm running statistics as they are now; the module's train/eval flag is ignored,
 * BN always uses running statistics as in eval mode).
 */
export function exportOnnx(gen: UNet, meta: OnnxExportMeta): Uint8Array {
  const { eps, channels } = meta;
  // A structural check (a value import of UNet would load libtorch into the ONNX-only paths).
  if (!gen.namedChildren().some(([n]) => n === 'dconv_down1')) throw new Error(`exportOnnx: only the U-Net generator can be exported to ONNX; this one is a ${(gen as { constructor: { name: string } }).constructor.name} (apply it with the libtorch backend: gue protect / gue poison)`);
  if (!(Number.isFinite(eps) && eps > 0 && eps <= 1)) throw new Error(`exportOnnx: eps must be in (0, 1], got ${eps}`);
  if (channels !== gen.channels) throw new Error(`exportOnnx: meta.channels is ${channels} but the generator takes ${gen.channels}-channel images`);
  const g = new GraphBuilder();
  const image = g.reserve(ONNX_INPUT);
  const output = g.reserve(ONNX_OUTPUT);

  // --- reflect (or replicate) padding of H and W to the next multiple of 8, as UNet.forward.
  const shape = g.one('Shape', [image]);
  const hw = g.one('Slice', [shape, g.int64Init('i_2', [2]), g.int64Init('i_4', [4])]);
  const eight = g.int64Init('eight', [8]);
  const p = g.one('Mod', [g.one('Sub', [eight, g.one('Mod', [hw, eight])]), eight]); // [ph, pw]
  const before = g.one('Div', [p, g.int64Init('two', [2])]); // [top, left] (non-negative: floor)
  const after = g.one('Sub', [p, before]); // [bottom, right]
  const zeros2 = g.int64Init('zeros2', [0, 0]);
  const pads = g.one('Concat', [zeros2, before, zeros2, after], { axis: attr.i(0) });
  // Reflection needs pad < size; otherwise (images under 5 pixels) the U-Net replicates the edge.
  const tooSmall = g.one('Cast', [g.one('ReduceMax', [g.one('Cast', [g.one('GreaterOrEqual', [p, hw])], { to: attr.i(INT64) })], { keepdims: attr.i(0) })], { to: attr.i(9) });
  const branch = (mode: string): ProtoWriter => {
    const b = new GraphBuilder(`${mode}_`);
    const out = b.name('padded');
    b.node('Pad', [image, pads], { mode: attr.s(mode) }, [out]);
    return b.build(`pad_${mode}`, [], [valueInfo(out)]);
  };
  const padded = g.one('If', [tooSmall], { then_branch: attr.g(branch('edge')), else_branch: attr.g(branch('reflect')) });

  // --- the U-Net with BN folded into the convolutions.
  const conv = (x: string, prefix: string, ci: number, bi: number, relu: boolean): string => {
    const c = gen.getSubmodule(`${prefix}.${ci}`) as Conv2d;
    const bn = gen.getSubmodule(`${prefix}.${bi}`) as BatchNorm2d;
    const f = foldConvBn(c, bn);
    const [kh, kw] = c.kernelSize;
    const y = g.one('Conv', [x, g.floatInit(`${prefix}.${ci}.weight`, f.dims, f.w), g.floatInit(`${prefix}.${ci}.bias`, [f.b.length], f.b)], {
      kernel_shape: attr.ints([kh, kw]),
      pads: attr.ints([c.padding[0], c.padding[1], c.padding[0], c.padding[1]]),
      strides: attr.ints([c.stride[0], c.stride[1]]),
      dilations: attr.ints([c.dilation[0], c.dilation[1]]),
      group: attr.i(c.groups),
    });
    return relu ? g.one('Relu', [y]) : y;
  };
  const doubleConv = (x: string, prefix: string): string => conv(conv(x, prefix, 0, 1, true), prefix, 3, 4, true);
  const pool = (x: string): string => g.one('AveragePool', [x], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
  const scales = g.floatInit('up_scales', [4], new Float32Array([1, 1, 2, 2]));
  const up = (x: string): string =>
    g.one('Resize', [x, '', scales], { mode: attr.s('linear'), coordinate_transformation_mode: attr.s('align_corners') });
  const cat = (a: string, b: string): string => g.one('Concat', [a, b], { axis: attr.i(1) });

  const c1 = doubleConv(padded, 'dconv_down1');
  const c2 = doubleConv(pool(c1), 'dconv_down2');
  const c3 = doubleConv(pool(c2), 'dconv_down3');
  const b = doubleConv(pool(c3), 'dconv_down4');
  const u3 = doubleConv(cat(up(b), c3), 'dconv_up3');
  const u2 = doubleConv(cat(up(u3), c2), 'dconv_up2');
  const u1 = doubleConv(cat(up(u2), c1), 'dconv_up1');
  const gx = g.one('Tanh', [conv(u1, 'conv_last', 0, 1, false)]);

  // --- crop back, then clamp(x + ε·G(x), 0, 1).
  const cropped = g.one('Slice', [gx, before, g.one('Add', [before, hw]), g.int64Init('axes_hw', [2, 3])]);
  const delta = g.one('Mul', [cropped, g.floatInit('eps', [], new Float32Array([eps]))]);
  const sum = g.one('Add', [image, delta]);
  g.node('Clip', [sum, g.floatInit('zero', [], new Float32Array([0])), g.floatInit('one', [], new Float32Array([1]))], {}, [output]);

  const dims = ['N', channels, 'H', 'W'];
  const graph = g.build('gue_generator', [valueInfo(image, dims)], [valueInfo(output, dims)],
    'protected = clamp(image + eps * G(image), 0, 1); image float32 NCHW in [0,1]');

  const model = new ProtoWriter();
  model.varint(1, ONNX_IR_VERSION);
  model.string(2, 'gue');
  model.string(3, gueVersion());
  model.string(6, 'GUE generator (Game-Theoretic Unlearnable Example Generator, AAAI 2024): protected = clamp(image + eps*G(image), 0, 1)');
  model.message(7, graph);
  model.message(8, new ProtoWriter().string(1, '').varint(2, ONNX_OPSET));
  const props: Record<string, string> = {
    ...(meta.extra ?? {}),
    [META_KIND]: GUE_KIND,
    [META_EPS]: String(eps),
    [META_CHANNELS]: String(channels),
    [META_WIDTH]: String(gen.width),
  };
  for (const [k, v] of Object.entries(props)) model.message(14, new ProtoWriter().string(1, k).string(2, v));
  return model.finish();
}
