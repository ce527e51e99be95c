import { ITEM_SIZE } from './dtype.js';
import { encodeHalf, widenToFloat64 } from './decode.js';
import { BLOCK_ELEMENTS, type LossParams } from './kernel.js';
import { WasmKernel, type KernelInput, type KernelOutput, type Region, type Regions } from './wasm-kernel.js';
import type { DType, FloatDType } from './tensor.js';

/** One tensor's elements for a chunk: platform byte order, aligned to the item size. */
export interface TypedBytes {
  readonly bytes: Uint8Array;
  readonly dtype: DType;
}

/** A thread's kernel instance and its memory, reused for every chunk. */
export interface Scratch {
  readonly kernel: WasmKernel;
  /** A slice's losses on their way to a file written by position (see runLossTask). */
  out?: Uint8Array;
}

export const newScratch = (): Scratch => ({ kernel: new WasmKernel() });

export const blockCount = (count: number): number => Math.ceil(count / BLOCK_ELEMENTS);

/** float16, float32 and float64 go to the kernel as stored; every other dtype is widened to float64 first. */
const kernelInput = (dtype: DType): KernelInput =>
  dtype === 'float16' || dtype === 'float32' ? dtype : 'float64';

const isKernelNative = (dtype: DType): boolean => kernelInput(dtype) === dtype;

/** float16 losses are computed as float64 and rounded to half precision afterwards. */
const kernelOutput = (dtype: FloatDType | undefined): KernelOutput =>
  dtype === undefined ? 'none' : dtype === 'float32' ? 'float32' : 'float64';

/** Bytes a kernel region needs for `count` elements of a tensor of `dtype`. */
const stagedBytes = (dtype: DType, count: number): number => count * ITEM_SIZE[kernelInput(dtype)];

/**
 * Where a chunk's bytes, as stored, go in its region: the whole region for
 * the kernel's own dtypes; otherwise its end, so that widening to float64 can
 * run in place, front to back, without overtaking unread bytes.
 */
export function rawSlot(kernel: WasmKernel, region: Region, dtype: DType, count: number): Uint8Array {
  const bytes = kernel.bytes(region);
  return bytes.subarray(bytes.length - count * ITEM_SIZE[dtype]);
}

/** Widens the raw slot's elements to float64 at the region's start; nothing to do for the kernel's own dtypes. */
export function widen(kernel: WasmKernel, region: Region, dtype: DType, count: number): void {
  if (isKernelNative(dtype)) return;
  const bytes = kernel.bytes(region);
  widenToFloat64(rawSlot(kernel, region, dtype, count), dtype, count, new Float64Array(bytes.buffer, bytes.byteOffset, count));
}

/**
 * Losses of `count` paired elements already staged in the kernel's regions,
 * block by block: block k's compensated sum goes to `sums[k]`, and the
 * element losses to `out` (in its dtype) when it is given. A chunk must start
 * on a block boundary of the tensor so that blocks are the same whatever the
 * chunk size.
 */
export function stagedChunkLoss(
  kernel: WasmKernel,
  types: { readonly input: DType; readonly label: DType },
  count: number,
  params: LossParams,
  out: { readonly bytes: Uint8Array; readonly dtype: FloatDType } | null,
  sums: Float64Array,
  zRegion: Region,
): void {
  const aType = kernelInput(types.input);
  const bType = kernelInput(types.label);
  const zType = kernelOutput(out?.dtype);
  kernel.blockSums(count, aType, bType, params, zType, sums);
  if (out === null) return;
  const z = kernel.bytes(zRegion);
  if (out.dtype === 'float16') {
    encodeHalf(new Float64Array(z.buffer, z.byteOffset, count), new Uint16Array(out.bytes.buffer, out.bytes.byteOffset, count));
  }
  else out.bytes.set(z.subarray(0, count * ITEM_SIZE[out.dtype]));
}

/** Reserves kernel regions for a chunk of `count` elements of these dtypes. */
export function reserveChunk(
  kernel: WasmKernel,
  input: DType,
  label: DType,
  out: FloatDType | undefined,
  count: number,
): Regions {
  const zBytes = out === undefined ? 0 : count * (out === 'float32' ? 4 : 8);
  return kernel.reserve(stagedBytes(input, count), stagedBytes(label, count), zBytes);
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
  widen(kernel, regions.a, input.dtype, count);
  widen(kernel, regions.b, label.dtype, count);
  stagedChunkLoss(kernel, { input: input.dtype, label: label.dtype }, count, params, out, sums, regions.z);
}
