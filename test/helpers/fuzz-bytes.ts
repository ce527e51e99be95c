/**
 * Seeded bytes for the fuzz suite's tensors, and reading elements back.
 * Imports nothing that loads ava (helpers/reference.ts does, through
 * @fast-check/ava), so that the reference worker (fuzz-ref-worker.ts) can
 * load the readers that use it.
 */
import type { DType } from '../../src/tensor/tensor.js';

import { ITEM_BYTES } from './reference.js';

export { ITEM_BYTES };

/** binary16 bits → value, from the IEEE 754 definition. */
export function halfBits(bits: number): number {
  const e = (bits >>> 10) & 0x1f;
  const m = bits & 0x3ff;
  const magnitude = e === 0x1f ? (m === 0 ? Infinity : NaN) : e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  return bits & 0x8000 ? -magnitude : magnitude;
}

/** One element of `dtype` at byte `at`, as float64 (NumPy's astype(float64)). */
export function elementAt(view: DataView, at: number, dtype: DType, le: boolean): number {
  switch (dtype) {
    case 'bool':
      // NumPy's bool is any nonzero byte: astype(float64) gives 1.
      return view.getUint8(at) === 0 ? 0 : 1;
    case 'int8':
      return view.getInt8(at);
    case 'uint8':
      return view.getUint8(at);
    case 'int16':
      return view.getInt16(at, le);
    case 'uint16':
      return view.getUint16(at, le);
    case 'int32':
      return view.getInt32(at, le);
    case 'uint32':
      return view.getUint32(at, le);
    case 'int64':
      return Number(view.getBigInt64(at, le));
    case 'uint64':
      return Number(view.getBigUint64(at, le));
    case 'float16':
      return halfBits(view.getUint16(at, le));
    case 'float32':
      return view.getFloat32(at, le);
    case 'float64':
      return view.getFloat64(at, le);
  }
}

/** xorshift32, as random-tensor.ts has it: a seeded byte source. */
export function prng(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** The bytes of `count` little-endian `dtype` elements: mostly modest values; for one seed in 8, any bit patterns. */
export function elementBytes(dtype: DType, count: number, seed: number): Uint8Array {
  const next = prng(seed);
  const size = ITEM_BYTES[dtype];
  const bytes = new Uint8Array(count * size);
  const view = new DataView(bytes.buffer);
  const wild = (seed & 7) === 0;
  for (let i = 0; i < count; i++) {
    const r = next();
    if (wild) {
      for (let k = 0; k < size; k++) bytes[i * size + k] = next() & 0xff;
      if (dtype === 'bool') bytes[i] = r & 1;
      continue;
    }
    const real = ((r / 2 ** 32) - 0.5) * 8;
    switch (dtype) {
      case 'bool':
        view.setUint8(i, r & 1);
        break;
      case 'int8':
      case 'uint8':
        view.setUint8(i, r & 0xff);
        break;
      case 'int16':
      case 'uint16':
        view.setUint16(2 * i, r & 0xffff, true);
        break;
      case 'int32':
      case 'uint32':
        view.setUint32(4 * i, r, true);
        break;
      case 'int64':
      case 'uint64':
        view.setUint32(8 * i, r, true);
        view.setUint32(8 * i + 4, next() >>> (next() & 31), true);
        break;
      case 'float16': {
        // Finite halves of moderate size.
        view.setUint16(2 * i, (r & 0x83ff) | ((12 + (next() % 8)) << 10), true);
        break;
      }
      case 'float32':
        view.setFloat32(4 * i, real, true);
        break;
      case 'float64':
        view.setFloat64(8 * i, real, true);
        break;
    }
  }
  return bytes;
}

