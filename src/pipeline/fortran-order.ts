import { PLATFORM_BYTE_ORDER } from '../tensor/byte-order.js';
import { ITEM_SIZE } from '../tensor/dtype.js';
import { SmoothL1Error } from '../tensor/errors.js';
import { readChunkInto } from '../io/read-chunk.js';
import { elementCount, type TensorSource } from '../tensor/tensor.js';

/**
 * By default, above this a Fortran-ordered input paired with a C-ordered one
 * is refused rather than reordered: reordering needs the whole tensor in memory.
 */
export const REORDER_LIMIT_BYTES = 512 * 1024 * 1024;

const tooLargeToReorder = (file: string, bytes: number, limit: number): SmoothL1Error =>
  new SmoothL1Error(
    'unsupported',
    file,
    `is Fortran-ordered and the other input is C-ordered; reordering it needs ${Math.ceil(bytes / 2 ** 20)} MiB, ` +
      `above the ${(limit / 2 ** 20).toFixed(0)} MiB limit: re-save it C-ordered, e.g. np.save(path, np.ascontiguousarray(a))`,
  );

type Words = Uint8Array | Uint16Array | Uint32Array;

/** A view whose elements are whole items, or for 8-byte items, half items. */
function words(bytes: Uint8Array, itemSize: number): { view: Words; perItem: number } {
  const { buffer, byteOffset, byteLength } = bytes;
  if (itemSize === 1) return { view: bytes, perItem: 1 };
  if (itemSize === 2) return { view: new Uint16Array(buffer, byteOffset, byteLength / 2), perItem: 1 };
  return { view: new Uint32Array(buffer, byteOffset, byteLength / 4), perItem: itemSize / 4 };
}

/**
 * Rearranges Fortran-ordered elements (first axis fastest) into C order (last
 * axis fastest). Pure; exported for tests.
 */
export function fortranToC(src: Uint8Array, shape: readonly number[], itemSize: number): Uint8Array {
  const dst = new Uint8Array(src.length);
  const from = words(src, itemSize);
  const to = words(dst, itemSize);
  const per = from.perItem;
  const strides: number[] = [];
  let stride = 1;
  for (const d of shape) {
    strides.push(stride);
    stride *= d;
  }
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  const total = elementCount(shape);
  let offset = 0;
  for (let i = 0; i < total; i++) {
    for (let w = 0; w < per; w++) to.view[i * per + w] = from.view[offset * per + w]!;
    // Odometer over C order: bump the last axis, carrying into earlier ones.
    for (let axis = rank - 1; axis >= 0; axis--) {
      offset += strides[axis]!;
      if (++index[axis]! < shape[axis]!) break;
      offset -= strides[axis]! * shape[axis]!;
      index[axis] = 0;
    }
  }
  return dst;
}

/** The same tensor in C order, held in memory; refused when larger than `limitBytes`. */
export async function inCOrder(source: TensorSource, limitBytes: number): Promise<TensorSource> {
  const { header } = source;
  const count = elementCount(header.shape);
  const itemSize = ITEM_SIZE[header.dtype];
  if (count * itemSize > limitBytes) throw tooLargeToReorder(header.file, count * itemSize, limitBytes);
  const chunk = await source.chunk(0, count);
  const stored = new Uint8Array(count * itemSize);
  readChunkInto({ ...header, chunk }, stored);
  await source.close();
  const data = fortranToC(stored, header.shape, itemSize);
  return {
    header: { ...header, byteOrder: PLATFORM_BYTE_ORDER, fortranOrder: false },
    // Each chunk is a fresh copy: it is transferred to a worker and gone from here.
    chunk: (start, n) => {
      const buffer = data.slice(start * itemSize, (start + n) * itemSize).buffer;
      return Promise.resolve({ kind: 'bytes', buffer, byteOffset: 0, byteLength: buffer.byteLength });
    },
    close: () => Promise.resolve(),
  };
}
