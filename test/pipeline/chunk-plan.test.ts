import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { BLOCK_ELEMENTS } from '../../src/compute/loss-spec.js';
import { inlineExecutor } from '../../src/pipeline/executor.js';
import { chunkElementsFor, DEFAULT_CHUNK_ELEMENTS, executorFor, RANGE_CHUNK_ELEMENTS, startPoolEarly } from '../../src/pipeline/chunk-plan.js';
import type { TensorSource } from '../../src/tensor/tensor.js';
import { join } from 'node:path';
import { writeNpy } from '../helpers/make-npy.js';
import { tempDir } from '../helpers/tmp.js';

/** A source that only says how large its range chunks may be; planning reads nothing else. */
function source(rangeChunkElements?: number): TensorSource {
  return {
    header: { file: 'f', dtype: 'float32', byteOrder: 'little', shape: [1], fortranOrder: false },
    ...(rangeChunkElements === undefined ? {} : { rangeChunkElements }),
    chunk: () => Promise.reject(new Error('not read')),
    close: () => Promise.resolve(),
  };
}

const BIG = 1 << 30;

testProp(
  'an explicit request wins, capped by the count and rounded up to whole blocks, never below one block',
  [fc.integer({ min: 0, max: 1 << 22 }), fc.integer({ min: 0, max: 1 << 22 }), fc.boolean()],
  (t, requested, count, buffered) => {
    const got = chunkElementsFor(requested, [source(BIG), source(BIG)], buffered, count);
    // Block sums must not depend on the chunk size, so chunks are whole blocks.
    t.is(got % BLOCK_ELEMENTS, 0);
    t.true(got >= BLOCK_ELEMENTS);
    const capped = Math.min(requested, count);
    // The fewest whole blocks that hold the capped request (and one for none).
    t.true(got >= capped && got - BLOCK_ELEMENTS < Math.max(capped, 1), `${got} for ${capped}`);
  },
);

test('exact examples of rounding and capping', (t) => {
  t.is(chunkElementsFor(5000, [], false, BIG), 2 * BLOCK_ELEMENTS);
  t.is(chunkElementsFor(3 * BLOCK_ELEMENTS, [], false, BIG), 3 * BLOCK_ELEMENTS);
  t.is(chunkElementsFor(undefined, [source()], true, 10), BLOCK_ELEMENTS);
  t.is(chunkElementsFor(undefined, [source()], true, 0), BLOCK_ELEMENTS);
});

test('range-sized chunks only when both sources read ranges that large and no losses are buffered', (t) => {
  const range = [source(RANGE_CHUNK_ELEMENTS), source(BIG)];
  t.is(chunkElementsFor(undefined, range, false, BIG), RANGE_CHUNK_ELEMENTS);
  t.is(chunkElementsFor(undefined, range, true, BIG), DEFAULT_CHUNK_ELEMENTS);
  t.is(chunkElementsFor(undefined, [source(BIG), source()], false, BIG), DEFAULT_CHUNK_ELEMENTS);
  t.is(chunkElementsFor(undefined, [source(BIG), source(RANGE_CHUNK_ELEMENTS - 1)], false, BIG), DEFAULT_CHUNK_ELEMENTS);
});

test('one thread, one chunk or too few elements run inline', async (t) => {
  const plan = { threads: 4, poolMinElements: 1000, chunkElements: undefined };
  for (const [p, count, chunks] of [
    [{ ...plan, threads: 1 }, BIG, 100],
    [plan, BIG, 1],
    [plan, 999, 100],
  ] as const) {
    const executor = executorFor(p, count, chunks, undefined);
    t.is(executor.parallelism, 1, `threads ${p.threads}, count ${count}, chunks ${chunks}`);
    await executor.close();
  }
});

test('enough elements and chunks start a pool no larger than the chunks; an early executor is used as is', async (t) => {
  const pool = executorFor({ threads: 8, poolMinElements: 1000, chunkElements: undefined }, 1000, 2, undefined);
  // Two tasks in flight per worker: two workers for two chunks.
  t.is(pool.parallelism, 4);
  await pool.close();
  const early = inlineExecutor();
  t.is(executorFor({ threads: 1, poolMinElements: BIG, chunkElements: undefined }, 1, 1, early), early);
});

// Under the test knobs (tiny chunks, no pool threshold) a 12-element file once
// started --threads workers while it was being opened: 40 workers and 221 MB
// for one chunk. The early pool may start no more workers than there can be
// chunks, as the later one does.
test('the early pool starts no more workers than the files can have chunks', async (t) => {
  const dir = tempDir(t);
  const plan = { threads: 40, poolMinElements: 0, chunkElements: 1 };
  const small = writeNpy(join(dir, 'small.npy'), 'float32', [12], new Uint8Array(48));
  t.is(await startPoolEarly([small, small], plan), undefined, 'one chunk at most: no pool');
  // 16 Ki one-byte elements in chunks of one block (4096, the least a chunk
  // holds): 4 chunks, and the bound from the file size (header included) is 5.
  const n = 4 * BLOCK_ELEMENTS;
  const bytes = writeNpy(join(dir, 'bytes.npy'), 'int8', [n], new Uint8Array(n));
  const pool = await startPoolEarly([bytes, bytes], plan);
  t.teardown(() => pool?.close());
  t.truthy(pool, 'several chunks: a pool starts early');
  t.is(pool?.parallelism, 2 * 5, 'two tasks a worker, five workers, not forty');
});
