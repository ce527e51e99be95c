import { float64ToHalfBits, halfTable } from '../tensor/float16.js';
import type { DType } from '../tensor/tensor.js';

type NativeArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** Elements as a typed array of their own type, for the dtypes JavaScript has one for. */
function nativeView(bytes: Uint8Array, dtype: Exclude<DType, 'int64' | 'uint64' | 'float16' | 'bool'>, count: number): NativeArray {
  const { buffer, byteOffset } = bytes;
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, count);
    case 'int8':
      return new Int8Array(buffer, byteOffset, count);
    case 'int16':
      return new Int16Array(buffer, byteOffset, count);
    case 'uint16':
      return new Uint16Array(buffer, byteOffset, count);
    case 'int32':
      return new Int32Array(buffer, byteOffset, count);
    case 'uint32':
      return new Uint32Array(buffer, byteOffset, count);
    case 'float32':
      return new Float32Array(buffer, byteOffset, count);
    case 'float64':
      return new Float64Array(buffer, byteOffset, count);
  }
}

/**
 * float16 bits widened to float64 in place: `dst` starts where `bits` does,
 * so the loop runs back to front, where each element is read before any
 * write reaches it.
 */
export function widenHalvesInPlace(bits: Uint16Array, dst: Float64Array): void {
  const half = halfTable();
  for (let i = bits.length - 1; i >= 0; i--) dst[i] = half[bits[i]!]!;
}

/**
 * The first `count` elements of `bytes` (platform byte order, aligned) as
 * float64 in `dst`, as NumPy's astype(float64) gives them. `dst` may overlap
 * `bytes` when it starts no later than they do: set() copies an overlapping
 * source first, and the 64-bit loop reads each element before writing it.
 */
export function widenToFloat64(bytes: Uint8Array, dtype: DType, count: number, dst: Float64Array): void {
  if (dtype === 'int64' || dtype === 'uint64') {
    widenInt64(new Uint32Array(bytes.buffer, bytes.byteOffset, 2 * count), dtype === 'int64', count, dst);
  } else if (dtype === 'float16') {
    const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    const half = halfTable();
    for (let i = 0; i < count; i++) dst[i] = half[bits[i]!]!;
  } else if (dtype === 'bool') {
    // NumPy reads any nonzero byte of a bool array as True, which is 1.0.
    for (let i = 0; i < count; i++) dst[i] = bytes[i] === 0 ? 0 : 1;
  } else {
    // Typed-array set() converts natively, far faster than an element loop over a union of array types.
    dst.set(nativeView(bytes, dtype, count));
  }
}

/**
 * 64-bit integers without BigInt: hi*2^32 is exact and adding lo rounds once,
 * so this is the correctly rounded conversion NumPy makes. Words are in
 * platform (little-endian) order: low word first.
 */
function widenInt64(words: Uint32Array, signed: boolean, count: number, dst: Float64Array): void {
  for (let i = 0; i < count; i++) {
    const lo = words[2 * i]!;
    const hiWord = words[2 * i + 1]!;
    dst[i] = (signed ? hiWord | 0 : hiWord) * 4294967296 + lo;
  }
}

/** float64 losses rounded once to binary16 bits. */
export function encodeHalf(src: Float64Array, dst: Uint16Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = float64ToHalfBits(src[i]!);
}
