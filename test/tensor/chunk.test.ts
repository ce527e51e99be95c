import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { sliceChunk } from '../../src/tensor/chunk.js';
import type { ChunkRef, DType, FilePiece } from '../../src/tensor/tensor.js';

// A worker takes a range chunk in slices, each read on its own. The slices
// must hold the chunk's bytes, each once, in order; the file here is a byte
// array, and reading a piece is taking its bytes.

const FILE = Uint8Array.from({ length: 1024 }, (_, i) => (i * 31 + 7) & 0xff);

const read = (pieces: readonly FilePiece[]): number[] => pieces.flatMap((p) => Array.from(FILE.subarray(p.position, p.position + p.byteLength)));

const itemSizes: readonly [DType, number][] = [['uint8', 1], ['int16', 2], ['float32', 4], ['float64', 8]];

testProp(
  'the pieces of consecutive slices, read in order, give the whole chunk',
  [
    fc.constantFrom(...itemSizes),
    fc.array(fc.record({ position: fc.nat({ max: 900 }), byteLength: fc.integer({ min: 1, max: 120 }) }), { minLength: 1, maxLength: 6 }),
    fc.array(fc.nat({ max: 1000 }), { maxLength: 6 }),
  ],
  (t, [dtype, itemSize], drawn, cuts) => {
    // Whole elements only: pad the last piece up to a multiple of the item size.
    const total = drawn.reduce((n, p) => n + p.byteLength, 0);
    const pieces = [...drawn, { position: 0, byteLength: (itemSize - (total % itemSize)) % itemSize }].filter((p) => p.byteLength > 0);
    const byteLength = pieces.reduce((n, p) => n + p.byteLength, 0);
    const count = byteLength / itemSize;
    const ref: ChunkRef = { file: 'f', chunk: { kind: 'range', fd: 3, pieces, byteLength }, dtype, byteOrder: 'little' };

    const bounds = [0, ...cuts.map((c) => c % (count + 1)).sort((a, b) => a - b), count];
    const got: number[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [first, end] = [bounds[i]!, bounds[i + 1]!];
      const slice = sliceChunk(ref, first, end - first);
      t.is(slice.chunk.kind, 'range');
      if (slice.chunk.kind !== 'range') return;
      t.is(slice.chunk.byteLength, (end - first) * itemSize);
      t.is(slice.chunk.pieces.reduce((n, p) => n + p.byteLength, 0), slice.chunk.byteLength);
      t.true(slice.chunk.pieces.every((p) => p.byteLength > 0), 'no empty pieces');
      t.is(slice.chunk.fd, 3);
      got.push(...read(slice.chunk.pieces));
    }
    t.deepEqual(got, read(pieces));
  },
  { numRuns: 200 },
);

test('a bytes chunk slice shifts byteOffset by first * itemSize and is n items long', (t) => {
  const buffer = new ArrayBuffer(400);
  const ref: ChunkRef = { file: 'f', chunk: { kind: 'bytes', buffer, byteOffset: 16, byteLength: 320 }, dtype: 'float64', byteOrder: 'big' };
  const slice = sliceChunk(ref, 5, 7);
  t.deepEqual(slice.chunk, { kind: 'bytes', buffer, byteOffset: 16 + 5 * 8, byteLength: 7 * 8 });
  t.is(slice.chunk.kind === 'bytes' && slice.chunk.buffer, buffer);
  // Everything else about the tensor carries over.
  t.like(slice, { file: 'f', dtype: 'float64', byteOrder: 'big' });
});
