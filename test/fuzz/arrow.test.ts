/**
 * Fuzzing the Arrow IPC reader through the library (issue 12, "Bad input,
 * fuzzed"): valid files and streams (primitive, fixed-size-list and
 * fixed_shape_tensor columns, other column types before them, nulls, many
 * batches), then bit flips, 32- and 64-bit fields set to extremes (message
 * and footer lengths, flatbuffer offsets, row counts, buffer offsets and
 * lengths, body lengths), truncations, splices. Every run must end in the
 * reference's result or a one-line SmoothL1Error, within its bounds.
 */
import { fc } from '@fast-check/ava';
import test from 'ava';
import { clearCurrent, recordCurrent } from '../helpers/fuzz-check.js';
import { arrowBytes, readArrowRef, type ArrowBase } from '../helpers/fuzz-arrow.js';
import { arrowCaseArb, arrowClaimCaseArb, runArrowCase, type ArrowCase } from '../helpers/fuzz-arrow-case.js';
import { batches, FUZZ_SEED, replayHint, Tally } from '../helpers/fuzz-env.js';
import { FuzzDir, runConfigArb, type RunConfig } from '../helpers/fuzz-run.js';
import { stopReferences } from '../helpers/fuzz-ref-client.js';
import { tempDir } from '../helpers/tmp.js';

test.after.always(() => stopReferences());

async function arrowProperty(t: import('ava').ExecutionContext, name: string, arb: fc.Arbitrary<ArrowCase>, pool: boolean, params: fc.Parameters<[ArrowCase, RunConfig]>, maxMs = Infinity): Promise<void> {
  const dir = new FuzzDir(tempDir(t));
  const tally = new Tally();
  try {
    await fc.assert(
      fc.asyncProperty(arb, runConfigArb, async (c, cfg) => {
        recordCurrent(name.replace(/ /g, '-'), fc.stringify([c, cfg]));
        const judged = await runArrowCase(dir, c, cfg, pool, maxMs);
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

for (const batch of batches(0.4, 50)) {
  test.serial(`mutated Arrow files and streams give the reference's loss or one SmoothL1Error line (seed ${batch.seed}, ${batch.params.numRuns} runs)`, (t) =>
    arrowProperty(t, 'arrow', arrowCaseArb(), false, batch.params),
  );
}

for (const batch of batches(0.005, 6)) {
  test.serial(`mutated Arrow files over several chunks, through the worker pool (seed ${batch.seed}, ${batch.params.numRuns} runs)`, (t) =>
    arrowProperty(t, 'arrow pool', arrowCaseArb(fc.integer({ min: 4097, max: 6000 })).map((c) => ({ ...c, base: { ...c.base, rowShape: [], batchRows: 1500 + (c.base.batchRows * 97) } })), true, batch.params),
  );
}

for (const batch of batches(0.04, 40)) {
  test.serial(`Arrow fields set to extreme lengths and offsets fail fast, in bounded memory (seed ${batch.seed}, ${batch.params.numRuns} runs)`, (t) =>
    arrowProperty(t, 'arrow claims', arrowClaimCaseArb, false, batch.params, 2000),
  );
}

// ---------------------------------------------------------------------------
// Truncation at every byte: exhaustive, for a file and a stream.

const TRUNCATED: readonly ArrowBase[] = [
  { format: 'file', x: 'float32', y: 'float64', rowShape: [], tensor: false, rows: 5, batchRows: 3, extra: [], nulls: [], seed: 11 },
  { format: 'stream', x: 'int16', y: 'bool', rowShape: [2], tensor: false, rows: 4, batchRows: 2, extra: ['utf8'], nulls: [], seed: 12 },
];

for (const base of TRUNCATED) {
  test.serial(`an Arrow ${base.format} truncated at every byte gives its loss or one SmoothL1Error line`, async (t) => {
    const dir = new FuzzDir(tempDir(t));
    const tally = new Tally();
    const whole = arrowBytes(base);
    t.true(readArrowRef(whole, 'x').ok);
    const cfg: RunConfig = { reduction: 'sum', delta: 1, huber: true, fifo: false, mutatedFirst: true, partner: { dtype: 'float32', seed: 1, format: 'npy' }, outFormat: 'npy' };
    for (let at = 0; at <= whole.length; at++) {
      const truncated: ArrowCase = { base, mutations: [{ k: 'truncate', at: { region: 'any', which: 0, offset: at } }], other: base, pairing: 'self' };
      try {
        // 'truncate' resolves its offset modulo the length: the whole file is the case without a mutation.
        const judged = await runArrowCase(dir, at === whole.length ? { ...truncated, mutations: [] } : truncated, cfg, false);
        tally.runs++;
        tally.add(judged.outcome);
      } catch (err) {
        t.fail(err instanceof Error ? err.message : String(err));
        return;
      }
    }
    t.true((tally.counts.get('ok') ?? 0) >= 1, tally.summary());
    t.log(`arrow truncation: ${tally.summary()}`);
  });
}
