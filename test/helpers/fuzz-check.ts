/**
 * The fuzz suite's oracle: runs smoothL1Loss on a (mutated) input, bounded
 * in time, watching memory, and judges the outcome. A run passes when it
 * throws a SmoothL1Error with a code other than 'internal' and a one-line
 * message, or when it succeeds with what a reference computes on what the
 * file really holds (helpers/reference.ts's formulas, an exact sum, NumPy's
 * result dtype, written out here again rather than taken from src/).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { smoothL1Loss } from '../../src/pipeline/loss.js';
import type { LossOptions } from '../../src/pipeline/options.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import type { DType, FloatDType } from '../../src/tensor/tensor.js';
import { fsum, lossRef, neumaierSum, roundToDTypeRef } from './reference.js';

/** Codes a bad input may legitimately end with; 'internal' is a bug, 'worker' a crashed thread. */
const INPUT_CODES: ReadonlySet<string> = new Set(['io', 'not-a-tensor', 'bad-header', 'corrupt', 'data-length', 'unsupported', 'shape-mismatch', 'key', 'null']);

/** One run's time limit: far above any input here (milliseconds), far below ava's timeout. */
export const RUN_TIMEOUT_MS = 10_000;
/** More resident memory than this after one run of a few-KB input means something believed a claimed size. */
export const RSS_LIMIT_BYTES = 200 * 1024 * 1024;

export class FuzzFailure extends Error {}

// ---------------------------------------------------------------------------
// The reference loss.

/** NumPy's result_type(a, b, float16): each operand's smallest float, the wider of the two. */
export function resultDTypeRef(a: DType, b: DType): FloatDType {
  const floatOf = (d: DType): FloatDType => {
    if (d === 'float16' || d === 'float32' || d === 'float64') return d;
    if (d === 'bool' || d === 'int8' || d === 'uint8') return 'float16';
    if (d === 'int16' || d === 'uint16') return 'float32';
    return 'float64';
  };
  const rank = { float16: 0, float32: 1, float64: 2 } as const;
  const [x, y] = [floatOf(a), floatOf(b)];
  return rank[x] >= rank[y] ? x : y;
}

/** The float64 sum of non-negative losses as exactly as float64 can hold it: fsum, rescaled where the terms overflow it. */
export function exactSum(losses: Float64Array): number {
  if (losses.some(Number.isNaN)) return NaN;
  if (!losses.every(Number.isFinite)) return neumaierSum(losses);
  const s = fsum(losses);
  if (Number.isFinite(s)) return s;
  return fsum(losses.map((x) => x * 2 ** -64)) * 2 ** 64;
}

export interface LossParams {
  readonly reduction: 'mean' | 'sum' | 'none';
  readonly delta: number;
  readonly huber: boolean;
}

export const elementLosses = (a: Float64Array, b: Float64Array, p: LossParams): Float64Array => a.map((x, i) => lossRef(x, b[i]!, p));

/** The reduced loss, rounded once to `dtype`. */
export function reducedRef(losses: Float64Array, p: LossParams, dtype: FloatDType): number {
  const sum = exactSum(losses);
  return roundToDTypeRef(p.reduction === 'sum' ? sum : sum / losses.length, dtype);
}

const TOLERANCE: Readonly<Record<FloatDType, number>> = { float16: 2e-3, float32: 3e-7, float64: 1e-12 };

/** As test/e2e/determinism.test.ts compares a compensated sum with the exact one. */
export function closeTo(actual: number, expected: number, dtype: FloatDType): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected;
  return Math.abs(actual - expected) <= TOLERANCE[dtype] * Math.abs(expected) + 1e-300;
}

// ---------------------------------------------------------------------------
// Running the library, bounded.

export type RunResult =
  | { readonly ok: true; readonly value: number | undefined; readonly dtype: FloatDType; readonly shape: readonly number[]; readonly ms: number; readonly rss: number }
  | { readonly ok: false; readonly error: unknown; readonly ms: number; readonly rss: number };

/** Calls smoothL1Loss with a time limit, measuring the time and the growth of resident memory (sampled while it runs). */
export async function runLibrary(input: string, label: string, options: Partial<LossOptions>, timeoutMs = RUN_TIMEOUT_MS): Promise<RunResult> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzFailure(`hang: no result after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const summary = await Promise.race([smoothL1Loss(input, label, options), timeout]);
    const rss = Math.max(peak, process.memoryUsage.rss()) - before;
    return { ok: true, value: summary.value, dtype: summary.dtype, shape: summary.shape, ms: performance.now() - started, rss };
  } catch (error) {
    if (error instanceof FuzzFailure) throw error;
    const rss = Math.max(peak, process.memoryUsage.rss()) - before;
    return { ok: false, error, ms: performance.now() - started, rss };
  } finally {
    clearInterval(sampler);
    clearTimeout(timer);
  }
}

/**
 * Messages must be one line with nothing a terminal acts on: no C0 control
 * but tab, no DEL, no C1 control (U+009B is CSI). Found raw in messages by
 * this suite; escaped since 850cac3 and 5e8dbb3.
 */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

/**
 * Why a failed run's error is not an acceptable one (`bad`), or which open
 * finding it shows (`known`: none today, see test/fuzz/README.md); neither
 * when it is fine.
 */
export function judgeError(error: unknown): { bad?: string; known?: string } {
  if (!(error instanceof SmoothL1Error)) {
    const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { bad: `not a SmoothL1Error: ${what}` };
  }
  if (!INPUT_CODES.has(error.code)) return { bad: `code '${error.code}': ${error.message}` };
  if (CONTROL.test(error.message)) return { bad: `a control character in the message (one line, nothing for a terminal to act on): ${JSON.stringify(error.message)}` };
  if (error.message.trim() === '') return { bad: 'empty message' };
  return {};
}

/** Why a failed run's error is not an acceptable one, or undefined when it is (open findings aside). */
export const badError = (error: unknown): string | undefined => judgeError(error).bad;

/** The limits every run must keep, whatever its outcome. */
export function checkBounds(r: RunResult): void {
  if (r.rss > RSS_LIMIT_BYTES) throw new FuzzFailure(`memory: resident set grew by ${(r.rss / 2 ** 20).toFixed(0)} MiB in one run`);
}

// ---------------------------------------------------------------------------
// Inputs through a FIFO, as `smoothl1 <(producer) …` reads them.

/** A FIFO at `path` (made once per test). */
export function makeFifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}

/**
 * Feeds `bytes` into the FIFO at `path` for one run. `settle()`, called once
 * the run is over, unblocks a writer that nobody read from (the run failed
 * before opening the FIFO) and waits for it to finish.
 */
export function feedFifo(path: string, bytes: Uint8Array): { settle(): Promise<void> } {
  let finished = false;
  const writing = (async () => {
    const handle = await open(path, 'w');
    try {
      await handle.writeFile(bytes);
    } catch {
      // EPIPE: the reader stopped early; what it read is its business.
    } finally {
      await handle.close();
      finished = true;
    }
  })();
  return {
    async settle() {
      if (!finished) {
        // A reading end, opened without waiting for a writer, lets a writer still blocked in open() go on;
        // what it writes fits in the pipe's buffer (inputs fed this way stay under FIFO_MAX_BYTES).
        const reader = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
        try {
          await writing.catch(() => undefined);
        } finally {
          await reader.close();
        }
      }
      await writing.catch(() => undefined);
    },
  };
}

/**
 * Whether anything in the system has the FIFO at `path` open for reading:
 * opening it to write without waiting succeeds only then (else ENXIO).
 */
export function fifoHasReader(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENXIO') return false;
    throw err;
  }
}

/** Larger inputs are not fed through a FIFO: a writer nobody reads from must not block on a full pipe. */
export const FIFO_MAX_BYTES = 60_000;

// ---------------------------------------------------------------------------
// Findings.

/** Keeps a failing input where a person can find it (the test's temp dir is removed), and says where. */
export function saveFailure(name: string, bytes: Uint8Array): string {
  const dir = join(tmpdir(), 'smoothl1-fuzz-failures');
  mkdirSync(dir, { recursive: true });
  // Named by content: shrinking fails many times on few inputs.
  const hash = createHash('sha1').update(bytes).digest('hex').slice(0, 12);
  const dot = name.lastIndexOf('.');
  const path = join(dir, dot < 0 ? `${name}-${hash}` : `${name.slice(0, dot)}-${hash}${name.slice(dot)}`);
  writeFileSync(path, bytes);
  return path;
}

/**
 * Records the case about to run (as fast-check prints it) in a file named
 * for `name` and this process, so that a run which kills the process (out
 * of memory, a native crash) leaves its input behind, which fast-check
 * cannot report; `clearCurrent` removes it once the property is done.
 */
export function recordCurrent(name: string, text: string): void {
  const dir = join(tmpdir(), 'smoothl1-fuzz-failures');
  mkdirSync(dir, { recursive: true });
  // SMOOTHL1_FUZZ_TRAIL=N keeps the last N cases, for faults that follow from an earlier run.
  const trail = Number(process.env['SMOOTHL1_FUZZ_TRAIL'] ?? 0);
  if (trail > 0) {
    const list = (trails.get(name) ?? []).concat(text).slice(-trail);
    trails.set(name, list);
    writeFileSync(currentPath(name), list.join('\n'));
  } else {
    writeFileSync(currentPath(name), text);
  }
}

const trails = new Map<string, string[]>();

const currentPath = (name: string): string => join(tmpdir(), 'smoothl1-fuzz-failures', `current-${name}-${process.pid}.txt`);

export const clearCurrent = (name: string): void => rmSync(currentPath(name), { force: true });
