import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Pair } from './datasets.js';
import { BENCH_DATA } from './paths.js';
import { runNumpyTool } from './python.js';

/** What numpy_tool.py `reference` computes: the loss summed exactly, in float64. */
export interface Reference {
  readonly elements: number;
  readonly sum: number;
  readonly mean: number;
  readonly resultDtype: string;
  /** Machine epsilon of the result dtype: smoothl1 rounds to it once, at the end. */
  readonly eps: number;
}

export interface CheckOutcome {
  readonly ok: boolean;
  /** Largest relative difference seen (NaN when not comparable). */
  readonly relDiff: number;
  readonly detail: string;
}

export type ScalarKind = 'mean' | 'sum';

/** Float64 results may differ from the exact sum by summation order, nothing more. */
const FLOAT64_TOLERANCE = 1e-12;

function isReference(value: unknown): value is Reference {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['sum'] === 'number' && typeof v['mean'] === 'number' && typeof v['eps'] === 'number';
}

/** Identifies the file contents cheaply, so a regenerated pair invalidates its cached reference. */
function fingerprint(pair: Pair, delta: number): string {
  const stamp = (path: string): string => `${path}:${statSync(path).size}:${statSync(path).mtimeMs}`;
  return `${stamp(pair.input)}|${stamp(pair.label)}|delta=${delta}`;
}

const memo = new Map<string, Reference>();

function readCachedReference(cache: string, key: string): Reference | undefined {
  if (!existsSync(cache)) return undefined;
  const cached: unknown = JSON.parse(readFileSync(cache, 'utf8'));
  if (typeof cached !== 'object' || cached === null || !('key' in cached) || !('value' in cached)) return undefined;
  return cached.key === key && isReference(cached.value) ? cached.value : undefined;
}

async function computeReference(pair: Pair, delta: number): Promise<Reference> {
  const text = await runNumpyTool(['reference', pair.input, pair.label, String(delta)]);
  const parsed: unknown = JSON.parse(text);
  if (!isReference(parsed)) throw new Error(`bench: unexpected reference ${text}`);
  return parsed;
}

/** The reference result, cached beside the data in bench-data/ (a 1 GiB pass takes seconds). */
export async function referenceFor(pair: Pair, delta: number): Promise<Reference> {
  const key = fingerprint(pair, delta);
  const known = memo.get(key);
  if (known !== undefined) return known;
  const cache = `${BENCH_DATA}${basename(pair.input)}+${basename(pair.label)}.ref.json`;
  const reference = readCachedReference(cache, key) ?? (await computeReference(pair, delta));
  // The example pair lives in fixtures/; only bench-data/ gets a cache file.
  if (pair.input.startsWith(BENCH_DATA)) writeFileSync(cache, JSON.stringify({ key, value: reference }));
  memo.set(key, reference);
  return reference;
}

/** smoothl1 prints the scalar rounded once to the result dtype; NumPy prints float64. */
export function checkScalar(stdout: string, reference: Reference, kind: ScalarKind, tolerance = reference.eps): CheckOutcome {
  const text = stdout.trim();
  const got = Number(text);
  const want = reference[kind];
  const relDiff = Math.abs(got - want) / Math.abs(want);
  const limit = Math.max(tolerance, FLOAT64_TOLERANCE);
  if (text === '' || !(relDiff <= limit)) {
    return { ok: false, relDiff, detail: `got ${JSON.stringify(text.slice(0, 40))}, want ${want}` };
  }
  return { ok: true, relDiff, detail: '' };
}

/** Recomputes the element losses chunk by chunk in NumPy and compares them with the output file. */
export async function checkNone(pair: Pair, output: string, delta: number): Promise<CheckOutcome> {
  if (!existsSync(output)) return { ok: false, relDiff: NaN, detail: 'no output file' };
  const text = await runNumpyTool(['check-none', pair.input, pair.label, output, String(delta)]);
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || !('ok' in parsed) || !('maxRelDiff' in parsed)) {
    throw new Error(`bench: unexpected check-none answer ${text}`);
  }
  const relDiff = typeof parsed.maxRelDiff === 'number' ? parsed.maxRelDiff : NaN;
  const reason = 'reason' in parsed && typeof parsed.reason === 'string' ? parsed.reason : '';
  return { ok: parsed.ok === true, relDiff, detail: reason };
}
