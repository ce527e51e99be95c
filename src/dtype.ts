import type { DType, FloatDType } from './tensor.js';

export const ITEM_SIZE: Readonly<Record<DType, number>> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float16: 2,
  float32: 4,
  float64: 8,
};

const FLOAT_RANK: Readonly<Record<FloatDType, number>> = { float16: 0, float32: 1, float64: 2 };
const FLOATS: readonly FloatDType[] = ['float16', 'float32', 'float64'];

interface IntKind {
  readonly signed: boolean;
  readonly size: number;
}

function intKind(dtype: DType): IntKind | undefined {
  if (dtype === 'bool' || dtype.startsWith('float')) return undefined;
  return { signed: dtype.startsWith('int'), size: ITEM_SIZE[dtype] };
}

/**
 * NumPy's promotion of two integer kinds. Mixed signedness needs a signed type
 * wider than the unsigned one; past 8 bytes NumPy gives float64, which we
 * mark with size 16 (it maps to float64 below).
 */
function promoteInts(a: IntKind, b: IntKind): IntKind {
  if (a.signed === b.signed) return { signed: a.signed, size: Math.max(a.size, b.size) };
  const [s, u] = a.signed ? [a, b] : [b, a];
  return s.size > u.size ? s : { signed: true, size: u.size * 2 };
}

/** The smallest float NumPy promotes an integer kind to when it meets float16. */
function floatForInt(k: IntKind): FloatDType {
  if (k.size === 1) return 'float16';
  if (k.size === 2) return 'float32';
  return 'float64';
}

const maxFloat = (a: FloatDType, b: FloatDType): FloatDType => (FLOAT_RANK[a] >= FLOAT_RANK[b] ? a : b);

/**
 * `np.result_type(input, label, np.float16)`: the loss's dtype
 * (conformance README, "Result dtype").
 */
export function resultDType(input: DType, label: DType): FloatDType {
  let float: FloatDType = 'float16';
  let ints: IntKind | undefined;
  for (const dtype of [input, label]) {
    if (dtype === 'float16' || dtype === 'float32' || dtype === 'float64') float = maxFloat(float, dtype);
    const k = intKind(dtype);
    if (k !== undefined) ints = ints === undefined ? k : promoteInts(ints, k);
  }
  return ints === undefined ? float : maxFloat(float, floatForInt(ints));
}

export const isFloatDType = (d: string): d is FloatDType => (FLOATS as readonly string[]).includes(d);
