import { ITEM_SIZE } from '../../tensor/dtype.js';
import { float64ToHalfBits } from '../../tensor/float16.js';
import type { ByteSink, LossTensorSpec, TensorWriter } from '../../tensor/format.js';
import type { FloatDType } from '../../tensor/tensor.js';

const DESCR: Readonly<Record<FloatDType, string>> = { float16: '<f2', float32: '<f4', float64: '<f8' };

const pythonTuple = (shape: readonly number[]): string =>
  shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;

/**
 * The preamble and header of an .npy holding little-endian `dtype` elements
 * of `shape`: version 1.0, whose header length is 2 bytes, unless the header
 * needs more, then 2.0 with a 4-byte length, as NumPy chooses
 * (numpy/lib/format.py, `_wrap_header_guess_version`). The header is padded
 * with spaces and a newline so that data starts on a 64-byte boundary (NEP 1).
 */
export function npyHeader(dtype: FloatDType, shape: readonly number[], fortranOrder: boolean): Uint8Array {
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${pythonTuple(shape)}, }`;
  const v1 = paddedHeader(dict, 10);
  const version = v1.length - 10 <= 0xffff ? 1 : 2;
  const bytes = version === 1 ? v1 : paddedHeader(dict, 12);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(bytes.buffer);
  if (version === 1) view.setUint16(8, bytes.length - 10, true);
  else view.setUint32(8, bytes.length - 12, true);
  return bytes;
}

/** `dict` after a preamble of `preamble` bytes, padded with spaces and a newline to a multiple of 64 bytes. */
function paddedHeader(dict: string, preamble: number): Uint8Array {
  const total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  const bytes = new Uint8Array(total);
  bytes.set(new TextEncoder().encode(dict.padEnd(total - preamble - 1, ' ') + '\n'), preamble);
  return bytes;
}

/** A 0-d .npy holding one scalar, already rounded to `dtype`. */
export function npyScalar(value: number, dtype: FloatDType): Uint8Array {
  const header = npyHeader(dtype, [], false);
  const bytes = new Uint8Array(header.length + ITEM_SIZE[dtype]);
  bytes.set(header);
  const view = new DataView(bytes.buffer, header.length);
  if (dtype === 'float64') view.setFloat64(0, value, true);
  else if (dtype === 'float32') view.setFloat32(0, value, true);
  else view.setUint16(0, float64ToHalfBits(value), true);
  return bytes;
}

/**
 * Streams a loss tensor into `sink` as .npy: header first, then the
 * elements as they come, or (when the sink is a file other threads may
 * write) by position, directly from the workers: element i goes i items
 * past the header.
 */
export async function openNpyWriter(sink: ByteSink, spec: LossTensorSpec): Promise<TensorWriter> {
  try {
    await sink.write(npyHeader(spec.dtype, spec.shape, spec.fortranOrder));
  } catch (err) {
    await sink.abort();
    throw err;
  }
  const { file } = sink;
  const flush = sink.flush?.bind(sink);
  const itemSize = ITEM_SIZE[spec.dtype];
  return {
    ...(file === undefined
      ? {}
      : { direct: { spanFrom: (first: number) => ({ path: spec.path, fd: file.fd, position: file.written + first * itemSize }) } }),
    ...(file === undefined || flush === undefined ? {} : { flush }),
    write: (elements) => sink.write(elements),
    finish: () => sink.commit(),
    abort: () => sink.abort(),
  };
}
