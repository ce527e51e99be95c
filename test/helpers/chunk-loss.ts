import { ITEM_SIZE } from '../../src/tensor/dtype.js';
import type { LossParams } from '../../src/compute/loss-spec.js';
import { rawSlot, reserveChunk, stagedChunkLoss, widen, type Scratch } from '../../src/compute/stage.js';
import type { DType, FloatDType } from '../../src/tensor/tensor.js';

/*
 * The whole per-chunk computation on bytes already in memory, as a worker
 * does it after reading: stage both inputs in the kernel's regions, widen,
 * compute. Tests call it to check staging and the kernel without files.
 */

/** One tensor's elements for a chunk: platform byte order, aligned to the item size. */
export interface TypedBytes {
  readonly bytes: Uint8Array;
  readonly dtype: DType;
}

/**
 * Losses of `count` paired elements given as bytes: block sums to `sums`,
 * element losses to `out` when given. The whole per-chunk computation, pure.
 */
export function chunkLoss(
  input: TypedBytes,
  label: TypedBytes,
  count: number,
  params: LossParams,
  out: { readonly bytes: Uint8Array; readonly dtype: FloatDType } | null,
  sums: Float64Array,
  scratch: Scratch,
): void {
  const { kernel } = scratch;
  const regions = reserveChunk(kernel, input.dtype, label.dtype, out?.dtype, count);
  rawSlot(kernel, regions.a, input.dtype, count).set(input.bytes.subarray(0, count * ITEM_SIZE[input.dtype]));
  rawSlot(kernel, regions.b, label.dtype, count).set(label.bytes.subarray(0, count * ITEM_SIZE[label.dtype]));
  const types = { input: widen(kernel, regions.a, input.dtype, count), label: widen(kernel, regions.b, label.dtype, count) };
  stagedChunkLoss(kernel, types, count, params, out, sums, regions.z);
}
