import { BLOCK_ELEMENTS, type LossParams } from '../compute/loss-spec.js';
import { blockCount, rawSlot, reserveChunk, stagedChunkLoss, widen, type Scratch } from '../compute/stage.js';
import type { KernelInput, Region, WasmKernel } from '../compute/wasm-kernel.js';
import { readChunkInto } from '../io/read-chunk.js';
import { writeFully } from '../io/write-at.js';
import { sliceChunk } from '../tensor/chunk.js';
import { ITEM_SIZE } from '../tensor/dtype.js';
import type { FileSpan } from '../tensor/format.js';
import type { ChunkRef, FloatDType } from '../tensor/tensor.js';

/** The message a worker gets: one chunk of both tensors. Plain data, so it can cross threads. */
export interface LossTask {
  readonly input: ChunkRef;
  readonly label: ChunkRef;
  readonly count: number;
  readonly params: LossParams;
  /**
   * Where the element losses go (reduction 'none'): a buffer that travels
   * back in the result, or a span of the output file, written from here.
   */
  readonly output: { readonly buffer: ArrayBuffer; readonly dtype: FloatDType } | { readonly span: FileSpan; readonly dtype: FloatDType } | null;
}

export interface LossResult {
  /** Compensated sum of each block of the chunk, in block order. */
  readonly sums: Float64Array;
  readonly output: ArrayBuffer | null;
}

/** Puts one tensor's chunk into a kernel region, widened as the kernel needs; says as what the kernel reads it. */
function fillRegion(kernel: WasmKernel, region: Region, ref: ChunkRef, count: number): KernelInput {
  readChunkInto(ref, rawSlot(kernel, region, ref.dtype, count));
  return widen(kernel, region, ref.dtype, count);
}

/**
 * A worker takes a chunk in slices of this many elements, a whole number of
 * blocks (1 MiB of each float32 input): much smaller slices spend more in
 * the many small reads than they save by staying in cache, and much larger
 * ones make the kernel read its inputs back from memory rather than cache
 * (the README's benchmark section has the measurements).
 */
export const SLICE_ELEMENTS = 64 * BLOCK_ELEMENTS;

/** Where the losses of elements [first, first + n) go: their place in the task's buffer, or scratch bytes on their way to the file. */
function lossBytes(output: NonNullable<LossTask['output']>, scratch: Scratch, first: number, n: number): Uint8Array {
  const item = ITEM_SIZE[output.dtype];
  if ('buffer' in output) return new Uint8Array(output.buffer, first * item, n * item);
  return (scratch.out ??= new Uint8Array(SLICE_ELEMENTS * 8)).subarray(0, n * item);
}

export function runLossTask(task: LossTask, scratch: Scratch): { result: LossResult; transfer: ArrayBuffer[] } {
  const { kernel } = scratch;
  const { output } = task;
  const sums = new Float64Array(blockCount(task.count));
  for (let first = 0; first < task.count; first += SLICE_ELEMENTS) {
    const n = Math.min(SLICE_ELEMENTS, task.count - first);
    const regions = reserveChunk(kernel, task.input.dtype, task.label.dtype, output?.dtype, n);
    const types = { input: fillRegion(kernel, regions.a, sliceChunk(task.input, first, n), n), label: fillRegion(kernel, regions.b, sliceChunk(task.label, first, n), n) };
    const out = output === null ? null : { bytes: lossBytes(output, scratch, first, n), dtype: output.dtype };
    stagedChunkLoss(kernel, types, n, task.params, out, sums.subarray(first / BLOCK_ELEMENTS), regions.z);
    if (out !== null && output !== null && 'span' in output) {
      const { path, fd, position } = output.span;
      writeFully(path, fd, out.bytes, position + first * ITEM_SIZE[output.dtype]);
    }
  }
  const back = output !== null && 'buffer' in output ? output.buffer : null;
  return { result: { sums, output: back }, transfer: back === null ? [sums.buffer] : [sums.buffer, back] };
}
