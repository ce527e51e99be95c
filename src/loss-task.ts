import { readSync } from 'node:fs';
import { needsSwap, swapInPlace } from './byte-order.js';
import { blockCount, isKernelNative, newScratch, reserveChunk, stage, stagedChunkLoss, type Scratch } from './chunk-loss.js';
import type { Region } from './wasm-kernel.js';
import { ITEM_SIZE } from './dtype.js';
import { fromSystemError, SmoothL1Error } from './errors.js';
import type { LossParams } from './kernel.js';
import type { ByteOrder, Chunk, DType, FloatDType } from './tensor.js';

/** One tensor's part of a task: where its chunk is and how to read it. */
export interface ChunkRef {
  readonly file: string;
  readonly chunk: Chunk;
  readonly dtype: DType;
  readonly byteOrder: ByteOrder;
}

/** The message a worker gets: one chunk of both tensors. Plain data, so it can cross threads. */
export interface LossTask {
  readonly input: ChunkRef;
  readonly label: ChunkRef;
  readonly count: number;
  readonly params: LossParams;
  /** A buffer to fill with the element losses (reduction 'none'); it travels back in the result. */
  readonly output: { readonly buffer: ArrayBuffer; readonly dtype: FloatDType } | null;
}

export interface LossResult {
  /** Compensated sum of each block of the chunk, in block order. */
  readonly sums: Float64Array;
  readonly output: ArrayBuffer | null;
}

/** A thread's reusable memory: read buffers grow to the largest chunk once, then stay. */
export class TaskState {
  readonly scratch: Scratch = newScratch();
  readonly #buffers: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];

  buffer(slot: 0 | 1, byteLength: number): Uint8Array {
    if (this.#buffers[slot].length < byteLength) this.#buffers[slot] = new Uint8Array(byteLength);
    return this.#buffers[slot].subarray(0, byteLength);
  }
}

function readRange(file: string, fd: number, position: number, into: Uint8Array): void {
  let filled = 0;
  try {
    while (filled < into.length) {
      const n = readSync(fd, into, filled, into.length - filled, position + filled);
      if (n === 0) throw new SmoothL1Error(file, 'file became shorter while it was being read');
      filled += n;
    }
  } catch (err) {
    throw fromSystemError(file, err);
  }
}

/** A chunk's bytes in platform byte order, aligned for typed-array views. */
export function loadChunk(ref: ChunkRef, into: (byteLength: number) => Uint8Array): Uint8Array {
  const itemSize = ITEM_SIZE[ref.dtype];
  const { chunk } = ref;
  let bytes: Uint8Array;
  if (chunk.kind === 'range') {
    bytes = into(chunk.byteLength);
    readRange(ref.file, chunk.fd, chunk.position, bytes);
  } else {
    bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // A typed-array view on a misaligned offset throws, so copy such chunks.
    if (chunk.byteOffset % itemSize !== 0) {
      const aligned = into(chunk.byteLength);
      aligned.set(bytes);
      bytes = aligned;
    }
  }
  // Byte order is settled once, here, on bytes this thread owns.
  if (needsSwap(ref.byteOrder, itemSize)) swapInPlace(bytes, itemSize);
  return bytes;
}

/**
 * Puts one tensor's chunk into a kernel region. A float32/float64 range is
 * read from the file straight into the kernel's memory; anything else is
 * loaded, then copied or widened.
 */
function fillRegion(state: TaskState, slot: 0 | 1, region: Region, ref: ChunkRef, count: number): void {
  const { kernel } = state.scratch;
  const { chunk } = ref;
  if (isKernelNative(ref.dtype) && chunk.kind === 'range') {
    const bytes = kernel.bytes(region);
    readRange(ref.file, chunk.fd, chunk.position, bytes);
    if (needsSwap(ref.byteOrder, ITEM_SIZE[ref.dtype])) swapInPlace(bytes, ITEM_SIZE[ref.dtype]);
    return;
  }
  const bytes = loadChunk(ref, (n) => state.buffer(slot, n));
  stage(kernel, region, { bytes, dtype: ref.dtype }, count);
}

export function runLossTask(task: LossTask, state: TaskState): { result: LossResult; transfer: ArrayBuffer[] } {
  const { kernel } = state.scratch;
  const regions = reserveChunk(kernel, task.input.dtype, task.label.dtype, task.output?.dtype, task.count);
  fillRegion(state, 0, regions.a, task.input, task.count);
  fillRegion(state, 1, regions.b, task.label, task.count);
  const sums = new Float64Array(blockCount(task.count));
  const out =
    task.output === null
      ? null
      : { bytes: new Uint8Array(task.output.buffer, 0, task.count * ITEM_SIZE[task.output.dtype]), dtype: task.output.dtype };
  const types = { input: task.input.dtype, label: task.label.dtype };
  stagedChunkLoss(kernel, types, task.count, task.params, out, sums, regions.z);
  const output = task.output?.buffer ?? null;
  return { result: { sums, output }, transfer: output === null ? [sums.buffer] : [sums.buffer, output] };
}
