/**
 * What the fuzz suite found (test/fuzz/*.test.ts), each as a named test on
 * its input under fixtures/fuzz/ (fixtures/fuzz/README.md says how each was
 * made and what went wrong). Each failed when it was written; 850cac3 and
 * f7b605b fixed them. A new finding goes here as `test.failing` until its
 * fix lands.
 */
import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { smoothL1Loss } from '../../src/pipeline/loss.js';
import type { LossOptions } from '../../src/pipeline/options.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { FIXTURES, runCli } from '../helpers/cli.js';
import { readArrowOwn } from '../helpers/fuzz-arrow.js';
import { elementLosses, exactSum, fifoHasReader, makeFifo, RUN_TIMEOUT_MS } from '../helpers/fuzz-check.js';
import { npyBytes } from '../helpers/make-npy.js';
import { tempDir } from '../helpers/tmp.js';

const FUZZ = `${FIXTURES}fuzz/`;

/** The library's outcome, bounded in time. */
async function outcome(input: string, label: string, options: Partial<LossOptions>): Promise<{ ok: true; value: number | undefined; shape: readonly number[] } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const summary = await Promise.race([
      smoothL1Loss(input, label, options),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hang: no result after ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, value: summary.value, shape: summary.shape };
  } catch (error) {
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

/** A failure as the fuzz suite demands it: a SmoothL1Error whose message is one line. */
function assertOneLineError(t: ExecutionContext, error: unknown): void {
  t.true(error instanceof SmoothL1Error, `not a SmoothL1Error: ${String(error)}`);
  t.notRegex(error instanceof Error ? error.message : '', /[\n\r]/, 'message of more than one line');
}

// ---------------------------------------------------------------------------
// .npy

test('fuzz: .npy bool bytes other than 0 and 1 read as True, as NumPy reads them (bool-bytes-2-255.npy)', async (t) => {
  // The same array as bool-canonical.npy ([False, True, True, True]) to NumPy; smoothl1 read 2 and 255 as numbers (sum 254).
  const r = await outcome(`${FUZZ}bool-bytes-2-255.npy`, `${FUZZ}bool-canonical.npy`, { reduction: 'sum', threads: 1 });
  if (r.ok) t.is(r.value, 0);
  else t.true(r.error instanceof SmoothL1Error, String(r.error));
});

for (const [file, rest] of [
  ['descr-newline.npy', 'smoothl1 reads bool, integer and float tensors'],
  ['descr-carriage-return.npy', 'smoothl1 reads bool, integer and float tensors'],
  ['column-name-newline.arrow', 'choose one with --input-column or --label-column'],
] as const) {
  test(`fuzz: a line break in a name from the file (${file}) does not break the one-line error`, async (t) => {
    const path = `${FUZZ}${file}`;
    const r = await outcome(path, path, { threads: 1 });
    t.false(r.ok);
    if (!r.ok) assertOneLineError(t, r.error);
    // The CLI printed the first line only: the reason after the name was lost, and a \r or ESC reached the terminal.
    const cli = await runCli([path, path]);
    t.is(cli.code, 2);
    t.regex(cli.stderr, /^smoothl1: [^\n]*\n$/);
    t.notRegex(cli.stderr.slice(0, -1), /[\u0000-\u0008\u000a-\u001f\u007f]/, 'control characters on stderr');
    t.true(cli.stderr.includes(rest), `the reason is cut short: ${JSON.stringify(cli.stderr)}`);
  });
}

test('fuzz: Arrow output of a zero-element tensor with 2^32 - 1 rows is written, or refused with a SmoothL1Error, not a RangeError (zero-width-4294967295-rows.npy)', async (t) => {
  // shape (4294967295, 0): no elements; .npy output worked, apache-arrow's writer threw "Cannot write arrays larger than 2^31 - 1".
  const input = `${FUZZ}zero-width-4294967295-rows.npy`;
  for (const ext of ['arrow', 'arrows']) {
    const r = await outcome(input, input, { reduction: 'none', output: join(tempDir(t), `loss.${ext}`), threads: 1 });
    if (!r.ok) assertOneLineError(t, r.error);
    else t.deepEqual(r.shape, [4294967295, 0]);
  }
});

// ---------------------------------------------------------------------------
// Arrow

const XY = { inputColumn: 'x', labelColumn: 'y', threads: 1 } as const;

test('fuzz: an Arrow record batch whose header table is degenerate is refused, not read as 0 rows (batch-header-degenerate.arrow)', async (t) => {
  // Four batches of one row; the third's Message table has its header offset zeroed, so the header "table" is its own
  // vtable, of size 0: every field absent. smoothl1 read it as a batch of 0 rows and computed over 3 rows of 4.
  const path = `${FUZZ}batch-header-degenerate.arrow`;
  const r = await outcome(path, path, { ...XY, reduction: 'sum' });
  t.false(r.ok, r.ok ? `accepted as shape ${JSON.stringify(r.shape)}` : '');
  if (!r.ok) assertOneLineError(t, r.error);
});

test('fuzz: an Arrow bool column whose values lie past the body is refused, not read as false (bool-values-past-body.arrow)', async (t) => {
  // x and y are all true in 4 batches; the third batch's x values buffer starts at the end of its body.
  // smoothl1 (through apache-arrow, which slices past the end to nothing) read that row as false: sum 0.5.
  const path = `${FUZZ}bool-values-past-body.arrow`;
  const r = await outcome(path, path, { ...XY, reduction: 'sum' });
  t.false(r.ok, r.ok ? `accepted with sum ${r.value}` : '');
  if (!r.ok) assertOneLineError(t, r.error);
});

test('fuzz: an Arrow stream with a message of type NONE gives its batches or an error, not batch 0 again (stream-none-message.arrows)', async (t) => {
  // Eleven record batches of one row and, between the 10th and 11th, a message whose header type is NONE (with a body).
  // smoothl1's scan skipped it with its body; apache-arrow, decoding x (batch 0's x node length is 2, which sends the
  // column to apache-arrow), read on from that body and handed back batch 0 as the 11th row.
  const path = `${FUZZ}stream-none-message.arrows`;
  const bytes = readFileSync(path);
  const x = readArrowOwn(bytes, 'x');
  const y = readArrowOwn(bytes, 'y');
  if (!x.ok || !y.ok) return t.fail('the reference cannot read the fixture');
  const losses = elementLosses(x.ref.values, y.ref.values, { reduction: 'sum', delta: 1, huber: true });
  const r = await outcome(path, path, { ...XY, reduction: 'sum' });
  if (!r.ok) return assertOneLineError(t, r.error);
  t.deepEqual(r.shape, [11]);
  t.true(Math.abs((r.value ?? NaN) - exactSum(losses)) <= 1e-12 * exactSum(losses), `sum ${r.value}, reference ${exactSum(losses)}`);
});

test('fuzz: an Arrow bool column whose values buffer is empty is refused, not read as false (bool-values-empty-buffer.arrow)', async (t) => {
  // As bool-values-past-body.arrow, but the third batch's x values buffer is inside the body with length 0 (offset 0):
  // 850cac3 checks that buffers lie in the body, not that they hold their rows, so that row still reads as false (sum 0.5).
  const path = `${FUZZ}bool-values-empty-buffer.arrow`;
  const r = await outcome(path, path, { ...XY, reduction: 'sum' });
  t.false(r.ok, r.ok ? `accepted with sum ${r.value}` : '');
  if (!r.ok) assertOneLineError(t, r.error);
});

test('fuzz: a corrupt Arrow stream read from a FIFO is closed when the run fails (stream-bad-message-length.arrows)', async (t) => {
  // An empty-table stream with one byte inserted: a message length of -256. From a FIFO whose writer is still running
  // (as `smoothl1 <(producer) …` has it), smoothL1Loss rejected with 'corrupt' but kept the reading end open: the
  // descriptor leaked, and the producer, never seeing EPIPE, would wait forever. An .npy or garbage input is closed.
  const dir = tempDir(t);
  const fifo = makeFifo(join(dir, 'fifo'));
  const partner = join(dir, 'partner.npy');
  writeFileSync(partner, npyBytes('float32', [0], new Uint8Array(0)));
  const producer = await Promise.all([
    open(fifo, 'w').then(async (h) => {
      await h.write(readFileSync(`${FUZZ}stream-bad-message-length.arrows`));
      return h;
    }),
    outcome(partner, fifo, { labelColumn: 'x', threads: 1 }).then((r) => {
      t.false(r.ok);
      if (!r.ok) assertOneLineError(t, r.error);
    }),
  ]).then(([h]) => h);
  try {
    // Closing may lag the promise a little; it must not wait for the producer.
    for (let waited = 0; waited < 2000 && fifoHasReader(fifo); waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    t.false(fifoHasReader(fifo), 'the FIFO is still open for reading after smoothL1Loss returned');
  } finally {
    await producer.close();
  }
});

test('fuzz: an Arrow field of type NONE before the column is refused, not read as Null (type-none-before-column.arrow)', async (t) => {
  // Columns u: Int32 [7], w: Float64 [100], x: Float64 [1.5], y: Float64 [1.5]; u's type id in the footer set to 0 (NONE).
  // smoothl1 cannot count NONE's buffers, so it hands the columns to apache-arrow, which reads NONE as Null, a type with
  // no buffers: w takes u's, x takes w's, y takes x's. x against y gave 98 (100 against 1.5), not 0.
  const path = `${FUZZ}type-none-before-column.arrow`;
  const r = await outcome(path, path, { ...XY, reduction: 'sum' });
  if (r.ok) t.is(r.value, 0);
  else assertOneLineError(t, r.error);
});

test('fuzz: an Arrow record batch message of metadata version V2 is refused or read as written (batch-message-version-v2.arrow)', async (t) => {
  // Bool x and y, all true, four batches of one row; the third batch's Message has version 1 (V2) instead of 4 (V5).
  // smoothl1 checked its buffers as V4+ lays them out and accepted it; apache-arrow, decoding the bool column, read
  // them as V1-V3 did (a page field before offset and length) and took x's row from elsewhere: false, sum 0.5, not 0.
  const path = `${FUZZ}batch-message-version-v2.arrow`;
  const r = await outcome(path, path, { ...XY, reduction: 'sum' });
  if (r.ok) t.is(r.value, 0);
  else assertOneLineError(t, r.error);
});

for (const [file, what] of [
  ['del-in-header.npy', 'DEL (U+007F)'],
  ['csi-in-header.npy', 'CSI (U+009B, a C1 control)'],
] as const) {
  test(`fuzz: ${what} from a header is escaped in the message, not printed raw (${file})`, async (t) => {
    // The header starts with that character; the message quotes it, through JSON.stringify, which escapes neither DEL
    // nor the C1 controls, and src/tensor/errors.ts's oneLine passes them on: a terminal may act on CSI (U+009B).
    const path = `${FUZZ}${file}`;
    const r = await outcome(path, path, { threads: 1 });
    t.false(r.ok);
    if (!r.ok) t.notRegex(r.error instanceof Error ? r.error.message : '', /[\u007f-\u009f]/, 'a DEL or C1 control in the message');
    const cli = await runCli([path, path]);
    t.is(cli.code, 2);
    t.notRegex(cli.stderr, /[\u007f-\u009f]/, 'a DEL or C1 control on stderr');
  });
}
