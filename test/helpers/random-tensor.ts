import type { DType } from '../../src/tensor/tensor.js';
import { fsum, ITEM_BYTES, lossRef, neumaierSum } from './reference.js';

/** xorshift32: a seeded stream, so a failing case replays from its seed. */
function prng(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/**
 * `count` elements of `dtype` as little-endian bytes, plus their values as
 * float64 (what NumPy's astype(float64) gives), decoded here with DataView
 * independently of src/. Floats are spread over a few units so that both
 * sides of delta are hit; a few are NaN or infinite when `specials` is set.
 */
export function randomTensor(dtype: DType, count: number, seed: number, specials = false): { bytes: Uint8Array; values: Float64Array } {
  const next = prng(seed);
  const bytes = new Uint8Array(count * ITEM_BYTES[dtype]);
  const view = new DataView(bytes.buffer);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const r = next();
    const special = specials && r < 0.001 ? [NaN, Infinity, -Infinity][i % 3]! : undefined;
    const real = special ?? (next() - 0.5) * 8;
    switch (dtype) {
      case 'bool':
        view.setUint8(i, r < 0.5 ? 0 : 1);
        break;
      case 'int8':
        view.setInt8(i, Math.floor(r * 256) - 128);
        break;
      case 'uint8':
        view.setUint8(i, Math.floor(r * 256));
        break;
      case 'int16':
        view.setInt16(2 * i, Math.floor(r * 65536) - 32768, true);
        break;
      case 'uint16':
        view.setUint16(2 * i, Math.floor(r * 65536), true);
        break;
      case 'int32':
        view.setInt32(4 * i, Math.floor(r * 4294967296) - 2147483648, true);
        break;
      case 'uint32':
        view.setUint32(4 * i, Math.floor(r * 4294967296), true);
        break;
      case 'int64':
        view.setBigInt64(8 * i, BigInt(Math.floor(r * 2 ** 53)) * BigInt(Math.floor(next() * 1024)) - 2n ** 62n, true);
        break;
      case 'uint64':
        view.setBigUint64(8 * i, BigInt(Math.floor(r * 2 ** 53)) * BigInt(Math.floor(next() * 2048)), true);
        break;
      case 'float16':
        view.setUint16(2 * i, Math.floor(r * 65536) & 0x7bff, true);
        break;
      case 'float32':
        view.setFloat32(4 * i, real, true);
        break;
      case 'float64':
        view.setFloat64(8 * i, real, true);
        break;
    }
    values[i] = decodeOne(view, dtype, i);
  }
  return { bytes, values };
}

function decodeOne(view: DataView, dtype: DType, i: number): number {
  switch (dtype) {
    case 'bool':
    case 'uint8':
      return view.getUint8(i);
    case 'int8':
      return view.getInt8(i);
    case 'int16':
      return view.getInt16(2 * i, true);
    case 'uint16':
      return view.getUint16(2 * i, true);
    case 'int32':
      return view.getInt32(4 * i, true);
    case 'uint32':
      return view.getUint32(4 * i, true);
    case 'int64':
      return Number(view.getBigInt64(8 * i, true));
    case 'uint64':
      return Number(view.getBigUint64(8 * i, true));
    case 'float16': {
      const bits = view.getUint16(2 * i, true);
      const e = (bits >> 10) & 31;
      const m = bits & 1023;
      const sign = bits & 0x8000 ? -1 : 1;
      return e === 0 ? sign * m * 2 ** -24 : sign * 2 ** (e - 15) * (1 + m / 1024);
    }
    case 'float32':
      return view.getFloat32(4 * i, true);
    case 'float64':
      return view.getFloat64(8 * i, true);
  }
}

/** The reference loss of each element pair (helpers/reference.ts's formulas). */
export const referenceLoss = (a: Float64Array, b: Float64Array, delta: number, huber: boolean): Float64Array =>
  a.map((x, i) => lossRef(x, b[i]!, { delta, huber }));

/** A sum accurate to the last bit: the correctly rounded fsum, or the Neumaier sum once NaN or infinities are in. */
export const accurateSum = (values: Float64Array): number => (values.every(Number.isFinite) ? fsum(values) : neumaierSum(values));
