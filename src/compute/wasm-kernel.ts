import { Buffer } from 'node:buffer';
import { KERNEL_WASM_BASE64 } from './kernel-bytes.js';
import { internalError } from '../tensor/errors.js';
import { decodeHalf } from '../tensor/float16.js';
import { BLOCK_ELEMENTS, finishLanes, LANES, RUN_ELEMENTS, type LossParams } from './loss-spec.js';

/**
 * How the kernel finds an input stored; any other dtype is widened to float64
 * first. float16 values must be finite (see finiteHalves).
 */
export type KernelInput = 'float16' | 'float32' | 'float64';
export type KernelOutput = 'none' | 'float32' | 'float64';

/** One of the kernel's loss functions: `runs` runs of RUN_ELEMENTS pairs into the lane state at `state`. */
type LossRuns = (a: number, b: number, z: number, runs: number, delta: number, state: number) => void;

const PAGE = 65536;
const STATE = 0;
/** Float64 copies of a block's last partial run of elements, zero-padded, and their losses. */
const TAIL_A = 128;
const TAIL_B = TAIL_A + RUN_ELEMENTS * 8;
const TAIL_Z = TAIL_B + RUN_ELEMENTS * 8;
/** Chunk regions start after the first page, which holds the state and tails. */
const REGIONS = PAGE;

/** Names as scripts/kernel-wat.mjs spells them in its exports. */
const WAT_TYPE: Readonly<Record<KernelInput | KernelOutput, string>> = {
  none: 'none',
  float16: 'f16',
  float32: 'f32',
  float64: 'f64',
};
const ITEM: Readonly<Record<KernelInput | KernelOutput, number>> = { none: 0, float16: 2, float32: 4, float64: 8 };

const exportName = (a: KernelInput, b: KernelInput, out: KernelOutput, huber: boolean): string =>
  `loss_${WAT_TYPE[a]}_${WAT_TYPE[b]}_${WAT_TYPE[out]}_${huber ? 'huber' : 'smoothl1'}`;

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/** A region of the kernel's memory, given as a byte offset and length. */
export interface Region {
  readonly offset: number;
  readonly byteLength: number;
}

export interface Regions {
  readonly a: Region;
  readonly b: Region;
  readonly z: Region;
}

/** Elements [at, at + n) of a region as float64 values, for the tail of a block. */
function tailValues(buffer: ArrayBuffer, region: Region, type: KernelInput, at: number, n: number): ArrayLike<number> {
  const offset = region.offset + at * ITEM[type];
  if (type === 'float64') return new Float64Array(buffer, offset, n);
  if (type === 'float32') return new Float32Array(buffer, offset, n);
  return Array.from(new Uint16Array(buffer, offset, n), decodeHalf);
}

/**
 * One instance of the WebAssembly kernel and its memory. Chunks are read
 * straight into its memory (regions a, b, z), so inputs cross no extra copy.
 * One per thread: an instance is not shared.
 */
export class WasmKernel {
  readonly #memory: WebAssembly.Memory;
  readonly #exports: WebAssembly.Exports;
  readonly #functions = new Map<string, LossRuns>();
  /** The lane state, viewed once per memory buffer rather than once per block. */
  #state: Float64Array;
  #regions: Regions = {
    a: { offset: REGIONS, byteLength: 0 },
    b: { offset: REGIONS, byteLength: 0 },
    z: { offset: REGIONS, byteLength: 0 },
  };

  constructor() {
    const bytes = Buffer.from(KERNEL_WASM_BASE64, 'base64');
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const memory = exports['memory'];
    if (!(memory instanceof WebAssembly.Memory)) throw internalError('kernel.wasm exports no memory');
    this.#memory = memory;
    this.#exports = exports;
    this.#state = new Float64Array(memory.buffer, STATE, 2 * LANES);
  }

  /** Lays out regions of at least these sizes, growing memory when needed (never shrinking). */
  reserve(aBytes: number, bBytes: number, zBytes: number): Regions {
    const a = { offset: REGIONS, byteLength: aBytes };
    const b = { offset: align16(a.offset + aBytes), byteLength: bBytes };
    const z = { offset: align16(b.offset + bBytes), byteLength: zBytes };
    const need = z.offset + zBytes;
    const memory = this.#memory;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    this.#regions = { a, b, z };
    // Growing replaces the memory's buffer and detaches views of the old one.
    if (this.#state.buffer !== memory.buffer) this.#state = new Float64Array(memory.buffer, STATE, 2 * LANES);
    return this.#regions;
  }

  /** A view of a region; views must be made anew after reserve(), which may replace the buffer. */
  bytes(region: Region): Uint8Array {
    return new Uint8Array(this.#memory.buffer, region.offset, region.byteLength);
  }

  /**
   * Whether the first `count` float16 values of a region are all finite: the
   * kernel's float16 loops take finite halves only (see kernel-wat.mjs).
   */
  finiteHalves(region: Region, count: number): boolean {
    const halfMax = this.#exports['halfMax'];
    if (typeof halfMax !== 'function') throw internalError('kernel.wasm lacks halfMax');
    return Number(halfMax(region.offset, count)) < 0x7c00;
  }

  #lossFunction(a: KernelInput, b: KernelInput, out: KernelOutput, huber: boolean): LossRuns {
    const name = exportName(a, b, out, huber);
    let fn = this.#functions.get(name);
    if (fn === undefined) {
      const found = this.#exports[name];
      if (typeof found !== 'function') throw internalError(`kernel.wasm lacks ${name}`);
      fn = found as LossRuns;
      this.#functions.set(name, fn);
    }
    return fn;
  }

  /**
   * The loss of n paired elements starting `at` elements into regions a and
   * b, with the losses written to region z at the same index unless `out`
   * is 'none'. Returns the block's compensated sum (see loss-spec.ts).
   */
  blockSum(at: number, n: number, aType: KernelInput, bType: KernelInput, params: LossParams, out: KernelOutput): number {
    return this.#runBlock(this.#lossFunction(aType, bType, out, params.huber), at, n, aType, bType, params, out);
  }

  /**
   * blockSum for each block of the first `count` elements of the regions,
   * block k's sum to sums[k]; the loss function is looked up once, not once
   * a block: a lookup by name per block was a measurable share of a worker's time.
   */
  blockSums(count: number, aType: KernelInput, bType: KernelInput, params: LossParams, out: KernelOutput, sums: Float64Array): void {
    const loss = this.#lossFunction(aType, bType, out, params.huber);
    for (let k = 0, at = 0; at < count; k++, at += BLOCK_ELEMENTS) {
      sums[k] = this.#runBlock(loss, at, Math.min(BLOCK_ELEMENTS, count - at), aType, bType, params, out);
    }
  }

  #runBlock(loss: LossRuns, at: number, n: number, aType: KernelInput, bType: KernelInput, params: LossParams, out: KernelOutput): number {
    this.#state.fill(0);
    const runs = Math.floor(n / RUN_ELEMENTS);
    const { a, b, z } = this.#regions;
    const { delta, huber } = params;
    loss(a.offset + at * ITEM[aType], b.offset + at * ITEM[bType], z.offset + at * ITEM[out], runs, delta, STATE);
    const done = runs * RUN_ELEMENTS;
    if (done < n) {
      // The last partial run, padded with zeros: a zero pair has loss 0, which leaves every partial as it was.
      const { buffer } = this.#memory;
      new Float64Array(buffer, TAIL_A, RUN_ELEMENTS).fill(0).set(tailValues(buffer, a, aType, at + done, n - done));
      new Float64Array(buffer, TAIL_B, RUN_ELEMENTS).fill(0).set(tailValues(buffer, b, bType, at + done, n - done));
      this.#lossFunction('float64', 'float64', 'float64', huber)(TAIL_A, TAIL_B, TAIL_Z, 1, delta, STATE);
      if (out !== 'none') {
        const losses = new Float64Array(buffer, TAIL_Z, n - done);
        const offset = z.offset + (at + done) * ITEM[out];
        (out === 'float32' ? new Float32Array(buffer, offset, n - done) : new Float64Array(buffer, offset, n - done)).set(losses);
      }
    }
    return finishLanes(this.#state);
  }
}
