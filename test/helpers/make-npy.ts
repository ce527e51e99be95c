import { writeFileSync } from 'node:fs';
import type { DType } from '../../src/tensor/tensor.js';

/** NumPy's dtype codes, written independently of src/read-npy.ts. */
const DESCR: Readonly<Record<DType, string>> = {
  bool: '|b1',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  uint64: '<u8',
  float16: '<f2',
  float32: '<f4',
  float64: '<f8',
};

/**
 * A version 1.0 .npy file, built by hand from raw little-endian element
 * bytes. For tests: an independent writer, so reader bugs cannot hide.
 */
export function npyBytes(dtype: DType, shape: readonly number[], data: Uint8Array, fortranOrder = false, bigEndian = false): Uint8Array {
  const descr = bigEndian ? DESCR[dtype].replace('<', '>') : DESCR[dtype];
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let text = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${tuple}, }`;
  while ((10 + text.length + 1) % 64 !== 0) text += ' ';
  text += '\n';
  const out = new Uint8Array(10 + text.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, text.length & 0xff, text.length >> 8]);
  out.set(Buffer.from(text, 'latin1'), 10);
  out.set(data, 10 + text.length);
  return out;
}

export function writeNpy(path: string, dtype: DType, shape: readonly number[], data: Uint8Array, fortranOrder = false): string {
  writeFileSync(path, npyBytes(dtype, shape, data, fortranOrder));
  return path;
}

export const float32Bytes = (values: readonly number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);
export const float64Bytes = (values: readonly number[]): Uint8Array => new Uint8Array(Float64Array.from(values).buffer);
