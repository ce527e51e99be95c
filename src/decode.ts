import { HALF_TO_FLOAT64, float64ToHalfBits } from './float16.js';
import type { DType, FloatDType } from './tensor.js';

/**
 * Elements of one chunk as float64. `direct` is set when the chunk already is
 * float64 and can be read in place; otherwise `decode` converts a run of
 * elements into a caller's scratch array. Views are made once per chunk;
 * `bytes` must be in platform byte order and aligned to the item size.
 */
export interface Float64Reader {
  readonly direct: Float64Array | null;
  decode(start: number, n: number, dst: Float64Array): void;
}

type NativeArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array;

/** Typed-array set() converts natively, far faster than an element loop over a union of array types. */
const bySet = (view: NativeArray): Float64Reader => ({
  direct: null,
  decode: (start, n, dst) => dst.set(view.subarray(start, start + n)),
});

export function float64Reader(bytes: Uint8Array, dtype: DType): Float64Reader {
  const { buffer, byteOffset, byteLength } = bytes;
  switch (dtype) {
    case 'float64':
      return { direct: new Float64Array(buffer, byteOffset, byteLength / 8), decode: () => undefined };
    case 'float32':
      return bySet(new Float32Array(buffer, byteOffset, byteLength / 4));
    case 'int32':
      return bySet(new Int32Array(buffer, byteOffset, byteLength / 4));
    case 'uint32':
      return bySet(new Uint32Array(buffer, byteOffset, byteLength / 4));
    case 'int16':
      return bySet(new Int16Array(buffer, byteOffset, byteLength / 2));
    case 'uint16':
      return bySet(new Uint16Array(buffer, byteOffset, byteLength / 2));
    case 'int8':
      return bySet(new Int8Array(buffer, byteOffset, byteLength));
    case 'uint8':
    case 'bool':
      return bySet(new Uint8Array(buffer, byteOffset, byteLength));
    case 'float16':
      return halfReader(new Uint16Array(buffer, byteOffset, byteLength / 2));
    case 'int64':
    case 'uint64':
      return int64Reader(new Uint32Array(buffer, byteOffset, byteLength / 4), dtype === 'int64');
  }
}

function halfReader(bits: Uint16Array): Float64Reader {
  return {
    direct: null,
    decode(start, n, dst) {
      for (let i = 0; i < n; i++) dst[i] = HALF_TO_FLOAT64[bits[start + i]!]!;
    },
  };
}

/**
 * 64-bit integers without BigInt: hi*2^32 is exact and adding lo rounds once,
 * so this is the correctly rounded conversion NumPy's astype(float64) makes.
 * Words are in platform (little-endian) order: low word first.
 */
function int64Reader(words: Uint32Array, signed: boolean): Float64Reader {
  return {
    direct: null,
    decode(start, n, dst) {
      for (let i = 0; i < n; i++) {
        const lo = words[2 * (start + i)]!;
        const hiWord = words[2 * (start + i) + 1]!;
        const hi = signed ? hiWord | 0 : hiWord;
        dst[i] = hi * 4294967296 + lo;
      }
    },
  };
}

/**
 * Losses of one chunk in the output dtype. `direct` is set for float64,
 * where the kernel writes in place; otherwise `encode` rounds a run of
 * float64 losses into the output.
 */
export interface LossWriter {
  readonly direct: Float64Array | null;
  encode(start: number, n: number, src: Float64Array): void;
}

export function lossWriter(bytes: Uint8Array, dtype: FloatDType): LossWriter {
  const { buffer, byteOffset, byteLength } = bytes;
  if (dtype === 'float64') {
    return { direct: new Float64Array(buffer, byteOffset, byteLength / 8), encode: () => undefined };
  }
  if (dtype === 'float32') {
    const out = new Float32Array(buffer, byteOffset, byteLength / 4);
    return { direct: null, encode: (start, n, src) => out.set(src.subarray(0, n), start) };
  }
  const out = new Uint16Array(buffer, byteOffset, byteLength / 2);
  return {
    direct: null,
    encode(start, n, src) {
      for (let i = 0; i < n; i++) out[start + i] = float64ToHalfBits(src[i]!);
    },
  };
}
