/**
 * Runs one fuzz input through the library and judges the outcome (see
 * fuzz-check.ts): the mutated file on disk or through a FIFO, paired with a
 * valid partner (.npy, Arrow file or stream) or with itself (two columns of
 * one Arrow file), under the case's options.
 */
import * as fc from 'fast-check';
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LossOptions } from '../../src/pipeline/options.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import type { DType, FloatDType } from '../../src/tensor/tensor.js';
import { elementBytes } from './fuzz-bytes.js';
import {
  judgeError,
  checkBounds,
  closeTo,
  elementLosses,
  feedFifo,
  fifoHasReader,
  FIFO_MAX_BYTES,
  FuzzFailure,
  makeFifo,
  reducedRef,
  resultDTypeRef,
  runLibrary,
  type LossParams,
} from './fuzz-check.js';
import { readArrowRef } from './fuzz-arrow.js';
import { decode, readNpyRef } from './fuzz-npy.js';
import { npyBytes } from './make-npy.js';
import { npyToArrow } from './npy-to-arrow.js';
import { DTYPES, roundToDTypeRef } from './reference.js';

/** What a reference reader says one side of a run holds. */
export type RefVerdict =
  | { readonly ok: true; readonly dtype: DType; readonly shape: readonly number[]; readonly values: Float64Array; readonly hasNull?: boolean; readonly note?: string }
  | { readonly ok: false; readonly why: string }
  /**
   * An open finding (none today; see test/fuzz/README.md) makes any result
   * possible for this input: the run is tallied under `note`, not judged.
   */
  | { readonly ok: 'known'; readonly note: string };

/** One reading of an input by a reference, computed only when needed (the run succeeded, and earlier readings did not explain it). */
export type RefThunk = () => RefVerdict | Promise<RefVerdict>;

/** One input of a run: its path and the reference readings to try, in order. */
export interface Side {
  readonly path: string;
  readonly refs: readonly RefThunk[];
}

/** Readings already made, as thunks. */
export const readings = (verdicts: readonly RefVerdict[]): RefThunk[] => verdicts.map((v) => () => v);

/** Evaluates thunks on first use, once. */
class Lazy {
  readonly #thunks: readonly RefThunk[];
  readonly #done: RefVerdict[] = [];

  constructor(thunks: readonly RefThunk[]) {
    this.#thunks = thunks;
  }

  async at(i: number): Promise<RefVerdict | undefined> {
    while (this.#done.length <= i && this.#done.length < this.#thunks.length) this.#done.push(await this.#thunks[this.#done.length]!());
    return this.#done[i];
  }

  async all(): Promise<RefVerdict[]> {
    await this.at(this.#thunks.length - 1);
    return this.#done;
  }
}

export interface PartnerSpec {
  readonly dtype: DType;
  readonly seed: number;
  readonly format: 'npy' | 'arrow' | 'arrows';
}

export interface RunConfig {
  readonly reduction: 'mean' | 'sum' | 'none';
  readonly delta: number;
  readonly huber: boolean;
  /** Feed the mutated input through a FIFO (read as a stream, as stdin is). */
  readonly fifo: boolean;
  /** The mutated file is INPUT (else LABEL). */
  readonly mutatedFirst: boolean;
  readonly partner: PartnerSpec;
  /** The format of the loss tensor written for reduction 'none'. */
  readonly outFormat: 'npy' | 'arrow' | 'arrows';
}

export const partnerArb: fc.Arbitrary<PartnerSpec> = fc.record({
  dtype: fc.constantFrom(...DTYPES),
  seed: fc.integer(),
  format: fc.constantFrom<PartnerSpec['format']>('npy', 'npy', 'npy', 'npy', 'arrow', 'arrows'),
});

export const runConfigArb: fc.Arbitrary<RunConfig> = fc.record({
  reduction: fc.constantFrom<RunConfig['reduction']>('mean', 'mean', 'mean', 'sum', 'sum', 'none'),
  delta: fc.constantFrom(1, 1, 0.5, 2, 1e-3, 300),
  huber: fc.boolean(),
  fifo: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  mutatedFirst: fc.boolean(),
  partner: partnerArb,
  outFormat: fc.constantFrom<RunConfig['outFormat']>('npy', 'npy', 'arrow', 'arrows'),
});

/** Where one test's runs put their files; one set of names, rewritten by each run. */
export class FuzzDir {
  readonly dir: string;
  #fifos = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /**
   * A new FIFO for one run, the previous one removed: should a run leave a
   * reader open (a failure, see runAgainstPartner), it stays on the old one
   * and cannot take the next run's input.
   */
  freshFifo(): string {
    if (this.#fifos > 0) rmSync(this.path(`fifo-${this.#fifos}`), { force: true });
    return makeFifo(this.path(`fifo-${++this.#fifos}`));
  }
}

const count = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

/** A valid partner of `shape`, written in its format, and what it holds. */
export function writePartner(dir: FuzzDir, spec: PartnerSpec, shape: readonly number[]): Side {
  const data = elementBytes(spec.dtype, count(shape), spec.seed);
  const npyPath = dir.path('partner.npy');
  writeFileSync(npyPath, npyBytes(spec.dtype, shape, data));
  const values = decode(data, spec.dtype, false, shape, false);
  const refs = readings([{ ok: true, dtype: spec.dtype, shape, values }]);
  // Arrow holds rows; a zero-width shape may claim billions of them, which apache-arrow would write one by one.
  if (spec.format === 'npy' || shape.length === 0 || (shape[0] ?? 0) > 1 << 14) return { path: npyPath, refs };
  const arrowPath = dir.path(spec.format === 'arrow' ? 'partner.arrow' : 'partner.arrows');
  writeFileSync(arrowPath, npyToArrow(npyPath, spec.format === 'arrow' ? 'file' : 'stream')!);
  return { path: arrowPath, refs };
}

/** The mutated input as a side: on disk (or in the FIFO, fed by `run`), judged by `refs` of its bytes. */
export interface MutatedInput {
  readonly bytes: Uint8Array;
  readonly refs: readonly RefThunk[];
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Why `ref` pair does not explain the successful run, or undefined if it does. */
function mismatch(
  got: { value: number | undefined; dtype: FloatDType; shape: readonly number[] },
  a: RefVerdict,
  b: RefVerdict,
  params: LossParams,
  output: string | undefined,
): string | undefined {
  if (a.ok === 'known' || b.ok === 'known') return undefined;
  if (!a.ok) return `input refused by the reference: ${a.why}`;
  if (!b.ok) return `label refused by the reference: ${b.why}`;
  if (a.hasNull === true || b.hasNull === true) return 'accepted a column with nulls';
  if (!sameShape(a.shape, b.shape) && count(a.shape) !== count(b.shape)) return `reference shapes differ: ${a.shape} vs ${b.shape}`;
  if (!sameShape(got.shape, a.shape)) return `shape ${JSON.stringify(got.shape)}, reference ${JSON.stringify(a.shape)}`;
  const dtype = resultDTypeRef(a.dtype, b.dtype);
  if (got.dtype !== dtype) return `dtype ${got.dtype}, reference ${dtype} (${a.dtype} with ${b.dtype})`;
  const losses = elementLosses(a.values, b.values, params);
  if (output !== undefined) {
    const bytes = readFileSync(output);
    const written = output.endsWith('.npy') ? readNpyRef(bytes) : readArrowRef(bytes, 'loss');
    if (!written.ok) return `output ${output} unreadable: ${written.why}`;
    if (!sameShape(written.ref.shape, a.shape)) return `output shape ${JSON.stringify(written.ref.shape)}`;
    if (written.ref.dtype !== dtype) return `output dtype ${written.ref.dtype}, reference ${dtype}`;
    const bad = losses.findIndex((z, i) => {
      const w = written.ref.values[i]!;
      const want = roundToDTypeRef(z, dtype);
      return !(Object.is(w, want) || (Number.isNaN(w) && Number.isNaN(want)));
    });
    if (bad >= 0) return `output element ${bad} is ${written.ref.values[bad]}, reference ${roundToDTypeRef(losses[bad]!, dtype)}`;
    return undefined;
  }
  const want = reducedRef(losses, params, dtype);
  if (got.value === undefined || !closeTo(got.value, want, dtype)) return `value ${got.value}, reference ${want} (${dtype})`;
  return undefined;
}

export interface Judged {
  /** How the run ended, for the tally: 'ok', 'ok:<note>' or 'reject:<code>'. */
  readonly outcome: string;
  readonly ms: number;
}

/**
 * Runs input against label and judges the outcome; throws FuzzFailure
 * (with the details) when it is not acceptable.
 */
export async function judge(input: Side, label: Side, options: Partial<LossOptions>, params: LossParams, describe: () => string): Promise<Judged> {
  const r = await runLibrary(input.path, label.path, { ...options, reduction: params.reduction, delta: params.delta, huber: params.huber });
  const fail = (why: string): never => {
    throw new FuzzFailure(`${why}\n${describe()}`);
  };
  try {
    checkBounds(r);
  } catch (err) {
    if (err instanceof FuzzFailure) fail(err.message);
    throw err;
  }
  if (!r.ok) {
    const { bad, known } = judgeError(r.error);
    if (bad !== undefined) {
      const stack = r.error instanceof Error && !(r.error instanceof SmoothL1Error) ? `\n${r.error.stack ?? ''}` : '';
      fail(`${bad}${stack}`);
    }
    const code = `reject:${(r.error as SmoothL1Error).code}`;
    return { outcome: known === undefined ? code : `${code}:${known}|${JSON.stringify((r.error as SmoothL1Error).message)}`, ms: r.ms };
  }
  const tried: string[] = [];
  const inputs = new Lazy(input.refs);
  const labels = new Lazy(label.refs);
  for (let i = 0, a: RefVerdict | undefined; (a = await inputs.at(i)) !== undefined; i++) {
    for (let j = 0, b: RefVerdict | undefined; (b = await labels.at(j)) !== undefined; j++) {
      const why = mismatch(r, a, b, params, options.output);
      if (why === undefined) {
        const note = [a, b].map((v) => (v.ok !== false ? v.note : undefined)).find((n) => n !== undefined);
        return { outcome: note === undefined ? 'ok' : `ok:${note}`, ms: r.ms };
      }
      tried.push(why);
    }
  }
  const [inputRefs, labelRefs] = [await inputs.all(), await labels.all()];
  // An empty result needs no data: when no reference can read the file at all (metadata they
  // choke on but which holds no elements), its loss is still known, and only its shape is unverified.
  // A tensor of no elements whose rows only its metadata claims (FixedSizeList[0] rows, say) can also differ in shape
  // from what a reference counts: its loss is the same, and the memory and time it took are checked above.
  const empty = count(r.shape) === 0 && (params.reduction === 'none' || Object.is(r.value, params.reduction === 'sum' ? 0 : NaN));
  const readable = [...inputRefs, ...labelRefs].filter((v): v is Extract<RefVerdict, { ok: true }> => v.ok === true);
  if (empty && readable.every((v) => count(v.shape) === 0)) {
    const kind = readable.length === 0 ? 'empty-unverified' : 'empty-shape-differs';
    return { outcome: `ok:${kind}|${tried[0] ?? ''}`, ms: r.ms };
  }
  return fail(`accepted, but unlike the reference: ${tried.join('; ')}`);
}

/** Options for a run, by how it should execute. */
export function execOptions(pool: boolean, dir: FuzzDir, cfg: Pick<RunConfig, 'reduction' | 'outFormat'>): Partial<LossOptions> {
  const base: Partial<LossOptions> = pool ? { threads: 2, poolMinElements: 0, chunkElements: 4096 } : { threads: 1 };
  return cfg.reduction === 'none' ? { ...base, output: dir.path(`loss.${cfg.outFormat}`) } : base;
}

/**
 * Runs a mutated input (written to disk, or fed through the FIFO) against a
 * valid partner of `partnerShape` and judges it.
 */
export async function runAgainstPartner(
  dir: FuzzDir,
  mutated: MutatedInput,
  name: string,
  cfg: RunConfig,
  partnerShape: readonly number[],
  pool: boolean,
  describe: () => string,
  extra: Partial<LossOptions> = {},
): Promise<Judged> {
  const partner = writePartner(dir, cfg.partner, partnerShape);
  const viaFifo = cfg.fifo && mutated.bytes.length <= FIFO_MAX_BYTES;
  const path = viaFifo ? dir.freshFifo() : dir.path(name);
  if (!viaFifo) writeFileSync(path, mutated.bytes);
  const side: Side = { path, refs: mutated.refs };
  const feeding = viaFifo ? feedFifo(path, mutated.bytes) : undefined;
  const [input, label] = cfg.mutatedFirst ? [side, partner] : [partner, side];
  const params = { reduction: cfg.reduction, delta: cfg.delta, huber: cfg.huber };
  try {
    const judged = await judge(input, label, { ...execOptions(pool, dir, cfg), ...extra }, params, describe);
    if (viaFifo) {
      // Every run must close what it opened.
      await feeding?.settle();
      // The reading end may close a moment after the promise settles (a stream closes on its 'end'): give it a second.
      for (let waited = 0; waited < 1000 && fifoHasReader(path); waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
      if (fifoHasReader(path)) throw new FuzzFailure(`smoothL1Loss returned (${judged.outcome}) with the FIFO still open for reading (${whoHas(path)})\n${describe()}`);
    }
    if (!viaFifo) return judged;
    const [head = '', ...detail] = judged.outcome.split('|');
    return { ...judged, outcome: [`${head} (fifo)`, ...detail].join('|') };
  } finally {
    await feeding?.settle();
  }
}

/** Which processes have `path` open, from /proc: for a FIFO left open. */
function whoHas(path: string): string {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === path) found.push(`pid ${pid}${pid === String(process.pid) ? ' (this process)' : ''} fd ${fd}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120)}`);
        } catch {
          // gone, or not ours to read
        }
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found.join('; ') || 'no process has it open';
}
