import { existsSync, mkdirSync } from 'node:fs';
import type { Reference } from './check.js';
import { BENCH_DATA, EXAMPLE_INPUT, EXAMPLE_LABEL } from './paths.js';
import { npyToArrowFile } from './npy-to-arrow.js';
import { runNumpyTool } from './python.js';
import { ensureSparsePair, sparseReference } from './sparse.js';

export type DatasetId = 'f32' | 'f64' | 'f16' | 'mixed' | 'arrow-file' | 'arrow-stream' | 'example' | 'huge';

export interface Pair {
  readonly input: string;
  readonly label: string;
}

/** An INPUT/LABEL pair that rows run on, and how to get it. */
export interface Dataset extends Pair {
  readonly id: DatasetId;
  /** Tensor elements per file. */
  readonly elements: number;
  /**
   * Creates the files; undefined when nothing here can (the rows are then
   * skipped). May instead return why the files cannot be made here.
   */
  readonly make: (() => Promise<string | void>) | undefined;
  /** Why the rows are skipped when the files are missing and make is undefined. */
  readonly missing: string;
  /** .npy files with the same numbers, from which the reference result is computed. */
  readonly reference: Pair;
  /** The exact result when it is known by construction: NumPy then never reads the files. */
  readonly knownReference?: Reference;
  /** false: runs are cold, not preceded by a `cat` of both files (inputs larger than RAM cannot stay cached). */
  readonly warm?: boolean;
}

type NpyDtype = 'f2' | 'f4' | 'f8';

/** 2^24 → "16Mi": file names count elements, so f2, f4 and f8 pairs of one size line up. */
function elementsLabel(elements: number): string {
  const units: readonly [number, string][] = [[2 ** 30, 'Gi'], [2 ** 20, 'Mi'], [2 ** 10, 'Ki']];
  const unit = units.find(([size]) => elements % size === 0);
  return unit === undefined ? String(elements) : `${elements / unit[0]}${unit[1]}`;
}

function npyPair(dtype: NpyDtype, elements: number): Pair {
  const stem = `${BENCH_DATA}${dtype}-${elementsLabel(elements)}`;
  return { input: `${stem}-input.npy`, label: `${stem}-label.npy` };
}

export const pairExists = (pair: Pair): boolean => existsSync(pair.input) && existsSync(pair.label);

/** Generated once with NumPy (numpy_tool.py), reused while both files exist. */
async function ensureNpyPair(dtype: NpyDtype, elements: number): Promise<void> {
  const pair = npyPair(dtype, elements);
  if (pairExists(pair)) return;
  mkdirSync(BENCH_DATA, { recursive: true });
  process.stderr.write(`bench: generating ${pair.input} and its label with NumPy...\n`);
  await runNumpyTool(['generate', dtype, String(elements), pair.input, pair.label]);
}

function npyDataset(id: DatasetId, dtype: NpyDtype, elements: number): Dataset {
  const pair = npyPair(dtype, elements);
  return { id, ...pair, elements, make: () => ensureNpyPair(dtype, elements), missing: '', reference: pair };
}

/** float32 predictions against float64 labels: reuses the f4 input and the f8 label. */
function mixedDataset(elements: number): Dataset {
  const pair = { input: npyPair('f4', elements).input, label: npyPair('f8', elements).label };
  const make = async (): Promise<void> => {
    await ensureNpyPair('f4', elements);
    await ensureNpyPair('f8', elements);
  };
  return { id: 'mixed', ...pair, elements, make, missing: '', reference: pair };
}

/**
 * The Arrow rows run on bench-data/f4-<n>-{input,label}.arrow (IPC file) and
 * .arrows (IPC stream), each one Float32 column holding the same values as
 * the f4 .npy pair, so the .npy reference applies. They are converted from
 * the .npy pair batch by batch, never a whole table in memory.
 */
const makeArrowPair = async (source: Pair, target: Pair, kind: 'file' | 'stream'): Promise<void> => {
  await npyToArrowFile(source.input, target.input, kind);
  await npyToArrowFile(source.label, target.label, kind);
};

function arrowDataset(id: 'arrow-file' | 'arrow-stream', elements: number): Dataset {
  const source = npyPair('f4', elements);
  const ext = id === 'arrow-file' ? 'arrow' : 'arrows';
  const pair = { input: source.input.replace(/\.npy$/, `.${ext}`), label: source.label.replace(/\.npy$/, `.${ext}`) };
  const kind = id === 'arrow-file' ? 'file' : 'stream';
  const make = async (): Promise<void> => {
    await ensureNpyPair('f4', elements);
    if (!pairExists(pair)) await makeArrowPair(source, pair, kind);
  };
  return { id, ...pair, elements, make, missing: '', reference: source };
}

/** Every dataset at one size, given in bytes per float32 file. */
export function datasetsFor(bytesPerF32File: number): ReadonlyMap<DatasetId, Dataset> {
  const n = bytesPerF32File / 4;
  const list = [
    npyDataset('f32', 'f4', n),
    npyDataset('f64', 'f8', n),
    npyDataset('f16', 'f2', n),
    mixedDataset(n),
    arrowDataset('arrow-file', n),
    arrowDataset('arrow-stream', n),
  ];
  return new Map(list.map((d) => [d.id, d]));
}

/**
 * Issue 12's pair larger than RAM: bench-data/f4-<n>-sparse-{input,label}.npy,
 * float32 holes made with ftruncate (see sparse.ts), reused across runs. The
 * answer is known exactly, so NumPy never reads 2 × 32 GiB; and they are not
 * warmed first: they cannot fit in the page cache, so every run is cold
 * (holes cost no disk reads, but the kernel still zero-fills every page).
 */
export function hugeDataset(bytesPerFile: number): Dataset {
  const elements = bytesPerFile / 4;
  const stem = `${BENCH_DATA}f4-${elementsLabel(elements)}-sparse`;
  const pair = { input: `${stem}-input.npy`, label: `${stem}-label.npy` };
  const make = (): Promise<string | void> => Promise.resolve(ensureSparsePair(pair, elements));
  return { id: 'huge', ...pair, elements, make, missing: '', reference: pair, knownReference: sparseReference(elements), warm: false };
}

/** The tiny bundled example (64×8 float32), for start-up rows. */
export const EXAMPLE: Dataset = {
  id: 'example',
  input: EXAMPLE_INPUT,
  label: EXAMPLE_LABEL,
  elements: 512,
  make: undefined,
  missing: 'fixtures/example is missing',
  reference: { input: EXAMPLE_INPUT, label: EXAMPLE_LABEL },
};

/** Makes the dataset's files if needed; returns why its rows must be skipped, or undefined. */
export async function prepareDataset(data: Dataset): Promise<string | undefined> {
  // A dataset with a known answer checks its own files (a sparse pair is cheap to verify).
  if (pairExists(data) && data.knownReference === undefined) return undefined;
  if (data.make === undefined) return data.missing;
  const problem = await data.make();
  if (typeof problem === 'string') return problem;
  return pairExists(data) ? undefined : `generation did not produce ${data.input}`;
}
