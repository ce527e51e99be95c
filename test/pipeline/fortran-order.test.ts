import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { fortranToC, inCOrder, REORDER_LIMIT_BYTES } from '../../src/pipeline/fortran-order.js';
import type { Chunk, TensorHeader, TensorSource } from '../../src/tensor/tensor.js';

/**
 * C-order copy by index arithmetic: for C index i, its multi-index (last
 * axis fastest), and that index's position in Fortran order (first axis
 * fastest).
 */
function referenceFortranToC(src: Uint8Array, shape: readonly number[], itemSize: number): Uint8Array {
  const count = shape.reduce((n, d) => n * d, 1);
  const dst = new Uint8Array(count * itemSize);
  for (let i = 0; i < count; i++) {
    const index = new Array<number>(shape.length);
    let rest = i;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index[axis] = rest % shape[axis]!;
      rest = Math.floor(rest / shape[axis]!);
    }
    let f = 0;
    let stride = 1;
    for (let axis = 0; axis < shape.length; axis++) {
      f += index[axis]! * stride;
      stride *= shape[axis]!;
    }
    dst.set(src.subarray(f * itemSize, (f + 1) * itemSize), i * itemSize);
  }
  return dst;
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 4 });
const itemSizeArb = fc.constantFrom(1, 2, 4, 8);

/** Random bytes for a tensor of this shape, placed `pad` items into a larger buffer. */
const tensorArb = fc
  .tuple(shapeArb, itemSizeArb, fc.nat({ max: 2 }))
  .chain(([shape, itemSize, pad]) =>
    fc.uint8Array({ minLength: shape.reduce((n, d) => n * d, 1) * itemSize, maxLength: shape.reduce((n, d) => n * d, 1) * itemSize }).map((data) => {
      const backing = new Uint8Array(data.length + 2 * pad * itemSize);
      const src = backing.subarray(pad * itemSize, pad * itemSize + data.length);
      src.set(data);
      return { shape, itemSize, src };
    }),
  );

testProp(
  'fortranToC matches index arithmetic for any shape of rank 0 to 4 and item sizes 1, 2, 4, 8',
  [tensorArb],
  (t, { shape, itemSize, src }) => {
    const before = src.slice();
    t.deepEqual(fortranToC(src, shape, itemSize), referenceFortranToC(src, shape, itemSize));
    t.deepEqual(src, before, 'the source is left as it was');
  },
  { numRuns: 300 },
);

testProp(
  'reversing the shape turns Fortran order into C order of the transpose, so two passes are the identity',
  [tensorArb],
  (t, { shape, itemSize, src }) => {
    // Fortran bytes of shape s are the C bytes of its transpose (reversed s); C bytes of s are the Fortran bytes of the transpose.
    const c = fortranToC(src, shape, itemSize);
    t.deepEqual(fortranToC(c, [...shape].reverse(), itemSize), src.slice());
  },
  { numRuns: 150 },
);

test('a 2x3 example by hand', (t) => {
  // Fortran order of [[0, 1, 2], [3, 4, 5]] is 0 3 1 4 2 5.
  t.deepEqual(Array.from(fortranToC(Uint8Array.of(0, 3, 1, 4, 2, 5), [2, 3], 1)), [0, 1, 2, 3, 4, 5]);
  const f = new Uint8Array(Float64Array.of(0, 3, 1, 4, 2, 5).buffer);
  t.deepEqual(Array.from(new Float64Array(fortranToC(f, [2, 3], 8).buffer)), [0, 1, 2, 3, 4, 5]);
});

test('rank 0 and 1, and empty axes, are copied as they are', (t) => {
  t.deepEqual(Array.from(fortranToC(Uint8Array.of(1, 2, 3, 4), [], 4)), [1, 2, 3, 4]);
  t.deepEqual(Array.from(fortranToC(Uint8Array.of(1, 2, 3, 4), [2], 2)), [1, 2, 3, 4]);
  t.is(fortranToC(new Uint8Array(0), [3, 0, 2], 8).length, 0);
});

// ------------------------------------------------------------------ inCOrder

function memorySource(header: TensorHeader, bytes: Uint8Array, log: string[]): TensorSource {
  return {
    header,
    chunk: (start, count): Promise<Chunk> => {
      log.push(`chunk ${start} ${count}`);
      const copy = bytes.slice().buffer;
      return Promise.resolve({ kind: 'bytes', buffer: copy, byteOffset: 0, byteLength: copy.byteLength });
    },
    close: () => {
      log.push('close');
      return Promise.resolve();
    },
  };
}

async function chunkBytes(source: TensorSource, start: number, n: number): Promise<Uint8Array> {
  const chunk = await source.chunk(start, n);
  if (chunk.kind !== 'bytes') throw new Error('inCOrder serves bytes');
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

test('inCOrder reads the whole Fortran tensor once, closes it, and serves C-ordered chunks', async (t) => {
  const log: string[] = [];
  // [[0, 1, 2], [3, 4, 5]] as big-endian uint16, Fortran-ordered: 0 3 1 4 2 5.
  const stored = new Uint8Array(12);
  [0, 3, 1, 4, 2, 5].forEach((v, i) => new DataView(stored.buffer).setUint16(2 * i, v, false));
  const header: TensorHeader = { file: 'f.npy', dtype: 'uint16', byteOrder: 'big', shape: [2, 3], fortranOrder: true };
  const source = await inCOrder(memorySource(header, stored, log), REORDER_LIMIT_BYTES);
  t.deepEqual(log, ['chunk 0 6', 'close']);
  t.deepEqual(source.header, { ...header, byteOrder: 'little', fortranOrder: false });
  const all = await chunkBytes(source, 0, 6);
  t.deepEqual(Array.from(new Uint16Array(all.buffer, all.byteOffset, 6)), [0, 1, 2, 3, 4, 5]);
  const part = await chunkBytes(source, 2, 3);
  t.deepEqual(Array.from(new Uint16Array(part.buffer, part.byteOffset, 3)), [2, 3, 4]);
  t.not(part.buffer, all.buffer, 'every chunk is a fresh buffer, free to transfer');
  await source.close();
});

test('inCOrder refuses a tensor larger than the limit, before reading it', async (t) => {
  const log: string[] = [];
  const header: TensorHeader = { file: 'big.npy', dtype: 'float64', byteOrder: 'little', shape: [4, 4], fortranOrder: true };
  const err = await t.throwsAsync(inCOrder(memorySource(header, new Uint8Array(128), log), 127), { instanceOf: SmoothL1Error });
  t.is(err?.file, 'big.npy');
  t.deepEqual(log, []);
  await t.notThrowsAsync(inCOrder(memorySource(header, new Uint8Array(128), []), 128));
});
