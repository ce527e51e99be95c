import test, { type ExecutionContext } from 'ava';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readChunkInto } from '../../src/io/read-chunk.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import type { ByteOrder, ChunkRef, DType, FilePiece } from '../../src/tensor/tensor.js';
import { tempDir } from '../helpers/tmp.js';

/** A range chunk over `file`, written to a temp file and open until the test ends. */
function rangeRef(t: ExecutionContext, file: Uint8Array, pieces: FilePiece[], dtype: DType = 'uint8', byteOrder: ByteOrder = 'little'): ChunkRef {
  const path = join(tempDir(t), 'data.bin');
  writeFileSync(path, file);
  const fd = openSync(path, 'r');
  t.teardown(() => closeSync(fd));
  const byteLength = pieces.reduce((n, p) => n + p.byteLength, 0);
  return { file: path, chunk: { kind: 'range', fd, pieces, byteLength }, dtype, byteOrder };
}

const counting = (n: number): Uint8Array<ArrayBuffer> => Uint8Array.from({ length: n }, (_, i) => i);

test('a range chunk of several pieces reads back their bytes in piece order, not file order', (t) => {
  const file = counting(100);
  // Out of file order on purpose: the chunk is the pieces back to back.
  const pieces = [{ position: 60, byteLength: 5 }, { position: 3, byteLength: 4 }, { position: 90, byteLength: 10 }];
  const into = new Uint8Array(19);
  readChunkInto(rangeRef(t, file, pieces), into);
  t.deepEqual(Array.from(into), [60, 61, 62, 63, 64, 3, 4, 5, 6, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
});

test('a bytes chunk is copied from its byteOffset, not from the start of its buffer', (t) => {
  const buffer = counting(32).buffer;
  const into = new Uint8Array(8);
  readChunkInto({ file: 'mem', chunk: { kind: 'bytes', buffer, byteOffset: 12, byteLength: 8 }, dtype: 'uint8', byteOrder: 'little' }, into);
  t.deepEqual(Array.from(into), [12, 13, 14, 15, 16, 17, 18, 19]);
});

test('big-endian int32 and float64 data come back in platform order, from a file and from bytes', (t) => {
  const ints = [1, -2, 0x01020304, -0x7fffffff];
  const floats = [1.5, -0.1, Math.PI, 1e300];
  const be = (size: number, values: number[], set: (v: DataView, at: number, x: number) => void): Uint8Array<ArrayBuffer> => {
    const view = new DataView(new ArrayBuffer(size * values.length));
    values.forEach((x, i) => set(view, i * size, x));
    return new Uint8Array(view.buffer);
  };
  const intBytes = be(4, ints, (v, at, x) => v.setInt32(at, x, false));
  const floatBytes = be(8, floats, (v, at, x) => v.setFloat64(at, x, false));

  const intsIn = new Uint8Array(16);
  readChunkInto(rangeRef(t, intBytes, [{ position: 8, byteLength: 8 }, { position: 0, byteLength: 8 }], 'int32', 'big'), intsIn);
  t.deepEqual(Array.from(new Int32Array(intsIn.buffer)), [ints[2], ints[3], ints[0], ints[1]]);

  const floatsIn = new Uint8Array(32);
  const chunk = { kind: 'bytes', buffer: floatBytes.buffer, byteOffset: 0, byteLength: 32 } as const;
  readChunkInto({ file: 'mem', chunk, dtype: 'float64', byteOrder: 'big' }, floatsIn);
  t.deepEqual(Array.from(new Float64Array(floatsIn.buffer)), floats);
  // The source bytes are copied, not swapped where they lie.
  t.is(new DataView(floatBytes.buffer).getFloat64(0, false), 1.5);
});

test('a range past the end of a truncated file gives an io error naming it', (t) => {
  const ref = rangeRef(t, counting(10), [{ position: 0, byteLength: 4 }, { position: 8, byteLength: 4 }]);
  const err = t.throws(() => readChunkInto(ref, new Uint8Array(8)), { instanceOf: SmoothL1Error });
  t.is(err?.code, 'io');
  t.is(err?.file, ref.file);
});
