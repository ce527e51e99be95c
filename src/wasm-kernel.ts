import { KERNEL_WASM_BASE64 } from './wasm/kernel-bytes.js';
import { HALF_TO_FLOAT64 } from './float16.js';
import { finishLanes, LANES, type LossParams } from './kernel.js';

/** How the kernel finds an input stored, as the .wat encodes it; any other dtype is widened to float64 first. */
export type KernelInput = 'float16' | 'float32' | 'float64';
export type KernelOutput = 'none' | 'float32' | 'float64';

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  lossGroups(
    a: number,
    aKind: number,
    b: number,
    bKind: number,
    groups: number,
    delta: number,
    huber: number,
    z: number,
    zKind: number,
    state: number,
  ): void;
}

const PAGE = 65536;
const STATE = 0;
/** Float64 copies of a block's last partial group of elements, zero-padded, and their losses. */
const TAIL_A = 128;
const TAIL_B = TAIL_A + LANES * 8;
const TAIL_Z = TAIL_B + LANES * 8;
/** Chunk regions start after the first page, which holds the state and tails. */
const REGIONS = PAGE;

const INPUT_KIND: Readonly<Record<KernelInput, number>> = { float64: 0, float32: 1, float16: 2 };
const Z_KIND: Readonly<Record<KernelOutput, number>> = { none: 0, float32: 1, float64: 2 };
const ITEM: Readonly<Record<KernelInput | KernelOutput, number>> = { none: 0, float16: 2, float32: 4, float64: 8 };

function isKernelExports(x: WebAssembly.Exports): x is WebAssembly.Exports & KernelExports {
  return x['memory'] instanceof WebAssembly.Memory && typeof x['lossGroups'] === 'function';
}

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
  return Array.from(new Uint16Array(buffer, offset, n), (h) => HALF_TO_FLOAT64[h]!);
}

/**
 * One instance of the WebAssembly kernel and its memory. Chunks are read
 * straight into its memory (regions a, b, z), so inputs cross no extra copy.
 * One per thread: an instance is not shared.
 */
export class WasmKernel {
  readonly #exports: KernelExports;
  /** The lane state, viewed once per memory buffer rather than once per block. */
  #state: Float64Array;
  #regions: Regions = {
    a: { offset: REGIONS, byteLength: 0 },
    b: { offset: REGIONS, byteLength: 0 },
    z: { offset: REGIONS, byteLength: 0 },
  };

  constructor() {
    const bytes = Uint8Array.from(atob(KERNEL_WASM_BASE64), (ch) => ch.charCodeAt(0));
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    if (!isKernelExports(exports)) throw new Error('kernel.wasm lacks its exports');
    this.#exports = exports;
    this.#state = new Float64Array(exports.memory.buffer, STATE, 2 * LANES);
  }

  /** Lays out regions of at least these sizes, growing memory when needed (never shrinking). */
  reserve(aBytes: number, bBytes: number, zBytes: number): Regions {
    const a = { offset: REGIONS, byteLength: aBytes };
    const b = { offset: align16(a.offset + aBytes), byteLength: bBytes };
    const z = { offset: align16(b.offset + bBytes), byteLength: zBytes };
    const need = z.offset + zBytes;
    const memory = this.#exports.memory;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    this.#regions = { a, b, z };
    // Growing replaces the memory's buffer and detaches views of the old one.
    if (this.#state.buffer !== memory.buffer) this.#state = new Float64Array(memory.buffer, STATE, 2 * LANES);
    return this.#regions;
  }

  /** A view of a region; views must be made anew after reserve(), which may replace the buffer. */
  bytes(region: Region): Uint8Array {
    return new Uint8Array(this.#exports.memory.buffer, region.offset, region.byteLength);
  }

  /**
   * The loss of n paired elements starting `at` elements into regions a and
   * b, with the losses written to region z at the same index unless `out`
   * is 'none'. Returns the block's compensated sum (see kernel.ts).
   */
  blockLoss(at: number, n: number, aType: KernelInput, bType: KernelInput, params: LossParams, out: KernelOutput): number {
    const { memory, lossGroups } = this.#exports;
    this.#state.fill(0);
    const full = Math.floor(n / LANES);
    const huber = params.huber ? 1 : 0;
    const { a, b, z } = this.#regions;
    lossGroups(
      a.offset + at * ITEM[aType],
      INPUT_KIND[aType],
      b.offset + at * ITEM[bType],
      INPUT_KIND[bType],
      full,
      params.delta,
      huber,
      z.offset + at * ITEM[out],
      Z_KIND[out],
      STATE,
    );
    const done = full * LANES;
    if (done < n) {
      // The last partial group, padded with zeros: a zero pair has loss 0, which leaves every lane as it was.
      const { buffer } = memory;
      new Float64Array(buffer, TAIL_A, LANES).fill(0).set(tailValues(buffer, a, aType, at + done, n - done));
      new Float64Array(buffer, TAIL_B, LANES).fill(0).set(tailValues(buffer, b, bType, at + done, n - done));
      lossGroups(TAIL_A, INPUT_KIND.float64, TAIL_B, INPUT_KIND.float64, 1, params.delta, huber, TAIL_Z, Z_KIND.float64, STATE);
      if (out !== 'none') {
        const losses = new Float64Array(buffer, TAIL_Z, n - done);
        const offset = z.offset + (at + done) * ITEM[out];
        (out === 'float32' ? new Float32Array(buffer, offset, n - done) : new Float64Array(buffer, offset, n - done)).set(losses);
      }
    }
    return finishLanes(this.#state);
  }
}
