import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFORMANCE, runCli } from './helpers/cli.js';
import { readNpyFile } from './helpers/npy.js';

interface Case {
  readonly name: string;
  readonly input: string;
  readonly label: string;
  readonly args: readonly string[];
  readonly expect:
    | { readonly scalar: string; readonly dtype: string; readonly rtol: number }
    | { readonly tensor: string; readonly dtype: string; readonly shape: readonly number[]; readonly rtol: number }
    | { readonly error: true; readonly why: string };
}

const cases = (JSON.parse(readFileSync(join(CONFORMANCE, 'cases.json'), 'utf8')) as { cases: Case[] }).cases;

/** NaN matches NaN, ±inf itself, anything else within rtol (conformance README). */
export function close(actual: number, expected: number, rtol: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected;
  return Math.abs(actual - expected) <= rtol * Math.abs(expected);
}

// Every case through the real CLI: one thread, the default pool, and a
// 4096-element chunk so that even small cases cross chunk boundaries.
const runs: { title: string; args: readonly string[]; env: Record<string, string> }[] = [
  { title: '--threads 1', args: ['--threads', '1'], env: {} },
  { title: 'default threads', args: [], env: {} },
  { title: '--threads 2, small chunks', args: ['--threads', '2'], env: { SMOOTHL1_CHUNK_ELEMENTS: '4096' } },
];

for (const c of cases) {
  for (const run of runs) {
    test(`conformance ${c.name} (${run.title})`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'smoothl1-conf-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const out = join(dir, 'out.npy');
      const e = c.expect;
      const args = [join(CONFORMANCE, c.input), join(CONFORMANCE, c.label), ...c.args, ...run.args];
      const r = await runCli('tensor' in e || 'error' in e ? [...args, '--output', out] : args, { env: run.env });
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
      const want = readNpyFile(join(CONFORMANCE, e.tensor));
      t.is(String(got.layout.header.dtype), e.dtype);
      t.deepEqual(got.layout.header.shape, e.shape);
      t.is(got.values.length, want.values.length);
      const bad = got.values.findIndex((v, i) => !close(v, want.values[i]!, e.rtol));
      t.is(bad, -1, `element ${bad}: ${got.values[bad]} vs ${want.values[bad]}`);
    });
  }
}
