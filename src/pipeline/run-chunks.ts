import type { LossParams } from '../compute/loss-spec.js';
import { BlockSumFolder } from '../compute/reduce.js';
import { ITEM_SIZE } from '../tensor/dtype.js';
import type { TensorWriter } from '../tensor/format.js';
import type { Chunk, ChunkRef, FloatDType, TensorSource } from '../tensor/tensor.js';
import type { LossTask } from '../workers/loss-task.js';
import type { LossExecutor } from './executor.js';
import { forEachChunkInOrder } from './schedule.js';
import { SyncBehind, WriteBehind } from './write-behind.js';

/** Chunks of 'none' output that may wait to be written while the workers go on. */
const WRITE_DEPTH = 4;

export interface ChunkRun {
  readonly input: TensorSource;
  readonly label: TensorSource;
  readonly count: number;
  readonly chunkElements: number;
  readonly executor: LossExecutor;
  readonly params: LossParams;
  /** The result dtype: the losses' when they are written. */
  readonly dtype: FloatDType;
  /** Where element losses go, for reduction 'none'. */
  readonly writer: TensorWriter | undefined;
}

const chunkRef = (source: TensorSource, chunk: Chunk): ChunkRef => ({
  file: source.header.file,
  chunk,
  dtype: source.header.dtype,
  byteOrder: source.header.byteOrder,
});

/**
 * Runs every pair of chunks through the executor, folds their block sums in
 * chunk order, and hands their losses to the writer in order (or lets the
 * workers write them by position). Returns the folded sum of all losses;
 * the writer is left for the caller to finish or abort.
 */
export async function runChunks(run: ChunkRun): Promise<number> {
  const { input, label, writer, dtype } = run;
  const itemSize = ITEM_SIZE[dtype];
  const direct = writer?.direct;
  const folder = new BlockSumFolder();
  // Output buffers circulate: to a worker with a task, back with its result, back here once written.
  const free: ArrayBuffer[] = [];
  const takeBuffer = (): ArrayBuffer => free.pop() ?? new ArrayBuffer(run.chunkElements * itemSize);
  // The main thread writes chunk i while workers compute the next ones.
  const writes = new WriteBehind(WRITE_DEPTH);
  // Losses the workers write by position are synced as they come, so that the final sync has little left.
  const flush = writer?.flush?.bind(writer);
  const syncs = flush === undefined ? undefined : new SyncBehind(flush);

  const task = (first: number, n: number, a: Chunk, b: Chunk): { task: LossTask; transfer: ArrayBuffer[] } => {
    const transfer = [a, b].flatMap((c) => (c.kind === 'bytes' ? [c.buffer] : []));
    let output: LossTask['output'] = null;
    if (direct !== undefined) output = { span: direct.spanFrom(first), dtype };
    else if (writer !== undefined) {
      const buffer = takeBuffer();
      output = { buffer, dtype };
      transfer.push(buffer);
    }
    return { task: { input: chunkRef(input, a), label: chunkRef(label, b), count: n, params: run.params, output }, transfer };
  };

  try {
    await forEachChunkInOrder(
      run.count,
      run.chunkElements,
      run.executor.parallelism,
      async (first, n) => ({ first, n, chunks: await Promise.all([input.chunk(first, n), label.chunk(first, n)]) }),
      ({ first, n, chunks: [a, b] }) => {
        const next = task(first, n, a, b);
        return run.executor.run(next.task, next.transfer);
      },
      async (result, _first, n) => {
        folder.add(result.sums);
        syncs?.poke();
        const { output } = result;
        if (writer !== undefined && output !== null) {
          await writes.push(async () => {
            await writer.write(new Uint8Array(output, 0, n * itemSize));
            free.push(output);
          });
        }
      },
    );
    await writes.drain();
    await syncs?.settle();
  } catch (err) {
    await writes.drain().catch(() => undefined);
    await syncs?.settle().catch(() => undefined);
    throw err;
  }
  return folder.total();
}
