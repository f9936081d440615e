// Parameter initialisation, with the formulas of torch.nn.init. Every function fills in place without
// recording gradients, takes an optional Generator (seeded init) and returns its tensor.
import { noGrad, type Generator, type Tensor } from '../engine/index.js';

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

export type FanMode = 'fan_in' | 'fan_out';

const LINEAR_FNS: readonly string[] = ['linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d'];

/** The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain (param: leaky_relu's negative slope). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number | null): number {
  if (LINEAR_FNS.includes(nonlinearity) || nonlinearity === 'sigmoid') return 1;
  switch (nonlinearity) {
    case 'tanh': return 5.0 / 3;
    case 'relu': return Math.sqrt(2.0);
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) throw new Error(`negative_slope ${String(param)} is not a valid number`);
      return Math.sqrt(2.0 / (1 + slope ** 2));
    }
    case 'selu': return 3.0 / 4;
    default: throw new Error(`Unsupported nonlinearity ${String(nonlinearity)}`);
  }
}

/** [fanIn, fanOut] of a weight of shape [out, in, ...kernel], as torch.nn.init._calculate_fan_in_and_fan_out. */
export function calculateFanInAndFanOut(t: Tensor | number[]): [number, number] {
  const shape = Array.isArray(t) ? t : t.shape;
  if (shape.length < 2) throw new Error('Fan in and fan out can not be computed for tensor with fewer than 2 dimensions');
  let receptive = 1;
  for (const s of shape.slice(2)) receptive *= s;
  return [shape[1]! * receptive, shape[0]! * receptive];
}

function correctFan(t: Tensor, mode: FanMode): number {
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new Error(`Mode ${String(mode)} not supported, please use one of fan_in, fan_out`);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return mode === 'fan_in' ? fanIn : fanOut;
}

const hasZeroDim = (t: Tensor): boolean => t.shape.includes(0);

/** Fills with U(a, b). */
export function uniform_(t: Tensor, a = 0, b = 1, generator?: Generator | null): Tensor {
  return noGrad(() => t.uniform_(a, b, generator));
}
/** Fills with N(mean, std²). */
export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator | null): Tensor {
  return noGrad(() => t.normal_(mean, std, generator));
}
export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}
export function zeros_(t: Tensor): Tensor {
  return noGrad(() => t.zero_());
}
export function ones_(t: Tensor): Tensor {
  return noGrad(() => t.fill_(1));
}

export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (leaky_relu only). Default 0. */
  a?: number;
  mode?: FanMode;
  /** Default 'leaky_relu', as PyTorch. */
  nonlinearity?: Nonlinearity;
}

/** He init, uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan), as torch.nn.init.kaiming_uniform_. */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}, generator?: Generator | null): Tensor {
  if (hasZeroDim(t)) return t;
  const fan = correctFan(t, opts.mode ?? 'fan_in');
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  const std = gain / Math.sqrt(fan);
  const bound = Math.sqrt(3.0) * std;
  return uniform_(t, -bound, bound, generator);
}

/** He init, normal: N(0, std²) with std = gain / sqrt(fan), as torch.nn.init.kaiming_normal_. */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}, generator?: Generator | null): Tensor {
  if (hasZeroDim(t)) return t;
  const fan = correctFan(t, opts.mode ?? 'fan_in');
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  const std = gain / Math.sqrt(fan);
  return normal_(t, 0, std, generator);
}

/** Glorot init, uniform: U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)), as torch.nn.init.xavier_uniform_. */
export function xavierUniform_(t: Tensor, gain = 1.0, generator?: Generator | null): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const std = gain * Math.sqrt(2.0 / (fanIn + fanOut));
  const a = Math.sqrt(3.0) * std;
  return uniform_(t, -a, a, generator);
}

/** Glorot init, normal: N(0, std²) with std = gain * sqrt(2 / (fanIn + fanOut)), as torch.nn.init.xavier_normal_. */
export function xavierNormal_(t: Tensor, gain = 1.0, generator?: Generator | null): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const std = gain * Math.sqrt(2.0 / (fanIn + fanOut));
  return normal_(t, 0, std, generator);
}
