import { ITEM_SIZE } from '../tensor/dtype.js';
import { encodeHalf, widenHalvesInPlace, widenToFloat64 } from './widen.js';
import { BLOCK_ELEMENTS, type LossParams } from './loss-spec.js';
import { WasmKernel, type KernelInput, type KernelOutput, type Region, type Regions } from './wasm-kernel.js';
import type { DType, FloatDType } from '../tensor/tensor.js';

/** A thread's kernel instance and its memory, reused for every chunk. */
export interface Scratch {
  readonly kernel: WasmKernel;
  /** A slice's losses on their way to a file written by position (see runLossTask). */
  out?: Uint8Array;
}

export const newScratch = (): Scratch => ({ kernel: new WasmKernel() });

export const blockCount = (count: number): number => Math.ceil(count / BLOCK_ELEMENTS);

/**
 * float32 and float64 go to the kernel as stored, and float16 too when a
 * slice holds no infinity or NaN; everything else is widened to float64
 * first (see widen).
 */
const isKernelNative = (dtype: DType): dtype is 'float32' | 'float64' => dtype === 'float32' || dtype === 'float64';

/** float16 losses are computed as float64 and rounded to half precision afterwards. */
const kernelOutput = (dtype: FloatDType | undefined): KernelOutput =>
  dtype === undefined ? 'none' : dtype === 'float32' ? 'float32' : 'float64';

/** Bytes a kernel region needs for `count` elements of a tensor of `dtype`: room for float64 unless it is kernel-native. */
const stagedBytes = (dtype: DType, count: number): number => count * (isKernelNative(dtype) ? ITEM_SIZE[dtype] : 8);

/**
 * Where a chunk's bytes, as stored, go in its region: its start for the
 * kernel's own dtypes and float16 (widened back to front when it must be);
 * otherwise its end, so that widening to float64 can run in place, front to
 * back, without overtaking unread bytes.
 */
export function rawSlot(kernel: WasmKernel, region: Region, dtype: DType, count: number): Uint8Array {
  const bytes = kernel.bytes(region);
  const size = count * ITEM_SIZE[dtype];
  return isKernelNative(dtype) || dtype === 'float16' ? bytes.subarray(0, size) : bytes.subarray(bytes.length - size);
}

/**
 * Makes the raw slot's elements what the kernel reads, and says as what:
 * float32 and float64 as they are; float16 as it is when all are finite
 * (the kernel's float16 loops take finite halves only), else widened to
 * float64 in place; every other dtype widened to float64 at the region's
 * start.
 */
export function widen(kernel: WasmKernel, region: Region, dtype: DType, count: number): KernelInput {
  if (isKernelNative(dtype)) return dtype;
  const bytes = kernel.bytes(region);
  const float64 = new Float64Array(bytes.buffer, bytes.byteOffset, count);
  if (dtype === 'float16') {
    if (kernel.finiteHalves(region, count)) return 'float16';
    widenHalvesInPlace(new Uint16Array(bytes.buffer, bytes.byteOffset, count), float64);
  } else widenToFloat64(rawSlot(kernel, region, dtype, count), dtype, count, float64);
  return 'float64';
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
  types: { readonly input: KernelInput; readonly label: KernelInput },
  count: number,
  params: LossParams,
  out: { readonly bytes: Uint8Array; readonly dtype: FloatDType } | null,
  sums: Float64Array,
  zRegion: Region,
): void {
  kernel.blockSums(count, types.input, types.label, params, kernelOutput(out?.dtype), sums);
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
