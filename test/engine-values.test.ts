// Forward values checked against numbers derived by hand or by naive plain-JS reference
// implementations (no libtorch involved on the expected side).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { F, arange, oneHot, scope, setNumThreads, tensor, where, type Tensor } from '../src/engine/index.js';
import { assertClose, assertTensor, f64, randArray } from './helpers/gradcheck.js';

// The tensors here are tiny: one intra-op thread avoids libtorch's thread hand-off overhead (this process only).
setNumThreads(1);

const idx = (data: number[] | number[][], shape?: number[]): Tensor => tensor(data as never, { dtype: 'int64', ...(shape ? { shape } : {}) });
const T64 = (vals: ArrayLike<number>, shape: number[]): Tensor => tensor(Float64Array.from(vals), { shape, dtype: 'float64' });
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------- naive references (NCHW, flat row-major)
interface Conv {
  stride: [number, number];
  pad: [number, number];
  dil: [number, number];
  groups: number;
}
function refConv2d(x: ArrayLike<number>, xs: number[], w: ArrayLike<number>, ws: number[], b: ArrayLike<number> | null, c: Conv): { out: number[]; shape: number[] } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [O, Cg, KH, KW] = ws as [number, number, number, number];
  const OH = Math.floor((H + 2 * c.pad[0] - c.dil[0] * (KH - 1) - 1) / c.stride[0]) + 1;
  const OW = Math.floor((W + 2 * c.pad[1] - c.dil[1] * (KW - 1) - 1) / c.stride[1]) + 1;
  const Og = O / c.groups;
  const out: number[] = [];
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = b ? b[o]! : 0;
          const g = Math.floor(o / Og);
          for (let cg = 0; cg < Cg; cg++) {
            const ch = g * Cg + cg;
            for (let ki = 0; ki < KH; ki++)
              for (let kj = 0; kj < KW; kj++) {
                const yy = i * c.stride[0] - c.pad[0] + ki * c.dil[0];
                const xx = j * c.stride[1] - c.pad[1] + kj * c.dil[1];
                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                s += x[((n * C + ch) * H + yy) * W + xx]! * w[((o * Cg + cg) * KH + ki) * KW + kj]!;
              }
          }
          out.push(s);
        }
  return { out, shape: [N, O, OH, OW] };
}

function refConvT2d(x: ArrayLike<number>, xs: number[], w: ArrayLike<number>, ws: number[], b: ArrayLike<number> | null, s: number, p: number, op: number, d: number, groups: number): { out: number[]; shape: number[] } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [, Og, KH, KW] = ws as [number, number, number, number];
  const O = Og * groups;
  const Cg = C / groups;
  const OH = (H - 1) * s - 2 * p + d * (KH - 1) + op + 1;
  const OW = (W - 1) * s - 2 * p + d * (KW - 1) + op + 1;
  const out = new Array<number>(N * O * OH * OW).fill(0);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) for (let k = 0; k < OH * OW; k++) out[(n * O + o) * OH * OW + k] = b ? b[o]! : 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      for (let ol = 0; ol < Og; ol++) {
        const o = g * Og + ol;
        for (let i = 0; i < H; i++)
          for (let j = 0; j < W; j++)
            for (let ki = 0; ki < KH; ki++)
              for (let kj = 0; kj < KW; kj++) {
                const yy = i * s - p + ki * d;
                const xx = j * s - p + kj * d;
                if (yy < 0 || yy >= OH || xx < 0 || xx >= OW) continue;
                out[((n * O + o) * OH + yy) * OW + xx]! += x[((n * C + c) * H + i) * W + j]! * w[((c * Og + ol) * KH + ki) * KW + kj]!;
              }
      }
    }
  return { out, shape: [N, O, OH, OW] };
}

function refPool(x: ArrayLike<number>, xs: number[], k: number, s: number, p: number, kind: 'max' | 'avg', includePad = true): { out: number[]; shape: number[] } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const OH = Math.floor((H + 2 * p - k) / s) + 1;
  const OW = Math.floor((W + 2 * p - k) / s) + 1;
  const out: number[] = [];
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        let m = -Infinity;
        let sum = 0;
        let cnt = 0;
        for (let a = 0; a < k; a++)
          for (let bb = 0; bb < k; bb++) {
            const yy = i * s - p + a;
            const xx = j * s - p + bb;
            if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
            const v = x[(nc * H + yy) * W + xx]!;
            m = Math.max(m, v);
            sum += v;
            cnt++;
          }
        out.push(kind === 'max' ? m : sum / (includePad ? k * k : cnt));
      }
  return { out, shape: [N, C, OH, OW] };
}

function refAdaptiveAvg(x: ArrayLike<number>, xs: number[], oh: number, ow: number): number[] {
  const [N, C, H, W] = xs as [number, number, number, number];
  const out: number[] = [];
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        const y0 = Math.floor((i * H) / oh);
        const y1 = Math.ceil(((i + 1) * H) / oh);
        const x0 = Math.floor((j * W) / ow);
        const x1 = Math.ceil(((j + 1) * W) / ow);
        let s = 0;
        for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) s += x[(nc * H + y) * W + xx]!;
        out.push(s / ((y1 - y0) * (x1 - x0)));
      }
  return out;
}

/** Source coordinate of bilinear interpolation, as PyTorch's area_pixel_compute_source_index. */
function srcCoord(dst: number, inSize: number, outSize: number, alignCorners: boolean): number {
  if (alignCorners) return outSize > 1 ? (dst * (inSize - 1)) / (outSize - 1) : 0;
  const src = ((dst + 0.5) * inSize) / outSize - 0.5;
  return Math.max(src, 0);
}
function refBilinear(x: ArrayLike<number>, xs: number[], OH: number, OW: number, ac: boolean): number[] {
  const [N, C, H, W] = xs as [number, number, number, number];
  const out: number[] = [];
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        const sy = srcCoord(i, H, OH, ac);
        const sx = srcCoord(j, W, OW, ac);
        const y0 = Math.min(Math.floor(sy), H - 1);
        const x0 = Math.min(Math.floor(sx), W - 1);
        const y1 = Math.min(y0 + 1, H - 1);
        const x1 = Math.min(x0 + 1, W - 1);
        const ly = sy - y0;
        const lx = sx - x0;
        const at = (y: number, xx: number): number => x[(nc * H + y) * W + xx]!;
        out.push((1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1)));
      }
  return out;
}

const logSoftmaxRow = (row: number[]): number[] => {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
};
const rows = (flat: ArrayLike<number>, n: number, c: number): number[][] => range(n).map((i) => Array.from(flat).slice(i * c, (i + 1) * c));

// ---------------------------------------------------------------- tests
describe('conv2d forward values', () => {
  const x = () => f64([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
  const k = () => f64([[[[1, 2], [3, 4]]]]);
  test('1x1x3x3 input with a 2x2 kernel (by hand), with bias', () => {
    scope(() => {
      assertTensor(F.conv2d(x(), k()), [1, 1, 2, 2], [37, 47, 67, 77]);
      assertTensor(F.conv2d(x(), k(), f64([0.5])), [1, 1, 2, 2], [37.5, 47.5, 67.5, 77.5]);
    });
  });
  test('stride 2 + padding 1 (by hand)', () => {
    scope(() => assertTensor(F.conv2d(x(), k(), null, { stride: 2, padding: 1 }), [1, 1, 2, 2], [4, 18, 36, 77]));
  });
  test('dilation 2 (by hand): the 2x2 kernel touches the corners', () => {
    scope(() => assertTensor(F.conv2d(x(), k(), null, { dilation: 2 }), [1, 1, 1, 1], [1 * 1 + 3 * 2 + 7 * 3 + 9 * 4]));
  });
  test('groups 2 (by hand): each channel sees only its own kernel', () => {
    scope(() => {
      const x2 = f64([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[10, 20, 30], [40, 50, 60], [70, 80, 90]]]]);
      const w = f64([[[[1, 0], [0, 0]]], [[[0, 0], [0, 1]]]]); // [2, 1, 2, 2]
      assertTensor(F.conv2d(x2, w, null, { groups: 2 }), [1, 2, 2, 2], [1, 2, 4, 5, 50, 60, 80, 90]);
      // groups=1 with the weight repeated over both input channels sums the two channels
      const w1 = f64([[[[1, 0], [0, 0]], [[1, 0], [0, 0]]]]);
      assertTensor(F.conv2d(x2, w1), [1, 1, 2, 2], [11, 22, 44, 55]);
    });
  });
  const cases: [string, number[], number[], Conv][] = [
    ['plain', [2, 3, 5, 6], [4, 3, 3, 2], { stride: [1, 1], pad: [0, 0], dil: [1, 1], groups: 1 }],
    ['stride (2,1) padding (1,2)', [1, 2, 6, 5], [3, 2, 3, 3], { stride: [2, 1], pad: [1, 2], dil: [1, 1], groups: 1 }],
    ['dilation (2,3) padding 2', [1, 2, 7, 7], [2, 2, 2, 2], { stride: [1, 1], pad: [2, 2], dil: [2, 3], groups: 1 }],
    ['groups 2 stride 2', [2, 4, 5, 5], [6, 2, 3, 3], { stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 2 }],
    ['depthwise', [1, 3, 4, 4], [3, 1, 3, 3], { stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 3 }],
  ];
  for (const [name, xs, ws, c] of cases) {
    test(`matches a naive JS convolution: ${name}`, () => {
      scope(() => {
        const xv = randArray(xs.reduce((a, b) => a * b), 1);
        const wv = randArray(ws.reduce((a, b) => a * b), 2);
        const bv = randArray(ws[0]!, 3);
        const ref = refConv2d(xv, xs, wv, ws, bv, c);
        const got = F.conv2d(T64(xv, xs), T64(wv, ws), T64(bv, [ws[0]!]), { stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups });
        assertTensor(got, ref.shape, ref.out, { rtol: 1e-12, atol: 1e-12 });
      });
    });
  }
});

describe('convTranspose2d forward values', () => {
  test('1x1 input 2x2 kernel, stride 2 (by hand): stamps the kernel scaled by each input', () => {
    scope(() => {
      const x = f64([[[[1, 2], [3, 4]]]]);
      const w = f64([[[[1, 10], [100, 1000]]]]);
      assertTensor(F.convTranspose2d(x, w, null, { stride: 2 }), [1, 1, 4, 4], [
        1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000,
      ]);
      // stride 1: overlapping stamps add up
      assertTensor(F.convTranspose2d(x, w, f64([1])), [1, 1, 3, 3], [2, 13, 21, 104, 1235, 2041, 301, 3401, 4001]);
    });
  });
  for (const [name, xs, ws, s, p, op, d, g] of [
    ['stride 2 padding 1 outputPadding 1', [1, 2, 3, 3], [2, 3, 3, 3], 2, 1, 1, 1, 1],
    ['groups 2 dilation 2', [2, 4, 3, 2], [4, 2, 2, 3], 1, 0, 0, 2, 2],
  ] as [string, number[], number[], number, number, number, number, number][]) {
    test(`matches a naive JS transposed convolution: ${name}`, () => {
      scope(() => {
        const xv = randArray(xs.reduce((a, b) => a * b), 4);
        const wv = randArray(ws.reduce((a, b) => a * b), 5);
        const bv = randArray(ws[1]! * g, 6);
        const ref = refConvT2d(xv, xs, wv, ws, bv, s, p, op, d, g);
        const got = F.convTranspose2d(T64(xv, xs), T64(wv, ws), T64(bv, [ws[1]! * g]), { stride: s, padding: p, outputPadding: op, dilation: d, groups: g });
        assertTensor(got, ref.shape, ref.out, { rtol: 1e-12, atol: 1e-12 });
      });
    });
  }
});

describe('pooling forward values', () => {
  const x16 = () => arange(16, undefined, 1, { dtype: 'float64' }).reshape(1, 1, 4, 4);
  test('avgPool2d / maxPool2d 2x2 on arange(16) (by hand)', () => {
    scope(() => {
      assertTensor(F.avgPool2d(x16(), 2), [1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5]);
      assertTensor(F.maxPool2d(x16(), 2), [1, 1, 2, 2], [5, 7, 13, 15]);
      assertTensor(F.maxPool2d(x16().neg(), 2), [1, 1, 2, 2], [0, -2, -8, -10]);
    });
  });
  test('avgPool2d 3x3 stride 1 padding 1: count_include_pad true vs false (corner by hand)', () => {
    scope(() => {
      const inc = F.avgPool2d(x16(), 3, { stride: 1, padding: 1 }).toArray();
      const exc = F.avgPool2d(x16(), 3, { stride: 1, padding: 1, countIncludePad: false }).toArray();
      assertClose(inc[0]!, (0 + 1 + 4 + 5) / 9);
      assertClose(exc[0]!, (0 + 1 + 4 + 5) / 4);
      assertClose(inc[5]!, (0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9);
    });
  });
  test('pools match naive JS references on random input', () => {
    scope(() => {
      const xs = [2, 2, 7, 6];
      const xv = randArray(168, 7);
      const x = T64(xv, xs);
      for (const [k, s, p] of [[2, 2, 0], [3, 2, 1], [3, 1, 1], [2, 1, 0]] as [number, number, number][]) {
        const rm = refPool(xv, xs, k, s, p, 'max');
        assertTensor(F.maxPool2d(x, k, { stride: s, padding: p }), rm.shape, rm.out, { msg: `max k${k}s${s}p${p}` });
        const ra = refPool(xv, xs, k, s, p, 'avg');
        assertTensor(F.avgPool2d(x, k, { stride: s, padding: p }), ra.shape, ra.out, { msg: `avg k${k}s${s}p${p}` });
        const re = refPool(xv, xs, k, s, p, 'avg', false);
        assertTensor(F.avgPool2d(x, k, { stride: s, padding: p, countIncludePad: false }), re.shape, re.out, { msg: `avg excl k${k}s${s}p${p}` });
      }
    });
  });
  test('maxPool2d ceilMode keeps the partial last window', () => {
    scope(() => {
      const x = arange(25, undefined, 1, { dtype: 'float64' }).reshape(1, 1, 5, 5);
      assertTensor(F.maxPool2d(x, 2, { ceilMode: true }), [1, 1, 3, 3], [6, 8, 9, 16, 18, 19, 21, 23, 24]);
      assertTensor(F.maxPool2d(x, 2), [1, 1, 2, 2], [6, 8, 16, 18]);
    });
  });
  test('adaptiveAvgPool2d: global mean, uneven windows (floor/ceil bounds)', () => {
    scope(() => {
      assertTensor(F.adaptiveAvgPool2d(x16(), 1), [1, 1, 1, 1], [7.5]);
      assertTensor(F.adaptiveAvgPool2d(x16(), 2), [1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5]);
      const xs = [1, 2, 5, 7];
      const xv = randArray(70, 8);
      assertTensor(F.adaptiveAvgPool2d(T64(xv, xs), [3, 4]), [1, 2, 3, 4], refAdaptiveAvg(xv, xs, 3, 4));
    });
  });
});

describe('interpolate forward values', () => {
  const x22 = () => f64([[[[1, 2], [3, 4]]]]);
  test('bilinear 2x2 → 4x4, alignCorners=true (formula: src = dst·(in−1)/(out−1))', () => {
    scope(() => {
      // out[i][j] = 1 + j/3 + 2i/3
      const exp = range(16).map((k) => 1 + (k % 4) / 3 + (2 * Math.floor(k / 4)) / 3);
      assertTensor(F.interpolate(x22(), { size: 4, mode: 'bilinear', alignCorners: true }), [1, 1, 4, 4], exp);
    });
  });
  test('bilinear 2x2 → 4x4, alignCorners=false (formula: src = (dst+0.5)·in/out − 0.5, clamped at 0)', () => {
    scope(() => {
      const c = [0, 0.25, 0.75, 1];
      const exp = range(16).map((k) => 1 + c[k % 4]! + 2 * c[Math.floor(k / 4)]!);
      assertTensor(F.interpolate(x22(), { size: [4, 4], mode: 'bilinear', alignCorners: false }), [1, 1, 4, 4], exp);
      assertTensor(F.interpolate(x22(), { scaleFactor: 2, mode: 'bilinear' }), [1, 1, 4, 4], exp);
      // the two modes really differ
      const t = F.interpolate(x22(), { size: 4, mode: 'bilinear', alignCorners: true }).toArray();
      assert.notEqual(t[1], exp[1]);
    });
  });
  test('bilinear matches the formula on random non-integer ratios (up and down)', () => {
    scope(() => {
      const xs = [1, 2, 3, 5];
      const xv = randArray(30, 9);
      const x = T64(xv, xs);
      for (const [oh, ow] of [[7, 4], [2, 3], [5, 11]] as [number, number][]) {
        for (const ac of [true, false]) {
          assertTensor(F.interpolate(x, { size: [oh, ow], mode: 'bilinear', alignCorners: ac }), [1, 2, oh, ow], refBilinear(xv, xs, oh, ow, ac), { msg: `${oh}x${ow} ac=${ac}` });
        }
      }
    });
  });
  test('nearest 2x3 → 4x5 (src = floor(dst·in/out)) and default mode is nearest', () => {
    scope(() => {
      const x = f64([[[[1, 2, 3], [4, 5, 6]]]]);
      const ri = [0, 0, 1, 1];
      const cj = [0, 0, 1, 1, 2];
      const exp = range(20).map((k) => 1 + cj[k % 5]! + 3 * ri[Math.floor(k / 5)]!);
      assertTensor(F.interpolate(x, { size: [4, 5], mode: 'nearest' }), [1, 1, 4, 5], exp);
      assertTensor(F.interpolate(x, { size: [4, 5] }), [1, 1, 4, 5], exp);
      assertTensor(F.interpolate(x, { scaleFactor: 2 }), [1, 1, 4, 6], range(24).map((k) => 1 + Math.floor((k % 6) / 2) + 3 * Math.floor(k / 12)));
    });
  });
  test('interpolate rejects non-4d input and a missing size', () => {
    scope(() => {
      assert.throws(() => F.interpolate(f64([1, 2]), { size: 2 }), /interpolate.*4-d/);
      assert.throws(() => F.interpolate(x22(), {}), /interpolate.*size/);
    });
  });
});

describe('pad forward values', () => {
  test('reflect, constant, replicate, circular on a row (by hand)', () => {
    scope(() => {
      const x = f64([[[1, 2, 3]]]);
      assertTensor(F.pad(x, [2, 1], 'reflect'), [1, 1, 6], [3, 2, 1, 2, 3, 2]);
      assertTensor(F.pad(x, [1, 2], 'constant', 9), [1, 1, 6], [9, 1, 2, 3, 9, 9]);
      assertTensor(F.pad(x, [1, 2]), [1, 1, 6], [0, 1, 2, 3, 0, 0]);
      assertTensor(F.pad(x, [2, 1], 'replicate'), [1, 1, 6], [1, 1, 1, 2, 3, 3]);
      assertTensor(F.pad(x, [2, 1], 'circular'), [1, 1, 6], [2, 3, 1, 2, 3, 1]);
    });
  });
  test('2-d reflect pad [left, right, top, bottom]', () => {
    scope(() => {
      const x = f64([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
      assertTensor(F.pad(x, [1, 0, 0, 1], 'reflect'), [1, 1, 4, 4], [2, 1, 2, 3, 5, 4, 5, 6, 8, 7, 8, 9, 5, 4, 5, 6]);
    });
  });
});

describe('normalisation and linear forward values', () => {
  test('batchNorm training: batch statistics (biased var), affine, running stats updated with unbiased var', () => {
    scope(() => {
      // x: N=2, C=2, 1x2 spatial
      const x = f64([[[[1, 3]], [[0, 0]]], [[[5, 7]], [[2, 6]]]]);
      const rm = f64([0, 1]);
      const rv = f64([1, 1]);
      const y = F.batchNorm(x, { weight: f64([2, 1]), bias: f64([0.5, -1]), runningMean: rm, runningVar: rv, training: true, momentum: 0.1, eps: 1e-5 });
      // channel 0: [1,3,5,7] mean 4, biased var 5, unbiased 20/3; channel 1: [0,0,2,6] mean 2, biased var 6, unbiased 8
      const n0 = (v: number) => (2 * (v - 4)) / Math.sqrt(5 + 1e-5) + 0.5;
      const n1 = (v: number) => (v - 2) / Math.sqrt(6 + 1e-5) - 1;
      assertTensor(y, [2, 2, 1, 2], [n0(1), n0(3), n1(0), n1(0), n0(5), n0(7), n1(2), n1(6)]);
      assertClose(rm.toArray(), [0.9 * 0 + 0.1 * 4, 0.9 * 1 + 0.1 * 2]);
      assertClose(rv.toArray(), [0.9 + 0.1 * (20 / 3), 0.9 + 0.1 * 8]);
    });
  });
  test('batchNorm eval uses the running statistics', () => {
    scope(() => {
      const x = f64([[1, 2], [3, 4]]);
      const y = F.batchNorm(x, { runningMean: f64([1, 0]), runningVar: f64([4, 0.25]), eps: 0 });
      assertTensor(y, [2, 2], [0, 4, 1, 8]);
    });
  });
  test('linear: x @ W^T + b (by hand)', () => {
    scope(() => {
      const y = F.linear(f64([[1, 2, 3]]), f64([[1, 0, -1], [2, 1, 0]]), f64([10, 20]));
      assertTensor(y, [1, 2], [1 - 3 + 10, 2 + 2 + 20]);
      assertTensor(f64([[1, 2], [3, 4]]).matmul(f64([[5, 6], [7, 8]])), [2, 2], [19, 22, 43, 50]);
    });
  });
});

describe('loss forward values', () => {
  const L = [
    [2, 1, 0.1],
    [0.5, 2.5, -1],
    [-1, 0, 3],
  ];
  const tgt = [0, 2, 2];
  const logits = () => f64(L);
  const target = () => idx(tgt);
  const lsm = L.map(logSoftmaxRow);
  test('crossEntropy hard targets: mean, sum, none', () => {
    scope(() => {
      const per = tgt.map((c, i) => -lsm[i]![c]!);
      assertTensor(F.crossEntropy(logits(), target(), { reduction: 'none' }), [3], per);
      assertClose(F.crossEntropy(logits(), target(), { reduction: 'sum' }).item(), per[0]! + per[1]! + per[2]!);
      assertClose(F.crossEntropy(logits(), target()).item(), (per[0]! + per[1]! + per[2]!) / 3);
    });
  });
  test('crossEntropy with class weights (weighted mean) and ignoreIndex', () => {
    scope(() => {
      const w = [0.5, 1, 2];
      const num = tgt.reduce((a, c, i) => a + w[c]! * -lsm[i]![c]!, 0);
      const den = tgt.reduce((a, c) => a + w[c]!, 0);
      assertClose(F.crossEntropy(logits(), target(), { weight: f64(w) }).item(), num / den);
      // ignoring class 2 leaves only row 0
      assertClose(F.crossEntropy(logits(), target(), { ignoreIndex: 2 }).item(), -lsm[0]![0]!);
    });
  });
  test('crossEntropy label smoothing: (1−ε)·nll + ε/C·Σ_c(−log p_c)', () => {
    scope(() => {
      const eps = 0.1;
      const C = 3;
      const per = tgt.map((c, i) => (1 - eps) * -lsm[i]![c]! + (eps / C) * lsm[i]!.reduce((a, v) => a - v, 0));
      assertTensor(F.crossEntropy(logits(), target(), { labelSmoothing: eps, reduction: 'none' }), [3], per);
      assertClose(F.crossEntropy(logits(), target(), { labelSmoothing: eps }).item(), per.reduce((a, b) => a + b) / 3);
    });
  });
  test('crossEntropy label smoothing with class weights (PyTorch formula: both terms over Σ w_y)', () => {
    scope(() => {
      const eps = 0.2;
      const w = [0.5, 1, 2];
      const den = tgt.reduce((a, c) => a + w[c]!, 0);
      const nll = tgt.reduce((a, c, i) => a + w[c]! * -lsm[i]![c]!, 0) / den;
      const smooth = lsm.reduce((a, row) => a + row.reduce((b, v, c) => b - w[c]! * v, 0), 0) / den;
      assertClose(F.crossEntropy(logits(), target(), { labelSmoothing: eps, weight: f64(w) }).item(), (1 - eps) * nll + (eps / 3) * smooth);
    });
  });
  test('crossEntropy soft targets: −Σ p·log softmax, and with label smoothing p ← (1−ε)p + ε/C', () => {
    scope(() => {
      const P = [
        [0.7, 0.2, 0.1],
        [0, 0.5, 0.5],
        [0.25, 0.25, 0.5],
      ];
      const per = P.map((p, i) => -p.reduce((a, v, c) => a + v * lsm[i]![c]!, 0));
      assertTensor(F.crossEntropy(logits(), f64(P), { reduction: 'none' }), [3], per);
      assertClose(F.crossEntropy(logits(), f64(P)).item(), per.reduce((a, b) => a + b) / 3);
      const eps = 0.3;
      const perS = P.map((p, i) => -p.reduce((a, v, c) => a + ((1 - eps) * v + eps / 3) * lsm[i]![c]!, 0));
      assertClose(F.crossEntropy(logits(), f64(P), { labelSmoothing: eps }).item(), perS.reduce((a, b) => a + b) / 3);
      // a one-hot soft target equals the hard-target loss
      const oh = F.crossEntropy(logits(), f64([[1, 0, 0], [0, 0, 1], [0, 0, 1]])).item();
      assertClose(oh, F.crossEntropy(logits(), target()).item());
    });
  });
  test('nllLoss picks −logp[target]', () => {
    scope(() => {
      const lp = f64([[-0.5, -1, -2], [-3, -0.1, -4]]);
      assertClose(F.nllLoss(lp, idx([2, 1])).item(), (2 + 0.1) / 2);
      assertTensor(F.nllLoss(lp, idx([2, 1]), { reduction: 'none' }), [2], [2, 0.1]);
      assertClose(F.nllLoss(lp, idx([2, 1]), { weight: f64([1, 3, 2]) }).item(), (2 * 2 + 3 * 0.1) / (2 + 3));
    });
  });
  test('klDiv: Σ target·(log target − input); mean, sum, batchmean, none, logTarget', () => {
    scope(() => {
      const inp = [
        [Math.log(0.5), Math.log(0.25), Math.log(0.25)],
        [Math.log(0.1), Math.log(0.6), Math.log(0.3)],
      ];
      const tg = [
        [0.2, 0.3, 0.5],
        [0.6, 0.2, 0.2],
      ];
      const pts = tg.flatMap((r, i) => r.map((t, c) => t * (Math.log(t) - inp[i]![c]!)));
      const sum = pts.reduce((a, b) => a + b);
      assertTensor(F.klDiv(f64(inp), f64(tg), { reduction: 'none' }), [2, 3], pts);
      assertClose(F.klDiv(f64(inp), f64(tg), { reduction: 'sum' }).item(), sum);
      assertClose(F.klDiv(f64(inp), f64(tg)).item(), sum / 6);
      assertClose(F.klDiv(f64(inp), f64(tg), { reduction: 'batchmean' }).item(), sum / 2);
      const logTg = tg.map((r) => r.map(Math.log));
      assertClose(F.klDiv(f64(inp), f64(logTg), { reduction: 'batchmean', logTarget: true }).item(), sum / 2);
      // KL(p||p) = 0
      assertClose(F.klDiv(f64(logTg), f64(tg), { reduction: 'sum' }).item(), 0, { atol: 1e-12 });
    });
  });
  test('mseLoss: mean, sum, none', () => {
    scope(() => {
      const a = f64([1, 2, 3]);
      const b = f64([2, 0, 3]);
      assertClose(F.mseLoss(a, b).item(), 5 / 3);
      assertClose(F.mseLoss(a, b, { reduction: 'sum' }).item(), 5);
      assertTensor(F.mseLoss(a, b, { reduction: 'none' }), [3], [1, 4, 0]);
    });
  });
  test('an unknown reduction throws', () => {
    scope(() => assert.throws(() => F.mseLoss(f64([1]), f64([1]), { reduction: 'avg' as never }), /reduction/));
  });
});

describe('reductions, sorting and selection values', () => {
  const X = [
    [3, -1, 4],
    [1, 5, -9],
  ];
  test('var vs std with correction 0 and 1 (default)', () => {
    scope(() => {
      const x = f64([1, 2, 3, 4, 10]); // mean 4, Σ(x−m)² = 9+4+1+0+36 = 50
      assertClose(x.var().item(), 50 / 4);
      assertClose(x.var(undefined, { correction: 0 }).item(), 50 / 5);
      assertClose(x.std().item(), Math.sqrt(50 / 4));
      assertClose(x.std(undefined, { correction: 0 }).item(), Math.sqrt(10));
      const m = f64(X);
      // rows: [3,-1,4] mean 2, ss = 1+9+4 = 14; [1,5,-9] mean -1, ss = 4+36+64 = 104
      assertTensor(m.var(1), [2], [7, 52]);
      assertTensor(m.std(1, { correction: 0, keepdim: true }), [2, 1], [Math.sqrt(14 / 3), Math.sqrt(104 / 3)]);
      assertTensor(m.var(0), [3], [2, 18, 84.5]);
    });
  });
  test(
    'var / std with correction 2 divide by N−2',
    () => {
      scope(() => {
        const x = f64([1, 2, 3, 4, 10]);
        assertClose(x.var(0, { correction: 2 }).item(), 50 / 3);
        assertClose(x.std(undefined, { correction: 3 }).item(), Math.sqrt(25));
      });
    },
  );
  test('sum / mean / prod / amax / amin / norm over dims with keepdim', () => {
    scope(() => {
      const m = f64(X);
      assertClose(m.sum().item(), 3);
      assertTensor(m.sum(0), [3], [4, 4, -5]);
      assertTensor(m.sum(1, true), [2, 1], [6, -3]);
      assertTensor(m.mean([0, 1], true), [1, 1], [0.5]);
      assertTensor(m.prod(1), [2], [-12, -45]);
      assertClose(m.prod().item(), 540);
      assertTensor(m.amax(1), [2], [4, 5]);
      assertTensor(m.amin(0), [3], [1, -1, -9]);
      assertClose(m.norm().item(), Math.sqrt(9 + 1 + 16 + 1 + 25 + 81));
      assertTensor(m.norm(1), [2], [Math.sqrt(26), Math.sqrt(107)]);
      assertTensor(m.countNonzero(1), [2], [3, 3]);
    });
  });
  test('logsumexp: stable for large inputs', () => {
    scope(() => {
      const x = f64([[1000, 1000], [0, Math.log(3)]]);
      assertTensor(x.logsumexp(1), [2], [1000 + Math.log(2), Math.log(4)]);
      assertTensor(x.logsumexp(1, true), [2, 1], [1000 + Math.log(2), Math.log(4)]);
    });
  });
  test('softmax / logSoftmax (by hand; rows sum to 1; shift invariant)', () => {
    scope(() => {
      const x = f64([[0, Math.log(2), Math.log(5)], [1000, 1000, 1000]]);
      assertTensor(x.softmax(1), [2, 3], [1 / 8, 2 / 8, 5 / 8, 1 / 3, 1 / 3, 1 / 3]);
      assertTensor(x.logSoftmax(-1), [2, 3], [Math.log(1 / 8), Math.log(2 / 8), Math.log(5 / 8), -Math.log(3), -Math.log(3), -Math.log(3)]);
      assertTensor(f64([[1, 3], [1, 1]]).softmax(0), [2, 2], [0.5, 1 / (1 + Math.exp(-2)), 0.5, 1 / (1 + Math.exp(2))]);
    });
  });
  test('max / min along a dim return values and int64 indices; argmax / argmin', () => {
    scope(() => {
      const m = f64(X);
      const mx = m.max(1);
      assertTensor(mx.values, [2], [4, 5]);
      assert.equal(mx.indices.dtype, 'int64');
      assert.deepEqual(mx.indices.toArray(), [2, 1]);
      const mn = m.min(0, true);
      assertTensor(mn.values, [1, 3], [1, -1, -9]);
      assert.deepEqual(mn.indices.toArray(), [1, 0, 1]);
      assert.deepEqual(mn.indices.shape, [1, 3]);
      assert.equal(m.max().item(), 5);
      assert.equal(m.min().item(), -9);
      assert.equal(m.argmax().item(), 4); // flattened index
      assert.deepEqual(m.argmax(1).toArray(), [2, 1]);
      assert.deepEqual(m.argmin(0).toArray(), [1, 0, 1]);
      assert.deepEqual(m.argmax(0, true).shape, [1, 3]);
    });
  });
  test('topk: largest / smallest, dim, indices', () => {
    scope(() => {
      const x = f64([5, 1, 9, 3, 7]);
      const t = x.topk(3);
      assertTensor(t.values, [3], [9, 7, 5]);
      assert.deepEqual(t.indices.toArray(), [2, 4, 0]);
      const s = x.topk(2, { largest: false });
      assertTensor(s.values, [2], [1, 3]);
      assert.deepEqual(s.indices.toArray(), [1, 3]);
      const m = f64(X).topk(1, { dim: 0 });
      assertTensor(m.values, [1, 3], [3, 5, 4]);
      assert.deepEqual(m.indices.toArray(), [0, 1, 0]);
    });
  });
  test('sort ascending / descending with indices', () => {
    scope(() => {
      const s = f64([3, -2, 7, 0]).sort();
      assertTensor(s.values, [4], [-2, 0, 3, 7]);
      assert.deepEqual(s.indices.toArray(), [1, 3, 0, 2]);
      const d = f64(X).sort(1, true);
      assertTensor(d.values, [2, 3], [4, 3, -1, 5, 1, -9]);
      assert.deepEqual(d.indices.toArray(), [2, 0, 1, 1, 0, 2]);
      const c = f64(X).sort(0);
      assertTensor(c.values, [2, 3], [1, -1, -9, 3, 5, 4]);
    });
  });
  test('cumsum along each dim (and of int64 stays int64)', () => {
    scope(() => {
      assertTensor(f64(X).cumsum(1), [2, 3], [3, 2, 6, 1, 6, -3]);
      assertTensor(f64(X).cumsum(0), [2, 3], [3, -1, 4, 4, 4, -5]);
      const c = arange(1, 6).cumsum(0);
      assert.equal(c.dtype, 'int64');
      assert.deepEqual(c.toArray(), [1, 3, 6, 10, 15]);
    });
  });
});

describe('elementwise and indexing values', () => {
  test('comparisons produce bool tensors with the right values (tensor and scalar operands)', () => {
    scope(() => {
      const a = f64([1, 2, 3]);
      const b = f64([3, 2, 1]);
      const cases: [Tensor, number[]][] = [
        [a.eq(b), [0, 1, 0]], [a.ne(b), [1, 0, 1]], [a.lt(b), [1, 0, 0]], [a.le(b), [1, 1, 0]],
        [a.gt(b), [0, 0, 1]], [a.ge(b), [0, 1, 1]], [a.gt(1.5), [0, 1, 1]], [a.eq(3), [0, 0, 1]],
      ];
      for (const [t, v] of cases) {
        assert.equal(t.dtype, 'bool');
        assert.ok(t.toTypedArray() instanceof Uint8Array);
        assert.deepEqual(t.toArray(), v);
      }
      const m = a.gt(1);
      assert.deepEqual(m.logicalNot().toArray(), [1, 0, 0]);
      assert.deepEqual(m.logicalAnd(a.lt(3)).toArray(), [0, 1, 0]);
      assert.deepEqual(m.logicalOr(a.lt(2)).toArray(), [1, 1, 1]);
      assert.deepEqual(m.logicalXor(a.lt(3)).toArray(), [1, 0, 1]);
      assert.equal(m.any().item(), 1);
      assert.equal(m.all().item(), 0);
    });
  });
  test('where selects elementwise and broadcasts', () => {
    scope(() => {
      const c = tensor([[true, false], [false, true]]);
      assert.equal(c.dtype, 'bool');
      assertTensor(where(c, f64([[1, 2], [3, 4]]), f64([[10, 20], [30, 40]])), [2, 2], [1, 20, 30, 4]);
      assertTensor(where(c, f64([1, 2]), f64([-1])), [2, 2], [1, -1, -1, 2]);
    });
  });
  test('gather, indexSelect, scatter, maskedSelect, maskedFill', () => {
    scope(() => {
      const x = f64([[1, 2, 3], [4, 5, 6]]);
      assertTensor(x.gather(1, idx([[2, 0], [1, 1]])), [2, 2], [3, 1, 5, 5]);
      assertTensor(x.gather(0, idx([[1, 0, 1]])), [1, 3], [4, 2, 6]);
      assertTensor(x.indexSelect(1, idx([2, 2, 0])), [2, 3], [3, 3, 1, 6, 6, 4]);
      assertTensor(x.indexSelect(0, idx([1])), [1, 3], [4, 5, 6]);
      assertTensor(x.scatter(1, idx([[0], [2]]), f64([[9], [8]])), [2, 3], [9, 2, 3, 4, 5, 8]);
      assertTensor(x.maskedSelect(x.gt(3)), [3], [4, 5, 6]);
      assertTensor(x.maskedFill(x.lt(3), -1), [2, 3], [-1, -1, 3, 4, 5, 6]);
      assertTensor(F.pad(x, [0, 0], 'constant'), [2, 3], [1, 2, 3, 4, 5, 6]);
    });
  });
  test('flip, roll, narrow, slice, select, split, chunk, cat, stack, repeat, expand, permute', () => {
    scope(() => {
      const x = arange(6, undefined, 1, { dtype: 'float64' }).reshape(2, 3);
      assertTensor(x.flip(1), [2, 3], [2, 1, 0, 5, 4, 3]);
      assertTensor(x.flip([0, 1]), [2, 3], [5, 4, 3, 2, 1, 0]);
      assertTensor(x.roll(1, 1), [2, 3], [2, 0, 1, 5, 3, 4]);
      assertTensor(x.roll(-1, 0), [2, 3], [3, 4, 5, 0, 1, 2]);
      assertTensor(x.narrow(1, 1, 2), [2, 2], [1, 2, 4, 5]);
      assertTensor(x.slice(1, 0, undefined, 2), [2, 2], [0, 2, 3, 5]);
      assertTensor(x.slice(1, -2), [2, 2], [1, 2, 4, 5]);
      assertTensor(x.select(0, 1), [3], [3, 4, 5]);
      assertTensor(x.select(1, -1), [2], [2, 5]);
      const parts = x.split([1, 2], 1);
      assert.equal(parts.length, 2);
      assertTensor(parts[1]!, [2, 2], [1, 2, 4, 5]);
      assert.deepEqual(x.split(2, 1).map((t) => t.shape), [[2, 2], [2, 1]]);
      assert.deepEqual(x.chunk(3, 1).map((t) => t.toArray()), [[0, 3], [1, 4], [2, 5]]);
      assertTensor(x.T, [3, 2], [0, 3, 1, 4, 2, 5]);
      assertTensor(x.permute(1, 0).contiguous(), [3, 2], [0, 3, 1, 4, 2, 5]);
      assertTensor(x.unsqueeze(0).repeat(2, 1, 1), [2, 2, 3], [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
      assertTensor(f64([1, 2]).unsqueeze(1).expand(2, 3), [2, 3], [1, 1, 1, 2, 2, 2]);
      assertTensor(f64([1, 2]).reshape(1, 2).expand(-1, 2), [1, 2], [1, 2]);
      assert.deepEqual(x.unsqueeze(-1).shape, [2, 3, 1]);
      assert.deepEqual(x.reshape(1, 2, 1, 3).squeeze().shape, [2, 3]);
      assert.deepEqual(x.reshape(1, 2, 1, 3).squeeze(2).shape, [1, 2, 3]);
      assert.deepEqual(x.reshape(2, 1, 3, 1).flatten().shape, [6]);
      assert.deepEqual(x.reshape(2, 1, 3, 1).flatten(1, 2).shape, [2, 3, 1]);
      assertTensor(F.pad(x, [0, 0]), [2, 3], [0, 1, 2, 3, 4, 5]);
      assertTensor(x.view(3, 2), [3, 2], [0, 1, 2, 3, 4, 5]);
      assertTensor(x.reshape([-1]), [6], [0, 1, 2, 3, 4, 5]);
    });
  });
  test('unary math, activations and rounding (by hand)', () => {
    scope(() => {
      const x = f64([-2, -0.5, 0, 1.5, 2.5]);
      assertTensor(x.relu(), [5], [0, 0, 0, 1.5, 2.5]);
      assertTensor(x.leakyRelu(0.1), [5], [-0.2, -0.05, 0, 1.5, 2.5]);
      assertTensor(x.abs(), [5], [2, 0.5, 0, 1.5, 2.5]);
      assertTensor(x.sign(), [5], [-1, -1, 0, 1, 1]);
      assertTensor(x.round(), [5], [-2, -0, 0, 2, 2]); // half to even
      assertTensor(x.floor(), [5], [-2, -1, 0, 1, 2]);
      assertTensor(x.ceil(), [5], [-2, -0, 0, 2, 3]);
      assertTensor(x.trunc(), [5], [-2, -0, 0, 1, 2]);
      assertTensor(x.sigmoid(), [5], [...x.toArray()].map((v) => 1 / (1 + Math.exp(-v))));
      assertTensor(x.tanh(), [5], [...x.toArray()].map(Math.tanh));
      assertTensor(x.silu(), [5], [...x.toArray()].map((v) => v / (1 + Math.exp(-v))));
      assertTensor(x.softplus(), [5], [...x.toArray()].map((v) => Math.log1p(Math.exp(v))));
      const phi = (v: number): number => 0.5 * (1 + erf(v / Math.SQRT2));
      assertTensor(x.gelu(), [5], [...x.toArray()].map((v) => v * phi(v)), { rtol: 1e-7, atol: 1e-7 });
      const gt = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
      assertTensor(x.gelu('tanh'), [5], [...x.toArray()].map(gt));
      assertTensor(x.clamp(-1, 2), [5], [-1, -0.5, 0, 1.5, 2]);
      assertTensor(x.clamp(null, 0), [5], [-2, -0.5, 0, 0, 0]);
      assertTensor(x.square(), [5], [4, 0.25, 0, 2.25, 6.25]);
      assertTensor(f64([4, 0.25]).sqrt(), [2], [2, 0.5]);
      assertTensor(f64([4, 0.25]).rsqrt(), [2], [0.5, 2]);
      assertTensor(f64([4, 0.25]).reciprocal(), [2], [0.25, 4]);
      assertTensor(f64([8, 0.5]).log2(), [2], [3, -1]);
      assertTensor(f64([7, -7]).fmod(3), [2], [1, -1]);
      assertTensor(f64([7, -7]).remainder(3), [2], [1, 2]);
      assertTensor(f64([7, -7]).floorDiv(2), [2], [3, -4]);
      assertTensor(f64([2, 3]).pow(f64([3, 2])), [2], [8, 9]);
      assertTensor(f64([2, 3]).rpow(2), [2], [4, 8]);
      assertTensor(f64([2, 4]).rdiv(8), [2], [4, 2]);
      assertTensor(f64([2, 4]).rsub(1), [2], [-1, -3]);
      assertTensor(f64([1, 5]).lerp(f64([3, 1]), 0.25), [2], [1.5, 4]);
      assertTensor(f64([1, 5]).add(f64([1, 1]), 3), [2], [4, 8]);
      const nan = f64([0, 1]).div(f64([0, 0]));
      assert.deepEqual(nan.isnan().toArray(), [1, 0]);
      assert.deepEqual(nan.isfinite().toArray(), [0, 0]);
    });
  });
  test(
    'floorDiv of an integer tensor by a non-integer scalar',
    () => {
      scope(() => {
        assert.deepEqual(arange(8).floorDiv(2.5).toArray(), [0, 0, 0, 1, 1, 2, 2, 2]);
      });
    },
  );
  test(
    'in-place div_ by a scalar is true division',
    () => {
      scope(() => {
        const t = f64([5, 7, 10]);
        t.div_(3);
        assert.deepEqual(t.toArray(), [5 / 3, 7 / 3, 10 / 3]);
      });
    },
  );
  test(
    'interpolate bilinear with a non-integer scaleFactor uses the scale factor in the source-coordinate formula, as F.interpolate',
    () => {
      scope(() => {
        const x = arange(5, undefined, 1, { dtype: 'float64' }).reshape(1, 1, 1, 5);
        const exp = range(7).map((d) => Math.min(Math.max((d + 0.5) / 1.5 - 0.5, 0), 4));
        assertTensor(F.interpolate(x, { scaleFactor: 1.5, mode: 'bilinear' }), [1, 1, 1, 7], exp);
      });
    },
  );
  test('oneHot gives int64 one-hot rows', () => {
    scope(() => {
      const oh = oneHot(idx([2, 0, 1]), 4);
      assert.equal(oh.dtype, 'int64');
      assertTensor(oh, [3, 4], [0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    });
  });
});

/** erf via its Taylor series (|x| < 3) or the erfc continued fraction. */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  if (a < 3) {
    // Taylor series: erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let sum = 0;
    let term = a;
    for (let n = 0; n < 100; n++) {
      sum += term / (2 * n + 1);
      term *= (-a * a) / (n + 1);
    }
    return (s * 2 * sum) / Math.sqrt(Math.PI);
  }
  // continued fraction for erfc
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (a + f);
  return s * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f));
}
