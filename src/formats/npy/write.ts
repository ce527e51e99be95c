import { ITEM_SIZE } from '../../tensor/dtype.js';
import { float64ToHalfBits } from '../../tensor/float16.js';
import type { ByteSink } from '../../io/sink.js';
import type { FloatDType, TensorWriter } from '../../tensor/tensor.js';

const DESCR: Readonly<Record<FloatDType, string>> = { float16: '<f2', float32: '<f4', float64: '<f8' };

const pythonTuple = (shape: readonly number[]): string =>
  shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;

/**
 * The preamble and header of a version 1.0 .npy holding little-endian `dtype`
 * elements of `shape`. The header is padded with spaces and a newline so that
 * data starts on a 64-byte boundary, as numpy writes it (NEP 1).
 */
export function npyHeader(dtype: FloatDType, shape: readonly number[], fortranOrder: boolean): Uint8Array {
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${pythonTuple(shape)}, }`;
  const unpadded = 10 + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const text = dict.padEnd(total - 10 - 1, ' ') + '\n';
  if (text.length > 0xffff) throw new RangeError('shape too long for an .npy 1.0 header');
  const bytes = new Uint8Array(total);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(bytes.buffer).setUint16(8, text.length, true);
  bytes.set(new TextEncoder().encode(text), 10);
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
 * write, named `path`) by position, directly from the workers.
 */
export async function openNpyWriter(
  sink: ByteSink,
  dtype: FloatDType,
  shape: readonly number[],
  fortranOrder: boolean,
  path: string,
): Promise<TensorWriter> {
  try {
    await sink.write(npyHeader(dtype, shape, fortranOrder));
  } catch (err) {
    await sink.abort();
    throw err;
  }
  const { file } = sink;
  const flush = sink.flush?.bind(sink);
  return {
    ...(file === undefined ? {} : { direct: { path, fd: file.fd, position: file.written } }),
    ...(file === undefined || flush === undefined ? {} : { flush }),
    write: (elements) => sink.write(elements),
    finish: () => sink.commit(),
    abort: () => sink.abort(),
  };
}
