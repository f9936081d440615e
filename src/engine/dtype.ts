export type DType = 'float32' | 'float64' | 'int64' | 'uint8' | 'bool' | 'int32' | 'float16' | 'bfloat16';

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'uint8', 'bool', 'int32', 'float16', 'bfloat16'];

/** Codes shared with native/src/binding.cc. */
export const DTYPE_CODE: Readonly<Record<DType, number>> = {
  float32: 0, float64: 1, int64: 2, uint8: 3, bool: 4, int32: 5, float16: 6, bfloat16: 7,
};

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Uint8Array | Int32Array | Uint16Array;

export function dtypeFromCode(code: number): DType {
  const d = DTYPES[code];
  if (d === undefined) throw new Error(`unsupported dtype code ${code}`);
  return d;
}

export function checkDType(d: string): DType {
  if (!(DTYPES as readonly string[]).includes(d)) throw new Error(`unknown dtype '${d}'; expected one of ${DTYPES.join(', ')}`);
  return d as DType;
}

export function elementSize(d: DType): number {
  switch (d) {
    case 'float64': case 'int64': return 8;
    case 'float32': case 'int32': return 4;
    case 'float16': case 'bfloat16': return 2;
    case 'uint8': case 'bool': return 1;
  }
}

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** Views raw bytes as the TypedArray that matches a dtype (bool as Uint8Array, half types as Uint16Array). */
export function typedView(d: DType, buf: ArrayBuffer): TypedArray {
  switch (d) {
    case 'float32': return new Float32Array(buf);
    case 'float64': return new Float64Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'uint8': case 'bool': return new Uint8Array(buf);
    case 'float16': case 'bfloat16': return new Uint16Array(buf);
  }
}

/** The dtype a TypedArray holds by default. */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Uint16Array) throw new Error('a Uint16Array holds raw float16/bfloat16 bits: pass {dtype: \'float16\'} or {dtype: \'bfloat16\'}');
  throw new Error('unsupported TypedArray for tensor creation');
}
