import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { npyBytes } from '../helpers/make-npy.js';
import type { Reference } from './check.js';
import type { Pair } from './datasets.js';

/**
 * The pair larger than RAM (`--huge`): float32 .npy files that are holes (read
 * as zeros, costing no disk) but for a few known values written by position,
 * so the answer is known exactly without a pass over the data. The values
 * sit at the start, on both sides of bytes 2^31 and 2^32 and of element 2^32,
 * and at the end, wherever the file is long enough to have them.
 */
export interface SparseSite {
  readonly index: number;
  readonly input: number;
  readonly label: number;
}

/** More than this many bytes allocated means the file system did not keep the file sparse. */
const SPARSE_SLACK_BYTES = 64 * 1024 * 1024;

const headerFor = (elements: number): Uint8Array => npyBytes('float32', [elements], new Uint8Array(0));

/**
 * The sites of a pair of `elements` float32s. Site k has |d| = 2^k + 0.5,
 * so with delta 1 its loss is exactly 2^k and a wrong sum tells which site
 * went missing; the last site is 0.5 away, for the quadratic branch (0.125).
 */
export function sparseSites(elements: number): SparseSite[] {
  const header = headerFor(elements).length;
  const atByte = (offset: number): number => (offset - header) / 4;
  const wanted = [0, atByte(2 ** 31) - 1, atByte(2 ** 31), atByte(2 ** 32) - 1, atByte(2 ** 32), 2 ** 32 - 1, 2 ** 32, elements - 2, elements - 1];
  const indices = [...new Set(wanted.filter((i) => Number.isInteger(i) && i >= 0 && i < elements - 1))].sort((a, b) => a - b);
  const sites = indices.map((index, k) => {
    const d = 2 ** k + 0.5;
    // Alternate the side the value is on, so both files' offsets matter.
    return k % 2 === 0 ? { index, input: d, label: 0 } : { index, input: 0, label: -d };
  });
  return [...sites, { index: elements - 1, input: 0.5, label: 0 }];
}

/** The exact answer for the pair (the sites' losses are powers of two and 0.125, so float64 sums them exactly). */
export function sparseReference(elements: number): Reference {
  const sum = sparseSites(elements).reduce((s, { input, label }) => {
    const a = Math.abs(input - label);
    return s + (a < 1 ? 0.5 * a * a : a - 0.5);
  }, 0);
  return { elements, sum, mean: sum / elements, resultDtype: 'float32', eps: 2 ** -23 };
}

const float32 = (value: number): Uint8Array => new Uint8Array(Float32Array.of(value).buffer);

function float32At(fd: number, position: number): number {
  const bytes = new Uint8Array(4);
  return readSync(fd, bytes, 0, 4, position) === 4 ? new DataView(bytes.buffer).getFloat32(0, true) : NaN;
}

/** True when `path` is the sparse file sparseSites describes: its size, header and every site. */
function holdsSites(path: string, elements: number, side: 'input' | 'label'): boolean {
  const header = headerFor(elements);
  if (!existsSync(path) || statSync(path).size !== header.length + elements * 4) return false;
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(header.length);
    readSync(fd, head, 0, head.length, 0);
    if (!head.every((b, i) => b === header[i])) return false;
    return sparseSites(elements).every((site) => float32At(fd, header.length + site.index * 4) === site[side]);
  } finally {
    closeSync(fd);
  }
}

/** Writes one file of the pair beside `path` and renames it there; returns why it cannot be sparse, if so. */
function writeSparse(path: string, elements: number, side: 'input' | 'label'): string | undefined {
  const header = headerFor(elements);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, header, 0, header.length, 0);
    ftruncateSync(fd, header.length + elements * 4);
    for (const site of sparseSites(elements)) {
      if (site[side] !== 0) writeSync(fd, float32(site[side]), 0, 4, header.length + site.index * 4);
    }
    const allocated = fstatSync(fd).blocks * 512;
    if (allocated > SPARSE_SLACK_BYTES) return `the file system of ${path} does not keep files sparse (${allocated} bytes allocated)`;
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return undefined;
}

/**
 * Makes the pair with ftruncate, once: later runs reuse it while both files
 * still hold exactly the sites (checked with a few positional reads).
 * Returns why the rows must be skipped, or undefined. Nothing is left
 * behind where the files cannot be sparse: that would fill the disk.
 */
export function ensureSparsePair(pair: Pair, elements: number): string | undefined {
  if (holdsSites(pair.input, elements, 'input') && holdsSites(pair.label, elements, 'label')) return undefined;
  process.stderr.write(`bench: making sparse ${pair.input} and its label (ftruncate; no disk used)...\n`);
  for (const path of [pair.input, pair.label]) mkdirSync(dirname(path), { recursive: true });
  for (const [path, side] of [[pair.input, 'input'], [pair.label, 'label']] as const) {
    let problem: string | undefined;
    try {
      problem = writeSparse(path, elements, side);
    } catch (err) {
      problem = `cannot make ${path}: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (problem !== undefined) {
      for (const p of [pair.input, pair.label]) for (const f of [p, `${p}.tmp`]) rmSync(f, { force: true });
      return problem;
    }
  }
  return undefined;
}
