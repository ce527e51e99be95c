import { stat } from 'node:fs/promises';
import { BLOCK_ELEMENTS } from '../compute/loss-spec.js';
import type { TensorSource } from '../tensor/tensor.js';
import { inlineExecutor, poolExecutor, type LossExecutor } from './executor.js';

/**
 * 512 Ki elements: 2 MiB per float32 input. Large enough that a task's
 * overhead (a message each way) is small; small enough that the buffers of
 * two tasks per worker (chunks from a stream, losses to write) keep peak
 * memory low.
 */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 19;

/**
 * 2 Mi elements, for two inputs read as file ranges whose losses need no
 * buffer here either (a mean or sum, or an output that workers write by
 * position): such a task holds no buffer on the main thread, and a worker
 * takes it in slices, so its size costs no memory, while a quarter as many
 * tasks cut the time spent passing messages (the README's performance section
 * has the measurement).
 */
export const RANGE_CHUNK_ELEMENTS = 1 << 21;

/**
 * 64 Mi elements: smaller inputs run on one thread whatever --threads says.
 * A worker takes tens of milliseconds of a core to start, and reading from
 * the page cache, most of the work, is bound by memory bandwidth that the
 * cores share; on two cores one thread finishes first up to about 32 Mi
 * elements (the README's benchmark has the measurements).
 */
export const POOL_MIN_ELEMENTS = 1 << 26;

const wholeBlocks = (n: number): number => Math.max(1, Math.ceil(n / BLOCK_ELEMENTS)) * BLOCK_ELEMENTS;

/**
 * Elements per chunk: `requested` if set, else RANGE_CHUNK_ELEMENTS when no
 * chunk holds a buffer on this thread (both inputs are file ranges, and the
 * losses need no buffer here), else DEFAULT_CHUNK_ELEMENTS; in whole blocks,
 * so that block sums do not depend on it, and no more blocks than the tensor
 * needs, since buffers are sized by the chunk.
 */
export function chunkElementsFor(
  requested: number | undefined,
  sources: readonly TensorSource[],
  lossesBuffered: boolean,
  count: number,
): number {
  const chosen =
    requested ??
    (!lossesBuffered && sources.every((s) => (s.rangeChunkElements ?? 0) >= RANGE_CHUNK_ELEMENTS) ? RANGE_CHUNK_ELEMENTS : DEFAULT_CHUNK_ELEMENTS);
  return wholeBlocks(Math.min(chosen, count));
}

/** The sizes of the regular files among `paths`; what is not one is left out (opening reports why). */
async function fileSizes(paths: readonly string[]): Promise<number[]> {
  const sizes = await Promise.all(paths.map((p) => stat(p).then((st) => (st.isFile() ? st.size : undefined), () => undefined)));
  return sizes.filter((s) => s !== undefined);
}

export interface PoolPlan {
  readonly threads: number;
  readonly poolMinElements: number;
  readonly chunkElements: number | undefined;
}

/**
 * Workers take tens of milliseconds to start: when the files are surely
 * large enough to need them, start them while the inputs are being opened.
 * The inputs have the same element count n (else pairing fails), and a file
 * of B bytes holds from B/8 (float64, less its header) to B elements (one
 * byte each): so n is at least the largest file's B/8, and the chunks are at
 * most the smallest file's B over the smallest chunk. No more workers start
 * than there can be chunks.
 */
export async function startPoolEarly(paths: readonly string[], plan: PoolPlan): Promise<LossExecutor | undefined> {
  if (plan.threads <= 1) return undefined;
  const sizes = await fileSizes(paths);
  if (sizes.length === 0) return undefined;
  const atLeast = Math.max(...sizes) / 8;
  if (atLeast < Math.max(plan.poolMinElements, 2 * (plan.chunkElements ?? DEFAULT_CHUNK_ELEMENTS))) return undefined;
  const smallestChunk = wholeBlocks(plan.chunkElements ?? DEFAULT_CHUNK_ELEMENTS);
  const threads = Math.min(plan.threads, Math.ceil(Math.min(...sizes) / smallestChunk));
  return threads > 1 ? poolExecutor(threads) : undefined;
}

/** Where the chunks run: the pool started early if any, else workers when there are enough elements and chunks, else this thread. */
export function executorFor(plan: PoolPlan, count: number, chunks: number, early: LossExecutor | undefined): LossExecutor {
  if (early !== undefined) return early;
  return plan.threads <= 1 || chunks <= 1 || count < plan.poolMinElements ? inlineExecutor() : poolExecutor(Math.min(plan.threads, chunks));
}
