import type { ExecutionContext } from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CONFORMANCE, type CliRun } from './cli.js';
import { readNpyFile } from './npy.js';

/** One entry of ../shared/fixtures/conformance/cases.json (its README describes the fields). */
export interface ConformanceCase {
  readonly name: string;
  /** Relative to the corpus folder, or absolute (for cases kept elsewhere). */
  readonly input: string;
  readonly label: string;
  readonly args: readonly string[];
  readonly expect:
    | { readonly scalar: string; readonly dtype: string; readonly rtol: number }
    | { readonly tensor: string; readonly dtype: string; readonly shape: readonly number[]; readonly rtol: number }
    | { readonly error: true; readonly why: string };
}

export const CONFORMANCE_CASES: readonly ConformanceCase[] = (
  JSON.parse(readFileSync(resolve(CONFORMANCE, 'cases.json'), 'utf8')) as { cases: ConformanceCase[] }
).cases;

/** NaN matches NaN, ±inf itself, anything else within rtol (conformance README). */
export function close(actual: number, expected: number, rtol: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected;
  return Math.abs(actual - expected) <= rtol * Math.abs(expected);
}

/**
 * The CLI arguments for a case. Tensor and error cases get `--output out`:
 * the first to have something to compare, the second to prove that a failed
 * run leaves no file behind.
 */
export function caseArgs(c: ConformanceCase, out: string): string[] {
  // '-' is stdin, not a file in the corpus.
  const path = (file: string): string => (file === '-' ? file : resolve(CONFORMANCE, file));
  const args = [path(c.input), path(c.label), ...c.args];
  return 'scalar' in c.expect ? args : [...args, '--output', out];
}

/** Checks one run of `caseArgs(c, out)` against the case's expectation. */
export function checkCase(t: ExecutionContext, c: ConformanceCase, r: CliRun, out: string): void {
  const e = c.expect;
  if ('error' in e) {
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /^smoothl1: [^\n]+\n$/, `one line (${e.why})`);
    t.false(existsSync(out), 'no output file');
    t.is(r.stdout.length, 0);
    return;
  }
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  if ('scalar' in e) {
    const text = r.stdout.toString('utf8');
    t.regex(text, /^\S+\n$/);
    t.true(close(Number(text.trim()), Number(e.scalar), e.rtol), `${text.trim()} vs ${e.scalar}`);
    return;
  }
  const got = readNpyFile(out);
  const want = readNpyFile(resolve(CONFORMANCE, e.tensor));
  t.is(String(got.layout.header.dtype), e.dtype);
  t.deepEqual(got.layout.header.shape, e.shape);
  t.is(got.values.length, want.values.length);
  const bad = got.values.findIndex((v, i) => !close(v, want.values[i]!, e.rtol));
  t.is(bad, -1, `element ${bad}: ${got.values[bad]} vs ${want.values[bad]}`);
}
