import { readFileSync } from 'node:fs';
import { parseNpyHeader, type NpyLayout } from '../../src/formats/npy/read.js';

/**
 * A whole small .npy file decoded to float64 values in logical (C) order, for
 * checking outputs. Uses DataView with the file's byte order, independently
 * of the streaming path under test.
 */
export function readNpyValues(bytes: Uint8Array, file = 'test.npy'): { layout: NpyLayout; values: number[] } {
  const layout = parseNpyHeader(file, bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset + layout.dataOffset, bytes.byteLength - layout.dataOffset);
  const le = layout.header.byteOrder === 'little';
  const read: Record<string, [number, (at: number) => number]> = {
    float64: [8, (at) => view.getFloat64(at, le)],
    float32: [4, (at) => view.getFloat32(at, le)],
    float16: [2, (at) => halfToNumber(view.getUint16(at, le))],
  };
  const entry = read[layout.header.dtype];
  if (entry === undefined) throw new Error(`readNpyValues: unexpected dtype ${layout.header.dtype}`);
  const [size, get] = entry;
  const values: number[] = [];
  const shape = layout.header.shape;
  const count = shape.reduce((n, d) => n * d, 1);
  for (let i = 0; i < count; i++) values.push(get(size * (layout.header.fortranOrder ? fortranOffset(i, shape) : i)));
  return { layout, values };
}

export const readNpyFile = (path: string): ReturnType<typeof readNpyValues> => readNpyValues(readFileSync(path), path);

/** Where C-order element i sits in a Fortran-ordered buffer. */
export function fortranOffset(i: number, shape: readonly number[]): number {
  let offset = 0;
  let stride = 1;
  const index: number[] = [];
  for (let axis = shape.length - 1, rest = i; axis >= 0; axis--) {
    index[axis] = rest % shape[axis]!;
    rest = Math.floor(rest / shape[axis]!);
  }
  for (let axis = 0; axis < shape.length; axis++) {
    offset += index[axis]! * stride;
    stride *= shape[axis]!;
  }
  return offset;
}

/** binary16 decoding written out longhand, independent of src/float16.ts. */
function halfToNumber(bits: number): number {
  const sign = bits >> 15 ? -1 : 1;
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  if (e === 0) return sign * m * Math.pow(2, -24);
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * Math.pow(2, e - 15) * (1 + m / 1024);
}
