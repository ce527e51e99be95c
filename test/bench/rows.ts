import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Dataset, DatasetId } from './datasets.js';
import type { Command } from './measure.js';
import { BIN, EXE, OUTPUT_DIR } from './paths.js';
import { numpyEnv, PYTHON } from './python.js';

/** Issue 6's goals for a row; each is checked against numbers measured in the same run. */
export interface Targets {
  /** Median wall time at most this many times the floor row's. */
  readonly maxFloorRatio?: number;
  /** At least this many times faster than the NumPy row. */
  readonly minNumpySpeedup?: number;
  readonly maxRssMiB?: number;
  /** Seconds per input byte at most this many times the baseline row's. */
  readonly maxBaselineRatio?: number;
  /** Peak RSS the same (within FLAT_RSS_MIB) at every size measured. */
  readonly flatRss?: boolean;
  /**
   * With flatRss: the row whose peaks across sizes this row's peak is judged
   * with, as one more size (a row of another table, e.g. the sparse pair
   * larger than RAM against `mean-t2` at 1 GiB).
   */
  readonly flatRssWith?: string;
  /**
   * The wall-time targets (floor, NumPy and per byte) hold from inputs of
   * this many elements on: issue 6 sets them for 1 GiB float32 files. Smaller
   * inputs show their ratios without a verdict: at 64 MiB, Node's start-up
   * alone is three times `cat`, and a fixed cost makes a float16 pair, half
   * the bytes for the same elements, look up to twice as slow per byte.
   */
  readonly fromElements?: number;
}

/** What a row's command is built from. */
export interface RowContext {
  readonly data: Dataset;
  readonly delta: number;
  /** A path in bench-data/out/ for rows that write a file; removed after each run. */
  readonly output: string;
}

export type CheckKind = 'mean' | 'sum' | 'none';

export interface Row {
  /** Unique; --rows matches substrings of it. */
  readonly id: string;
  readonly label: string;
  readonly dataset: DatasetId;
  /** smoothl1 rows are the ones under test: a failure or mismatch fails the bench. */
  readonly kind: 'smoothl1' | 'anchor' | 'numpy';
  readonly command: (context: RowContext) => Command;
  /** How the result is compared with the NumPy reference; absent for rows with nothing to check. */
  readonly check?: CheckKind;
  /** Row ids, in the same size's table, that this row is compared with. */
  readonly floor?: string;
  readonly numpy?: string;
  readonly baseline?: string;
  readonly targets?: Targets;
  readonly writesOutput?: boolean;
  /** Why the row cannot run here (e.g. an executable not built yet), or undefined. */
  readonly requires?: (data: Dataset) => string | undefined;
}

type RowExtras = Omit<Row, 'id' | 'label' | 'dataset' | 'kind' | 'command'>;

/** The positional arguments every command gets: $1 INPUT, $2 LABEL, $3 DELTA, $4 OUT. */
const positional = (c: RowContext): string[] => [c.data.input, c.data.label, String(c.delta), c.output];

const smoothl1 =
  (...flags: string[]) =>
  (c: RowContext): Command => ({ argv: [process.execPath, BIN, c.data.input, c.data.label, ...outputFlags(flags, c)] });

const executable =
  (...flags: string[]) =>
  (c: RowContext): Command => ({ argv: [EXE, c.data.input, c.data.label, ...outputFlags(flags, c)] });

/** "OUT" in a flag list stands for the row's output path. */
const outputFlags = (flags: readonly string[], c: RowContext): string[] => flags.map((f) => (f === 'OUT' ? c.output : f));

const shell =
  (script: string) =>
  (c: RowContext): Command => ({ argv: ['sh', '-c', script, 'sh', ...positional(c)] });

const python =
  (script: string) =>
  (c: RowContext): Command => ({ argv: [PYTHON, '-c', script, ...positional(c)], env: numpyEnv() });

const CAT = 'cat "$1" "$2" > /dev/null';
const NONE_FLOOR = 'cat "$2" > /dev/null && cp "$1" "$4"';
/** What a user would write: whole arrays, z in float64 (the conformance rule), np.where. */
const NUMPY_LOSS =
  'import sys, numpy as np; x = np.load(sys.argv[1]); y = np.load(sys.argv[2]); D = float(sys.argv[3]); ' +
  'd = x.astype(np.float64) - y.astype(np.float64); a = np.abs(d); z = np.where(a < D, 0.5*d*d, D*(a - 0.5*D)); ';
const NUMPY_MEAN = `${NUMPY_LOSS}print(float(z.mean()))`;
const NUMPY_NONE = `${NUMPY_LOSS}np.save(sys.argv[4], z.astype(np.result_type(x.dtype, y.dtype, np.float16)))`;

/**
 * Bytes of RAM per element the NumPy one-liner peaks at: x and y, then d,
 * |d|, the mask, both branches and z in float64 alive at once inside np.where
 * (measured 51 with the 64 MiB pair here), with margin. Rows that would not
 * fit are skipped rather than left to the OOM killer on a shared machine.
 */
const NUMPY_BYTES_PER_ELEMENT = 56;

function memAvailableBytes(): number {
  const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return match === null ? Infinity : Number(match[1]) * 1024;
}

function numpyFits(data: Dataset): string | undefined {
  const need = data.elements * NUMPY_BYTES_PER_ELEMENT;
  const have = memAvailableBytes() * 0.8;
  return need <= have ? undefined : `NumPy would need ~${(need / 2 ** 30).toFixed(0)} GiB RAM, ${(have / 2 ** 30).toFixed(0)} GiB free`;
}

const exeBuilt = (): string | undefined => (existsSync(EXE) ? undefined : 'dist/smoothl1-linux-x64 not built (issue 5: npm run build:bin)');

const tool = (id: string, dataset: DatasetId, label: string, command: Row['command'], extra: RowExtras = {}): Row => ({ id, label, dataset, kind: 'smoothl1', command, ...extra });
const anchor = (id: string, dataset: DatasetId, label: string, command: Row['command'], extra: RowExtras = {}): Row => ({ id, label, dataset, kind: 'anchor', command, ...extra });
const numpy = (id: string, dataset: DatasetId, label: string, script: string, extra: RowExtras = {}): Row => ({ id, label, dataset, kind: 'numpy', command: python(script), requires: numpyFits, ...extra });

// Issue 6's numbers; issue 4 adds the Arrow one.
/** Elements in each file of issue 6's pair: 1 GiB of float32. */
const ISSUE_ELEMENTS = 2 ** 28;
const MEAN_TARGETS: Targets = { maxFloorRatio: 1.6, minNumpySpeedup: 15, maxRssMiB: 96, flatRss: true, fromElements: ISSUE_ELEMENTS };
const NONE_TARGETS: Targets = { maxFloorRatio: 1.5, minNumpySpeedup: 5, fromElements: ISSUE_ELEMENTS };
const DTYPE_TARGETS: Targets = { maxBaselineRatio: 2, fromElements: ISSUE_ELEMENTS };
const ARROW_TARGETS: Targets = { maxBaselineRatio: 1.25, flatRss: true };
const STARTUP_TARGETS: Targets = { maxFloorRatio: 2 };
/** Issue 12: larger than RAM, memory as flat as at 1 GiB (issue 6's 96 MiB, and within FLAT_RSS_MIB of mean-t2). */
const HUGE_TARGETS: Targets = { maxRssMiB: 96, flatRss: true, flatRssWith: 'mean-t2' };

/** Compared as one: a dtype row against its own cat and NumPy, and per byte against float32. */
const perDtype = (dataset: DatasetId, what: string): Row[] => [
  anchor(`${dataset}-cat`, dataset, `cat, ${what}`, shell(CAT)),
  numpy(`${dataset}-numpy-mean`, dataset, `NumPy one-liner mean, ${what}`, NUMPY_MEAN, { check: 'mean' }),
  tool(`${dataset}-mean`, dataset, `smoothl1 mean, ${what}`, smoothl1(), { check: 'mean', floor: `${dataset}-cat`, numpy: `${dataset}-numpy-mean`, baseline: 'mean-t2', targets: DTYPE_TARGETS }),
];

const THREADS = availableParallelism();
const vsF32 = { check: 'mean', floor: 'cat', numpy: 'numpy-mean', baseline: 'mean-t2' } as const;

/**
 * Every row of the benchmark, in the order they are run and printed. A new
 * input format or build is one more line here (plus a dataset in datasets.ts).
 */
export const ROWS: readonly Row[] = [
  // float32 1 GiB pairs are what issue 6's targets are stated for.
  anchor('cat', 'f32', '`cat INPUT LABEL > /dev/null`', shell(CAT)),
  numpy('numpy-mean', 'f32', 'NumPy one-liner, mean', NUMPY_MEAN, { check: 'mean' }),
  tool('mean-t1', 'f32', 'smoothl1 mean --threads 1', smoothl1('--threads', '1'), { check: 'mean', floor: 'cat', numpy: 'numpy-mean' }),
  tool('mean-t2', 'f32', 'smoothl1 mean --threads 2', smoothl1('--threads', '2'), { check: 'mean', floor: 'cat', numpy: 'numpy-mean', targets: MEAN_TARGETS }),
  tool('sum', 'f32', `smoothl1 sum (default: ${THREADS} threads)`, smoothl1('-r', 'sum'), { check: 'sum', floor: 'cat', numpy: 'numpy-mean', targets: MEAN_TARGETS }),
  anchor('none-floor', 'f32', '`cat LABEL > /dev/null && cp INPUT OUT`', shell(NONE_FLOOR), { writesOutput: true }),
  numpy('numpy-none', 'f32', 'NumPy one-liner, none + np.save', NUMPY_NONE, { writesOutput: true }),
  tool('none', 'f32', 'smoothl1 none -o OUT.npy', smoothl1('-r', 'none', '-o', 'OUT'), { check: 'none', floor: 'none-floor', numpy: 'numpy-none', targets: NONE_TARGETS, writesOutput: true }),
  // Other dtypes, same element count: throughput per byte next to float32's (issue 6).
  ...perDtype('f64', 'float64'),
  ...perDtype('f16', 'float16'),
  ...perDtype('mixed', 'float32 input, float64 label'),
  // Arrow inputs (issue 4): data from the ARROW HOOK in datasets.ts.
  tool('arrow-file-mean', 'arrow-file', 'smoothl1 mean, Arrow IPC files', smoothl1(), { ...vsF32, targets: ARROW_TARGETS }),
  tool('arrow-stream-mean', 'arrow-stream', 'smoothl1 mean, Arrow IPC streams', smoothl1(), { ...vsF32, targets: ARROW_TARGETS }),
  // The standalone executable (issue 5), once `npm run build:bin` has made it.
  tool('exe-mean', 'f32', 'dist/smoothl1-linux-x64 mean', executable(), { ...vsF32, requires: exeBuilt }),
  // Start-up on the bundled example (issue 6: within 2× of `node -e 0`).
  anchor('startup-node', 'example', '`node -e 0`', () => ({ argv: [process.execPath, '-e', '0'] })),
  tool('startup', 'example', `smoothl1 mean (default: ${THREADS} threads)`, smoothl1(), { check: 'mean', floor: 'startup-node', targets: STARTUP_TARGETS }),
  tool('startup-t1', 'example', 'smoothl1 mean --threads 1', smoothl1('--threads', '1'), { check: 'mean', floor: 'startup-node', targets: STARTUP_TARGETS }),
  tool('startup-exe', 'example', 'dist/smoothl1-linux-x64 mean', executable(), { check: 'mean', floor: 'startup-node', baseline: 'startup', requires: exeBuilt }),
  // Larger than RAM (issue 12), only with --huge: a sparse float32 pair, cold (it cannot stay cached).
  anchor('huge-cat', 'huge', '`cat INPUT LABEL > /dev/null`, sparse pair, cold', shell(CAT)),
  tool('huge-mean', 'huge', `smoothl1 mean, sparse pair larger than RAM, cold (default: ${THREADS} threads)`, smoothl1(), { check: 'mean', floor: 'huge-cat', targets: HUGE_TARGETS }),
];

/** Rows of the --huge table: they run only when asked for. */
export const isHuge = (row: Row): boolean => row.dataset === 'huge';

/** The output path a writing row uses; inside bench-data/ so nothing lands elsewhere. */
export const outputPath = (row: Row): string => `${OUTPUT_DIR}${row.id}.npy`;

const dependencies = (row: Row): string[] => [row.floor, row.numpy, row.baseline].filter((id): id is string => id !== undefined);

/**
 * The rows a run needs: those whose id contains a filter (all when none),
 * plus the anchors and baselines they are compared with, in ROWS order.
 */
export function selectRows(filters: readonly string[], withNumpy: boolean): Row[] {
  const picked = ROWS.filter((row) => filters.length === 0 || filters.some((f) => row.id.includes(f)));
  const wanted = new Set(picked.flatMap((row) => [row.id, ...dependencies(row)]));
  return ROWS.filter((row) => wanted.has(row.id) && (withNumpy || row.kind !== 'numpy'));
}
