/**
 * Fuzzing the .npy reader through the library (issue 12, "Bad input,
 * fuzzed"): valid files of every version, dtype, byte order and header
 * spelling, their header dictionaries edited (overflowing, negative and
 * non-integer dimensions, unknown dtypes, missing and extra keys, odd white
 * space), then bit flips, truncations, extreme header lengths, splices.
 * Every run must end in the reference's result or a one-line SmoothL1Error
 * (helpers/fuzz-check.ts), within its time and memory bounds.
 * SMOOTHL1_FUZZ_RUNS / _SEED / _PATH scale and replay it (helpers/fuzz-env.ts).
 */
import { fc } from '@fast-check/ava';
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { badError, FuzzFailure, clearCurrent, recordCurrent, runLibrary, saveFailure } from '../helpers/fuzz-check.js';
import { batches, FUZZ_SEED, replayHint, Tally } from '../helpers/fuzz-env.js';
import { headerText, npyFile, NUMPY_STYLE, readNpyRef, type NpyVersion } from '../helpers/fuzz-npy.js';
import { npyCaseArb, npyInput, npyLayout, npyRefs, pooledNpyCaseArb, type NpyCase } from '../helpers/fuzz-npy-case.js';
import { FuzzDir, readings, runAgainstPartner, runConfigArb, type RunConfig } from '../helpers/fuzz-run.js';
import { elementBytes } from '../helpers/fuzz-bytes.js';
import { tempDir } from '../helpers/tmp.js';

const count = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

/** The partner's shape: what the mutated file really holds, if small, so that values get compared; else the base's. */
function partnerShape(bytes: Uint8Array, c: NpyCase): readonly number[] {
  const [ref] = npyRefs(bytes);
  // Small, and each dimension one a partner can be written with (a zero dimension beside 2^64 is a count of 0).
  const writable = (shape: readonly number[]): boolean => count(shape) <= 1 << 14 && shape.every((d) => d <= 2 ** 31);
  if (ref?.ok === true && writable(ref.shape)) return ref.shape;
  return writable(c.base.shape) ? c.base.shape : [1];
}

const describe = (c: NpyCase, cfg: RunConfig, bytes: Uint8Array): string => {
  const saved = saveFailure('npy.npy', bytes);
  return `input saved at ${saved}\ncase: ${fc.stringify(c)}\nconfig: ${fc.stringify(cfg)}`;
};

async function npyProperty(t: import('ava').ExecutionContext, name: string, arb: fc.Arbitrary<NpyCase>, pool: boolean, params: fc.Parameters<[NpyCase, RunConfig]>): Promise<void> {
  const dir = new FuzzDir(tempDir(t));
  const tally = new Tally();
  const cfgArb = pool ? runConfigArb.map((cfg) => ({ ...cfg, fifo: false })) : runConfigArb;
  try {
    await fc.assert(
      fc.asyncProperty(arb, cfgArb, async (c, cfg) => {
        recordCurrent(name.replace(/ /g, '-'), fc.stringify([c, cfg]));
        const bytes = npyInput(c);
        const judged = await runAgainstPartner(dir, { bytes, refs: readings(npyRefs(bytes)) }, 'mutated.npy', cfg, partnerShape(bytes, c), pool, () => describe(c, cfg, bytes));
        tally.runs++;
        tally.add(judged.outcome);
      }),
      params,
    );
  } catch (err) {
    t.log(tally.summary());
    t.fail(replayHint(err, params.seed ?? FUZZ_SEED));
    return;
  } finally {
    // fast-check has reported any failure with its input: the record is for crashes it cannot report.
    clearCurrent(name.replace(/ /g, '-'));
  }
  t.log(`${name}: ${tally.summary()}`);
  t.pass();
}

for (const batch of batches(0.5, 50)) {
  test.serial(`mutated .npy files give the reference's loss or one SmoothL1Error line (seed ${batch.seed}, ${batch.params.numRuns} runs)`, (t) =>
    npyProperty(t, 'npy', npyCaseArb(), false, batch.params),
  );
}

for (const batch of batches(0.01, 8)) {
  test.serial(`mutated .npy files over several chunks, through the worker pool (seed ${batch.seed}, ${batch.params.numRuns} runs)`, (t) =>
    npyProperty(t, 'npy pool', pooledNpyCaseArb(), true, batch.params),
  );
}

// ---------------------------------------------------------------------------
// Claims: headers that promise far more than the file holds.

const HUGE = ['4611686018427387904', '1099511627776', '2147483648', '4294967296', '9007199254740993', '9223372036854775807', '18446744073709551616', '65536'];

const claimArb = fc.record({
  version: fc.constantFrom<NpyVersion>(1, 2, 3),
  dtype: fc.constantFrom('<f4', '<f8', '|u1', '>i8', '<f2'),
  dims: fc.array(fc.oneof(fc.constantFrom(...HUGE), fc.constantFrom('1', '3', '0', '-1', '3.5', '1e30')), { minLength: 1, maxLength: 4 }),
  /** Overwrite the header length field with an extreme value. */
  headerLength: fc.option(fc.constantFrom(0, 1, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff), { nil: undefined }),
  dataBytes: fc.nat({ max: 256 }),
  mutatedFirst: fc.boolean(),
});

for (const batch of batches(0.04, 40)) {
  test.serial(`.npy headers claiming huge shapes fail fast, in bounded memory (seed ${batch.seed}, ${batch.params.numRuns} runs)`, async (t) => {
    const dir = new FuzzDir(tempDir(t));
    const tally = new Tally();
    const partner = dir.path('partner.npy');
    writeFileSync(partner, npyFile(1, headerText('<f4', false, [3]), new Uint8Array(12)));
    try {
      await fc.assert(
        fc.asyncProperty(claimArb, async (c) => {
          const text = `{'descr': '${c.dtype}', 'fortran_order': False, 'shape': (${c.dims.join(', ')}${c.dims.length === 1 ? ',' : ''}), }`;
          const bytes = npyFile(c.version, text, elementBytes('uint8', c.dataBytes, c.dataBytes));
          if (c.headerLength !== undefined) {
            const view = new DataView(bytes.buffer);
            if (c.version === 1) view.setUint16(8, c.headerLength & 0xffff, true);
            else view.setUint32(8, c.headerLength, true);
          }
          const path = dir.path('claim.npy');
          writeFileSync(path, bytes);
          const r = await runLibrary(c.mutatedFirst ? path : partner, c.mutatedFirst ? partner : path, { threads: 1 });
          tally.runs++;
          const where = (): string => `input saved at ${saveFailure('claim.npy', bytes)}\ncase: ${fc.stringify(c)}`;
          if (r.rss > 200 * 2 ** 20) throw new FuzzFailure(`memory: resident set grew by ${(r.rss / 2 ** 20).toFixed(0)} MiB\n${where()}`);
          if (r.ms > 2000) throw new FuzzFailure(`slow: ${r.ms.toFixed(0)} ms for a header claim\n${where()}`);
          if (r.ok) {
            // Only a claim that is not one (a small shape among the choices, with data to match) may succeed.
            const ref = readNpyRef(bytes);
            if (!ref.ok || count(ref.ref.shape) !== 3) throw new FuzzFailure(`accepted a file whose header claims ${text}\n${where()}`);
            tally.add('ok');
            return;
          }
          const bad = badError(r.error);
          if (bad !== undefined) throw new FuzzFailure(`${bad}\n${where()}`);
          tally.add(`reject:${(r.error as { code: string }).code}`);
        }),
        batch.params,
      );
    } catch (err) {
      t.fail(replayHint(err, batch.seed));
      return;
    }
    t.log(`npy claims: ${tally.summary()}`);
    t.pass();
  });
}

// ---------------------------------------------------------------------------
// Truncation at every byte: exhaustive, for a few files of each version.

const TRUNCATED: readonly { name: string; version: NpyVersion; descr: string; fortran: boolean; shape: number[]; dtype: 'float32' | 'int64' | 'float16' | 'bool' }[] = [
  { name: 'v1 <f4 (3, 4)', version: 1, descr: '<f4', fortran: false, shape: [3, 4], dtype: 'float32' },
  { name: 'v2 >i8 (2, 3) Fortran', version: 2, descr: '>i8', fortran: true, shape: [2, 3], dtype: 'int64' },
  { name: 'v3 <f2 (5,)', version: 3, descr: '<f2', fortran: false, shape: [5], dtype: 'float16' },
  { name: 'v1 |b1 ()', version: 1, descr: '|b1', fortran: false, shape: [], dtype: 'bool' },
];

for (const file of TRUNCATED) {
  test.serial(`a ${file.name} file truncated at every byte gives its loss or one SmoothL1Error line`, async (t) => {
    const dir = new FuzzDir(tempDir(t));
    const tally = new Tally();
    const whole = npyFile(file.version, headerText(file.descr, file.fortran, file.shape, NUMPY_STYLE), elementBytes(file.dtype, count(file.shape), 7));
    const { head } = npyLayout(whole);
    for (let at = 0; at <= whole.length; at++) {
      const bytes = whole.slice(0, at);
      for (const cfg of [
        { fifo: false, mutatedFirst: true },
        { fifo: at <= head + 8, mutatedFirst: false },
      ]) {
        const config: RunConfig = { reduction: 'sum', delta: 1, huber: true, ...cfg, partner: { dtype: 'float64', seed: 3, format: 'npy' }, outFormat: 'npy' };
        try {
          const judged = await runAgainstPartner(dir, { bytes, refs: readings(npyRefs(bytes)) }, 'truncated.npy', config, file.shape, false, () =>
            `truncated at byte ${at} of ${whole.length}; saved at ${saveFailure(`truncated-${at}.npy`, bytes)}`,
          );
          tally.runs++;
          tally.add(judged.outcome);
        } catch (err) {
          t.fail(err instanceof Error ? err.message : String(err));
          return;
        }
      }
    }
    // The whole file is valid: it, at least, must give a loss.
    t.true((tally.counts.get('ok') ?? 0) >= 1, tally.summary());
    t.log(`npy truncation: ${tally.summary()}`);
  });
}

test('the reference reader reads what its writer wrote, and refuses what NumPy refuses', (t) => {
  const ok = npyFile(1, headerText('<f4', false, [2]), new Uint8Array(8));
  t.true(readNpyRef(ok).ok);
  for (const [header, why] of [
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (04,), }", 'leading zeros'],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 'a list shape'],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,),\u000b}", 'a vertical tab'],
    ["{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 'an int fortran_order'],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 'an extra key'],
  ] as const) {
    t.false(readNpyRef(npyFile(1, header, new Uint8Array(8))).ok, why);
  }
  t.true(readNpyRef(npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", new Uint8Array(8))).ok, "NumPy drops a Python 2 'L' in 1.0 headers");
  t.false(readNpyRef(npyFile(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", new Uint8Array(8))).ok, '…but not in 3.0 ones');
});

// A smoke check of the failure path itself: a run that throws something other than a SmoothL1Error is caught.
test('badError flags what is not a one-line SmoothL1Error', (t) => {
  t.regex(badError(new TypeError('x')) ?? '', /not a SmoothL1Error/);
  t.is(badError(undefined)?.startsWith('not a SmoothL1Error'), true);
});
