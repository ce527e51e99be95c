import { readSync } from 'node:fs';
import { needsSwap, swapInPlace } from './byte-order.js';
import { blockCount, chunkLoss, newScratch, type Scratch } from './chunk-loss.js';
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

export function runLossTask(task: LossTask, state: TaskState): { result: LossResult; transfer: ArrayBuffer[] } {
  const input = loadChunk(task.input, (n) => state.buffer(0, n));
  const label = loadChunk(task.label, (n) => state.buffer(1, n));
  const sums = new Float64Array(blockCount(task.count));
  const out =
    task.output === null
      ? null
      : { bytes: new Uint8Array(task.output.buffer, 0, task.count * ITEM_SIZE[task.output.dtype]), dtype: task.output.dtype };
  chunkLoss({ bytes: input, dtype: task.input.dtype }, { bytes: label, dtype: task.label.dtype }, task.count, task.params, out, sums, state.scratch);
  const output = task.output?.buffer ?? null;
  return { result: { sums, output }, transfer: output === null ? [sums.buffer] : [sums.buffer, output] };
}
