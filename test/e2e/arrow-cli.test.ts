import test from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { columnFromArray, float32, tableFromColumns, tableToIPC } from '@uwdata/flechette';
import { arrowFormat } from '../../src/formats/arrow/magic.js';
import { CONFORMANCE, FIXTURES, runCli, type CliRun } from '../helpers/cli.js';
import { npyToArrow } from '../helpers/npy-to-arrow.js';
import { readNpyValues } from '../helpers/npy.js';
import { tempDir } from '../helpers/tmp.js';
import { writeNpy } from '../helpers/make-npy.js';

// Arrow through the real CLI: columns, misaligned batches, formats out,
// stdout defaults. Fixtures come from flechette, an Arrow implementation
// independent of the apache-arrow package smoothl1 reads with.

const PRED = `${FIXTURES}example/pred.npy`;
const TARGET = `${FIXTURES}example/target.npy`;

function ok(t: import('ava').ExecutionContext, r: CliRun): string {
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  return r.stdout.toString();
}

/** One file holding both columns, written by flechette in batches of 1000 (pred) and 777 (target) rows. */
function twoColumnFile(dir: string, n: number): { path: string; pred: Float32Array; target: Float32Array } {
  const pred = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
  const target = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 2);
  const table = tableFromColumns({
    pred: columnFromArray(pred, float32(), { maxBatchRows: 1000 }),
    target: columnFromArray(target, float32(), { maxBatchRows: 1000 }),
  });
  const path = join(dir, 'both.arrow');
  writeFileSync(path, tableToIPC(table, { format: 'file' }) ?? new Uint8Array(0));
  return { path, pred, target };
}

function separateFiles(dir: string, pred: Float32Array, target: Float32Array): { input: string; label: string } {
  const write = (name: string, values: Float32Array, rows: number, format: 'file' | 'stream'): string => {
    const path = join(dir, name);
    const table = tableFromColumns({ v: columnFromArray(values, float32(), { maxBatchRows: rows }) });
    writeFileSync(path, tableToIPC(table, { format }) ?? new Uint8Array(0));
    return path;
  };
  return { input: write('pred.arrows', pred, 1000, 'stream'), label: write('target.arrow', target, 777, 'file') };
}

test('two columns of one file, and the same columns as separate files batched 1000 and 777, give one result', async (t) => {
  const dir = tempDir(t);
  const { path, pred, target } = twoColumnFile(dir, 20000);
  const { input, label } = separateFiles(dir, pred, target);
  const env = { SMOOTHL1_CHUNK_ELEMENTS: '4096', SMOOTHL1_POOL_MIN_ELEMENTS: '0' };
  const same = ok(t, await runCli([path, path, '--input-column', 'pred', '--label-column', 'target', '-r', 'sum'], { env }));
  const split = ok(t, await runCli([input, label, '-r', 'sum', '--threads', '2'], { env }));
  t.is(split, same);
  // A plain sum in float64 over the same values, for scale.
  let expected = 0;
  pred.forEach((p, i) => {
    const ad = Math.abs(p - target[i]!);
    expected += ad < 1 ? 0.5 * ad * ad : ad - 0.5;
  });
  t.true(Math.abs(Number(same) - expected) <= 1e-6 * expected, `${same} vs ${expected}`);
});

test('a schema with several fields and no column chosen is refused, listing the fields', async (t) => {
  const dir = tempDir(t);
  const { path } = twoColumnFile(dir, 10);
  const r = await runCli([path, path]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^smoothl1: .*both\.arrow: 2 columns \('pred', 'target'\); choose one with --input-column or --label-column\n$/);
});

test("'none' to .arrow keeps the shape through a round trip, and reads back as the .npy output", async (t) => {
  const dir = tempDir(t);
  const arrow = join(dir, 'z.arrow');
  const npy = join(dir, 'z.npy');
  ok(t, await runCli([PRED, TARGET, '-r', 'none', '-o', arrow]));
  ok(t, await runCli([PRED, TARGET, '-r', 'none', '-o', npy]));
  t.is(arrowFormat(readFileSync(arrow)), 'file');
  // Same values, same shape [64, 8]: zero loss, and no shape error.
  t.is(ok(t, await runCli([arrow, npy, '-r', 'sum'])), '0.0\n');
  const back = join(dir, 'back.npy');
  ok(t, await runCli([arrow, npy, '-r', 'none', '-o', back]));
  t.deepEqual(readNpyValues(readFileSync(back)).layout.header.shape, [64, 8]);
});

test('the output format follows --format, then the extension, then the input', async (t) => {
  const dir = tempDir(t);
  const arrowInput = join(dir, 'pred.arrow');
  writeFileSync(arrowInput, npyToArrow(PRED, 'file') ?? new Uint8Array(0));
  const formatOf = (r: CliRun): string => {
    t.is(r.code, 0, r.stderr);
    return r.stdout.subarray(0, 6).toString('latin1') === '\x93NUMPY' ? 'npy' : (arrowFormat(r.stdout) ?? 'unknown');
  };
  t.is(formatOf(await runCli([PRED, TARGET, '-r', 'none', '-o', '-'])), 'npy');
  t.is(formatOf(await runCli([arrowInput, TARGET, '-r', 'none', '-o', '-'])), 'stream', 'an Arrow file input gives a stream on stdout');
  t.is(formatOf(await runCli([PRED, TARGET, '-r', 'none', '-o', '-', '--format', 'arrow'])), 'file');
  t.is(formatOf(await runCli([arrowInput, TARGET, '-r', 'none', '-o', '-', '--format', 'npy'])), 'npy');
  const feather = join(dir, 'z.feather');
  ok(t, await runCli([PRED, TARGET, '-r', 'none', '-o', feather]));
  t.is(arrowFormat(readFileSync(feather)), 'file');
  const arrows = join(dir, 'z.arrows');
  ok(t, await runCli([PRED, TARGET, '-r', 'none', '-o', arrows]));
  t.is(arrowFormat(readFileSync(arrows)), 'stream');
});

test('a scalar loss cannot be written as Arrow, and nothing is written', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'loss.arrow');
  const r = await runCli([PRED, TARGET, '-o', out]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^smoothl1: .*loss\.arrow: a mean or sum is a 0-d scalar/);
  const r2 = await runCli([PRED, TARGET, '-r', 'sum', '-o', '-', '--format', 'arrows']);
  t.is(r2.code, 2);
  t.is(r2.stdout.length, 0);
});

test('two Fortran-ordered inputs are reordered for Arrow output, whose rows are C order', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'z.arrow');
  const F = `${FIXTURES}f4-fortran-5x7.npy`;
  const C = `${FIXTURES}f4-c-5x7.npy`;
  ok(t, await runCli([F, C, '-r', 'none', '-o', out]));
  const npy = join(dir, 'z.npy');
  ok(t, await runCli([F, C, '-r', 'none', '-o', npy]));
  t.is(ok(t, await runCli([out, npy, '-r', 'sum'])), '0.0\n');
  // A Fortran-ordered copy of C: F with it pairs by logical index, as F with C does.
  const c = readNpyValues(readFileSync(C)).values;
  const stored = Float32Array.from({ length: 35 }, (_, j) => c[(j % 5) * 7 + Math.floor(j / 5)]!);
  const F2 = writeNpy(join(dir, 'c-as-fortran.npy'), 'float32', [5, 7], new Uint8Array(stored.buffer), true);
  const both = join(dir, 'ff.arrow');
  ok(t, await runCli([F, F2, '-r', 'none', '-o', both]));
  t.is(ok(t, await runCli([both, npy, '-r', 'sum'])), '0.0\n');
});

test('0-d inputs cannot give Arrow output, and nothing is written', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'z.arrows');
  const zero = `${CONFORMANCE}zero_d_none.input.npy`;
  const r = await runCli([zero, zero, '-r', 'none', '-o', out]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^smoothl1: .*z\.arrows: the inputs are 0-d, and Arrow output stores rows/);
  t.deepEqual(readdirSync(dir), []);
});

test('--format npy wins over an Arrow extension, for a scalar too', async (t) => {
  const out = join(tempDir(t), 'loss.arrow');
  const r = await runCli([PRED, TARGET, '-r', 'sum', '-o', out, '--format', 'npy']);
  t.is(r.code, 0, r.stderr);
  t.is(readFileSync(out).subarray(0, 6).toString('latin1'), '\x93NUMPY');
});
