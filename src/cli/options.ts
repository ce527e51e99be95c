import { usageError, type SmoothL1Error } from '../tensor/errors.js';
import type { LossOptions } from '../pipeline/options.js';
import type { Reduction } from '../compute/reduce.js';
import type { TensorFormat } from '../tensor/tensor.js';
import { isWriterName, WRITER_NAMES } from '../formats/index.js';

/** Flag values as commander hands them over, before any meaning is given to them. */
export interface RawOptions {
  readonly reduction: string;
  readonly delta: string;
  readonly huber: boolean;
  readonly output?: string | undefined;
  readonly threads?: string | undefined;
  readonly failAbove?: string | undefined;
  readonly format?: string | undefined;
  readonly inputColumn?: string | undefined;
  readonly labelColumn?: string | undefined;
  /** SMOOTHL1_CHUNK_ELEMENTS: a hidden knob for tests that vary the chunk size. */
  readonly chunkElements?: string | undefined;
  /** SMOOTHL1_POOL_MIN_ELEMENTS: a hidden knob for tests that run the pool on small inputs. */
  readonly poolMinElements?: string | undefined;
}

const REDUCTIONS: readonly Reduction[] = ['none', 'mean', 'sum'];

const usage = (reason: string): SmoothL1Error => usageError(reason);

function parseReduction(text: string): Reduction {
  const found = REDUCTIONS.find((r) => r === text);
  if (found === undefined) throw usage(`--reduction must be none, mean or sum, got '${text}'`);
  return found;
}

/** A decimal number as Python's float() reads it, surrounding blanks allowed; no hex, no empty text. */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

function parseDelta(text: string): number {
  const value = DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value)) throw usage(`--delta must be a finite number > 0, got '${text}'`);
  if (value <= 0) throw usage(`--delta must be > 0, got '${text}'`);
  return value;
}

/** 'a, b or c'. */
const orList = (names: readonly string[]): string =>
  names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1) ?? ''}`;

function parseFormat(text: string): TensorFormat {
  if (!isWriterName(text)) throw usage(`--format must be ${orList(WRITER_NAMES)}, got '${text}'`);
  return text;
}

function parsePositiveInt(flag: string, text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < 1) throw usage(`${flag} must be a positive integer, got '${text}'`);
  return value;
}

function parseNonNegativeInt(flag: string, text: string): number {
  return text === '0' ? 0 : parsePositiveInt(flag, text);
}

/** Validated options; `defaults` supplies what the flags leave out. No I/O. */
export function parseOptions(raw: RawOptions, defaults: LossOptions): LossOptions {
  const reduction = parseReduction(raw.reduction);
  if (reduction === 'none' && raw.output === undefined) {
    throw usage("--reduction none writes a tensor: give --output PATH (or --output - for stdout)");
  }
  if (raw.format !== undefined && raw.output === undefined) throw usage('--format chooses the format of --output, and there is none: give --output PATH too, or drop --format');
  return {
    reduction,
    delta: parseDelta(raw.delta),
    huber: raw.huber,
    output: raw.output,
    threads: raw.threads === undefined ? defaults.threads : parsePositiveInt('--threads', raw.threads),
    chunkElements:
      raw.chunkElements === undefined ? defaults.chunkElements : parsePositiveInt('SMOOTHL1_CHUNK_ELEMENTS', raw.chunkElements),
    poolMinElements:
      raw.poolMinElements === undefined ? defaults.poolMinElements : parseNonNegativeInt('SMOOTHL1_POOL_MIN_ELEMENTS', raw.poolMinElements),
    reorderLimitBytes: defaults.reorderLimitBytes,
    format: raw.format === undefined ? undefined : parseFormat(raw.format),
    inputColumn: raw.inputColumn,
    labelColumn: raw.labelColumn,
  };
}

/** --fail-above: the largest loss that passes a CI gate; undefined when not gating. */
export function parseFailAbove(raw: RawOptions): number | undefined {
  if (raw.failAbove === undefined) return undefined;
  const value = DECIMAL.test(raw.failAbove) ? Number(raw.failAbove) : NaN;
  if (!Number.isFinite(value)) throw usage(`--fail-above must be a finite number, got '${raw.failAbove}'`);
  if (raw.reduction === 'none') throw usage('--fail-above needs a scalar loss: use --reduction mean or sum');
  return value;
}
