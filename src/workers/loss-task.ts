import { readSync, writeSync } from 'node:fs';
import { needsSwap, swapInPlace } from '../tensor/byte-order.js';
import { blockCount, rawSlot, reserveChunk, stagedChunkLoss, widen, type Scratch } from '../compute/stage.js';
import type { KernelInput, Region, WasmKernel } from '../compute/wasm-kernel.js';
import { ITEM_SIZE } from '../tensor/dtype.js';
import { fromSystemError, SmoothL1Error } from '../tensor/errors.js';
import { BLOCK_ELEMENTS, type LossParams } from '../compute/loss-spec.js';
import type { ByteOrder, Chunk, DirectOutput, DType, FilePiece, FloatDType } from '../tensor/tensor.js';

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
  /**
   * Where the element losses go (reduction 'none'): a buffer that travels
   * back in the result, or the output file, written by position from here.
   */
  readonly output: { readonly buffer: ArrayBuffer; readonly dtype: FloatDType } | { readonly direct: DirectOutput; readonly dtype: FloatDType } | null;
}

export interface LossResult {
  /** Compensated sum of each block of the chunk, in block order. */
  readonly sums: Float64Array;
  readonly output: ArrayBuffer | null;
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

/**
 * Fills `into` with a chunk's bytes in platform byte order: a file range is
 * read straight into it (a worker reads into the kernel's memory, with no
 * copy on the way); bytes from a stream are copied.
 */
export function readChunkInto(ref: ChunkRef, into: Uint8Array): void {
  const { chunk } = ref;
  if (chunk.kind === 'range') {
    let at = 0;
    for (const piece of chunk.pieces) {
      readRange(ref.file, chunk.fd, piece.position, into.subarray(at, at + piece.byteLength));
      at += piece.byteLength;
    }
  } else into.set(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  // Byte order is settled once, here, on bytes this thread owns.
  const itemSize = ITEM_SIZE[ref.dtype];
  if (needsSwap(ref.byteOrder, itemSize)) swapInPlace(into, itemSize);
}

/** Puts one tensor's chunk into a kernel region, widened as the kernel needs; says as what the kernel reads it. */
function fillRegion(kernel: WasmKernel, region: Region, ref: ChunkRef, count: number): KernelInput {
  readChunkInto(ref, rawSlot(kernel, region, ref.dtype, count));
  return widen(kernel, region, ref.dtype, count);
}

/**
 * A worker takes a chunk in slices of this many elements, a whole number of
 * blocks (1 MiB of each float32 input). Measured on 2 × 1 GiB float32 with two
 * workers: slices of 64 Ki elements spent more in the many small reads than
 * they saved by keeping slices in L2, and whole chunks of 2 Mi elements let
 * the kernel read back from memory; 256 Ki and 512 Ki were fastest (float64
 * and float16 likewise), about 12% faster than 64 Ki.
 */
export const SLICE_ELEMENTS = 64 * BLOCK_ELEMENTS;

/** The part of back-to-back pieces from byte `skip`, `byteLength` long. */
function cutPieces(pieces: readonly FilePiece[], skip: number, byteLength: number): FilePiece[] {
  const cut: FilePiece[] = [];
  let offset = 0;
  for (const piece of pieces) {
    const from = Math.max(skip, offset);
    const to = Math.min(skip + byteLength, offset + piece.byteLength);
    if (from < to) cut.push({ position: piece.position + (from - offset), byteLength: to - from });
    offset += piece.byteLength;
  }
  return cut;
}

/** Elements [first, first + n) of a chunk. */
function slice(ref: ChunkRef, first: number, n: number): ChunkRef {
  const { chunk } = ref;
  const skip = first * ITEM_SIZE[ref.dtype];
  const byteLength = n * ITEM_SIZE[ref.dtype];
  return {
    ...ref,
    chunk:
      chunk.kind === 'range'
        ? { ...chunk, pieces: cutPieces(chunk.pieces, skip, byteLength), byteLength }
        : { ...chunk, byteOffset: chunk.byteOffset + skip, byteLength },
  };
}

function writeAt({ path, fd }: DirectOutput, position: number, bytes: Uint8Array): void {
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  } catch (err) {
    throw fromSystemError(path, err);
  }
}

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
    const types = { input: fillRegion(kernel, regions.a, slice(task.input, first, n), n), label: fillRegion(kernel, regions.b, slice(task.label, first, n), n) };
    const out = output === null ? null : { bytes: lossBytes(output, scratch, first, n), dtype: output.dtype };
    stagedChunkLoss(kernel, types, n, task.params, out, sums.subarray(first / BLOCK_ELEMENTS), regions.z);
    if (out !== null && output !== null && 'direct' in output) writeAt(output.direct, output.direct.position + first * ITEM_SIZE[output.dtype], out.bytes);
  }
  const back = output !== null && 'buffer' in output ? output.buffer : null;
  return { result: { sums, output: back }, transfer: back === null ? [sums.buffer] : [sums.buffer, back] };
}
