import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, tableFromIPC, type Batch } from '@uwdata/flechette';
import { SmoothL1Error } from '../../../src/tensor/errors.js';
import { halfTable } from '../../../src/tensor/float16.js';
import type { ArrowFormat } from '../../../src/formats/arrow/magic.js';
import { openArrowFile } from '../../../src/formats/arrow/read.js';
import type { ByteSink } from '../../../src/tensor/format.js';
import type { FloatDType } from '../../../src/tensor/tensor.js';
import { BATCH_ELEMENTS, openArrowWriter } from '../../../src/formats/arrow/write.js';
import { chunkBytes } from '../../helpers/arrow-chunks.js';
import { tempDir } from '../../helpers/tmp.js';

// Output is read back with @uwdata/flechette, an Arrow implementation
// independent of the apache-arrow package the writer uses (issue 4).

const FORMATS: readonly ArrowFormat[] = ['file', 'stream'];
const ARROW1 = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31];

/** A sink in memory that records what happened to it. */
class MemorySink implements ByteSink {
  readonly pieces: Uint8Array[] = [];
  written = 0;
  commits = 0;
  aborts = 0;
  /** Resolves each write only after this many milliseconds, like a slow disk. */
  constructor(readonly delayMs = 0) {}
  async write(bytes: Uint8Array): Promise<void> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    // Copy: the caller may reuse its buffer once write() resolves.
    this.pieces.push(bytes.slice());
    this.written += bytes.byteLength;
  }
  commit(): Promise<void> {
    this.commits++;
    return Promise.resolve();
  }
  abort(): Promise<void> {
    this.aborts++;
    return Promise.resolve();
  }
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.pieces));
  }
}

/** Element bytes of `values` in `dtype`, float16 as raw bits. */
function elementsOf(dtype: FloatDType, values: readonly number[]): Uint8Array {
  const array = dtype === 'float64' ? Float64Array.from(values) : dtype === 'float32' ? Float32Array.from(values) : Uint16Array.from(values);
  return new Uint8Array(array.buffer);
}

/** Writes `elements` through a new writer in pieces that end at `cuts`, and returns the sink. */
async function writeAll(format: ArrowFormat, dtype: FloatDType, shape: readonly number[], elements: Uint8Array, cuts: readonly number[] = []): Promise<MemorySink> {
  const sink = new MemorySink();
  const writer = await openArrowWriter(sink, format, dtype, shape);
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < elements.length).sort((a, b) => a - b), elements.length]) {
    await writer.write(elements.subarray(from, cut));
    from = cut;
  }
  await writer.finish();
  return sink;
}

/** The leaf values of every batch of flechette's only column, joined, as raw bytes. */
function leafBytes(batches: readonly Batch<unknown>[]): Uint8Array {
  const parts = batches.map((b) => {
    const v = (b.children[0] ?? b).values;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  });
  return new Uint8Array(Buffer.concat(parts));
}

for (const format of FORMATS) {
  for (const dtype of ['float16', 'float32', 'float64'] as const) {
    test(`a rank-1 ${dtype} loss is one primitive column named loss (${format})`, async (t) => {
      const values = dtype === 'float16' ? [0x3c00, 0xbe00, 0x7bff, 0] : [1.5, -2, 1e-3, 0];
      const sink = await writeAll(format, dtype, [4], elementsOf(dtype, values));
      t.is(sink.commits, 1);
      t.is(sink.aborts, 0);
      const table = tableFromIPC(sink.bytes(), { useProxy: false });
      t.is(table.numRows, 4);
      t.deepEqual(table.names, ['loss']);
      const f = table.schema.fields[0]!;
      t.is(f.type.typeId, Type.Float);
      t.false(f.nullable);
      const column = table.getChild('loss');
      const got = column === null ? [] : [...column];
      t.deepEqual(got, dtype === 'float16' ? values.map((b) => halfTable()[b]) : dtype === 'float32' ? [...Float32Array.from(values)] : values);
    });
  }
}

for (const format of FORMATS) {
  test(`rank ≥ 2 is a FixedSizeList tagged arrow.fixed_shape_tensor (${format})`, async (t) => {
    const values = Array.from({ length: 5 * 2 * 3 }, (_, i) => i / 8);
    const sink = await writeAll(format, 'float64', [5, 2, 3], elementsOf('float64', values));
    const table = tableFromIPC(sink.bytes(), { useProxy: false });
    t.is(table.numRows, 5);
    const f = table.schema.fields[0]!;
    t.is(f.name, 'loss');
    t.is(f.type.typeId, Type.FixedSizeList);
    t.is(f.type.typeId === Type.FixedSizeList ? f.type.stride : 0, 6);
    t.is(f.metadata?.get('ARROW:extension:name'), 'arrow.fixed_shape_tensor');
    t.deepEqual(JSON.parse(f.metadata?.get('ARROW:extension:metadata') ?? 'null'), { shape: [2, 3] });
    t.deepEqual(leafBytes(table.getChild('loss')?.data ?? []), elementsOf('float64', values));
  });
}

test('file output starts and ends with ARROW1; stream output starts with a continuation marker', async (t) => {
  const file = (await writeAll('file', 'float32', [3], elementsOf('float32', [1, 2, 3]))).bytes();
  t.deepEqual([...file.subarray(0, 6)], ARROW1);
  t.deepEqual([...file.subarray(file.length - 6)], ARROW1);
  const stream = (await writeAll('stream', 'float32', [3], elementsOf('float32', [1, 2, 3]))).bytes();
  t.deepEqual([...stream.subarray(0, 4)], [0xff, 0xff, 0xff, 0xff]);
  // The end-of-stream marker: continuation and a zero length.
  t.deepEqual([...stream.subarray(stream.length - 8)], [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
});

test('large outputs are split into record batches of whole rows', async (t) => {
  const rows = Math.ceil((2.5 * BATCH_ELEMENTS) / 3);
  const values = Array.from({ length: rows * 3 }, (_, i) => i % 1000);
  const sink = await writeAll('file', 'float32', [rows, 3], elementsOf('float32', values), [1, 1000, 3 * BATCH_ELEMENTS - 1]);
  const table = tableFromIPC(sink.bytes(), { useProxy: false });
  const batches = table.getChild('loss')?.data ?? [];
  t.is(batches.length, 3);
  t.true(batches.every((b) => b.length * 3 <= BATCH_ELEMENTS));
  t.is(table.numRows, rows);
  t.deepEqual(leafBytes(batches), elementsOf('float32', values));
});

/** Write-then-read is the identity for any way the elements are cut into pieces (STYLE, property tests). */
for (const format of FORMATS) {
  testProp(
    `write then read is the identity for any piece sizes (${format})`,
    [
      fc.constantFrom<FloatDType>('float16', 'float32', 'float64'),
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 0, max: 40 }),
      fc.array(fc.nat(), { maxLength: 8 }),
    ],
    async (t, dtype, rowShape, rows, cuts) => {
      const shape = [rows, ...rowShape];
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => (dtype === 'float16' ? (i * 37) & 0x7bff : i - 3.5));
      const elements = elementsOf(dtype, values);
      const sink = await writeAll(format, dtype, shape, elements, cuts.map((c) => (n === 0 ? 0 : c % elements.length)));
      const path = join(tempDir(t, 'smoothl1-write-arrow-'), 'out.arrow');
      writeFileSync(path, sink.bytes());
      const source = await openArrowFile(path, await open(path, 'r'));
      try {
        t.deepEqual(source.header.shape, shape);
        t.is(source.header.dtype, dtype);
        if (n > 0) {
          t.deepEqual(chunkBytes(await source.chunk(0, n)), elements);
        }
      } finally {
        await source.close();
      }
    },
    { numRuns: 60 },
  );
}

for (const shape of [[0], [0, 3], [4, 0], [2, 0, 5]]) {
  test(`an empty loss of shape [${shape.join(', ')}] is still a complete file and stream`, async (t) => {
    for (const format of FORMATS) {
      const sink = await writeAll(format, 'float32', shape, new Uint8Array(0));
      t.is(sink.commits, 1);
      const table = tableFromIPC(sink.bytes(), { useProxy: false });
      t.is(table.numRows, shape[0]!);
      t.deepEqual(table.names, ['loss']);
    }
  });
}

test('a 0-d loss is refused for Arrow output, and the sink is aborted', async (t) => {
  const sink = new MemorySink();
  const err = await t.throwsAsync(openArrowWriter(sink, 'file', 'float32', []), { instanceOf: SmoothL1Error });
  t.regex(err?.reason ?? '', /0-d .*cannot be written as Arrow/);
  t.is(sink.aborts, 1);
  t.is(sink.commits, 0);
});

test('abort() aborts the sink and commits nothing', async (t) => {
  const sink = new MemorySink();
  const writer = await openArrowWriter(sink, 'stream', 'float64', [10]);
  await writer.write(elementsOf('float64', [1, 2, 3]));
  await writer.abort();
  t.is(sink.aborts, 1);
  t.is(sink.commits, 0);
});

test('more elements than the shape holds is an error', async (t) => {
  const writer = await openArrowWriter(new MemorySink(), 'file', 'float32', [2]);
  await t.throwsAsync(writer.write(elementsOf('float32', [1, 2, 3])), { instanceOf: SmoothL1Error });
});

test('finishing before every row arrived is an error, not a short file', async (t) => {
  const sink = new MemorySink();
  const writer = await openArrowWriter(sink, 'file', 'float32', [4, 2]);
  await writer.write(elementsOf('float32', [1, 2, 3]));
  await t.throwsAsync(writer.finish(), { instanceOf: SmoothL1Error });
  t.is(sink.commits, 0);
});

test('output reaches the sink batch by batch, never queued without bound', async (t) => {
  // A slow sink: apache-arrow's writer would queue everything if we did not wait for it.
  const sink = new MemorySink(2);
  const rows = 6 * BATCH_ELEMENTS;
  const writer = await openArrowWriter(sink, 'stream', 'float32', [rows]);
  const piece = new Uint8Array(BATCH_ELEMENTS * 4);
  let given = 0;
  let worstBacklog = 0;
  for (let done = 0; done < rows; done += BATCH_ELEMENTS) {
    await writer.write(piece);
    given += piece.byteLength;
    worstBacklog = Math.max(worstBacklog, given - sink.written);
  }
  await writer.finish();
  // At most the part of a batch still being gathered is held back (headers aside).
  t.true(worstBacklog <= BATCH_ELEMENTS * 4, `backlog ${worstBacklog} bytes`);
  t.true(sink.written > given);
});
