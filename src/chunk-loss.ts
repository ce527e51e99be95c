import { BLOCK_ELEMENTS, blockLoss, type LossParams } from './kernel.js';
import { float64Reader, lossWriter } from './decode.js';
import type { DType, FloatDType } from './tensor.js';

/** One tensor's elements for a chunk: platform byte order, aligned to the item size. */
export interface TypedBytes {
  readonly bytes: Uint8Array;
  readonly dtype: DType;
}

/** Block-sized float64 work arrays, allocated once per thread and reused for every chunk. */
export interface Scratch {
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly z: Float64Array;
}

export const newScratch = (): Scratch => ({
  a: new Float64Array(BLOCK_ELEMENTS),
  b: new Float64Array(BLOCK_ELEMENTS),
  z: new Float64Array(BLOCK_ELEMENTS),
});

export const blockCount = (count: number): number => Math.ceil(count / BLOCK_ELEMENTS);

/**
 * Losses of `count` paired elements, block by block: each block's
 * compensated sum goes to `sums[k]`, and the element losses to `out` (in
 * `outDType`) when it is given. A chunk must start on a block boundary of the
 * tensor so that blocks are the same whatever the chunk size. Working a block
 * at a time keeps the float64 copies in L1 cache.
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
  const a = float64Reader(input.bytes, input.dtype);
  const b = float64Reader(label.bytes, label.dtype);
  const w = out === null ? null : lossWriter(out.bytes, out.dtype);
  for (let k = 0, start = 0; start < count; k++, start += BLOCK_ELEMENTS) {
    const n = Math.min(BLOCK_ELEMENTS, count - start);
    a.decode(start, n, scratch.a);
    b.decode(start, n, scratch.b);
    const [av, aAt] = a.direct === null ? [scratch.a, 0] : [a.direct, start];
    const [bv, bAt] = b.direct === null ? [scratch.b, 0] : [b.direct, start];
    const [zv, zAt] = w === null ? [null, 0] : w.direct === null ? [scratch.z, 0] : [w.direct, start];
    sums[k] = blockLoss(av, aAt, bv, bAt, n, params, zv, zAt);
    w?.encode(start, n, scratch.z);
  }
}
