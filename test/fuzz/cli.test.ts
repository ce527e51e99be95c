/**
 * A sample of the fuzz suite's mutated inputs through the real CLI (issue
 * 12, "Bad input, fuzzed"): each must exit 0 with one line on stdout, or 2
 * with exactly one `smoothl1: ` line on stderr and no stack trace; and the
 * CLI must agree with the library on the same files (same success, same
 * printed value, same message). Some inputs arrive on stdin instead.
 */
import * as fc from 'fast-check';
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { smoothL1Loss } from '../../src/pipeline/loss.js';
import { formatScalar } from '../../src/print/scalar.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { runCli } from '../helpers/cli.js';
import { arrowCaseArb, arrowInput, baseShape } from '../helpers/fuzz-arrow-case.js';
import { badError, RUN_TIMEOUT_MS, saveFailure } from '../helpers/fuzz-check.js';
import { batches, FUZZ_SEED, replayHint, Tally } from '../helpers/fuzz-env.js';
import { npyCaseArb, npyInput } from '../helpers/fuzz-npy-case.js';
import { FuzzDir, partnerArb, writePartner } from '../helpers/fuzz-run.js';
import { stopReferences } from '../helpers/fuzz-ref-client.js';
import { tempDir } from '../helpers/tmp.js';

test.after.always(() => stopReferences());

const STACK = /\bat .*:\d+:\d+/;
/** Control characters (C0 but tab and the final line end, DEL, C1): a terminal would act on them. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\n(?!$)/;

const sampleArb = fc.record({
  // Half the inputs unmutated (edits aside), so that successes are compared too.
  input: fc.oneof(
    fc.record({ format: fc.constant('npy' as const), c: fc.tuple(npyCaseArb(), fc.boolean()).map(([c, keep]) => (keep ? c : { ...c, mutations: [] })) }),
    fc.record({ format: fc.constant('arrow' as const), c: fc.tuple(arrowCaseArb(), fc.boolean()).map(([c, keep]) => (keep ? c : { ...c, mutations: [] })) }),
  ),
  partner: partnerArb,
  mutatedFirst: fc.boolean(),
  /** Send the mutated input on stdin ('-'): the stream readers. */
  stdin: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  reduction: fc.constantFrom('mean', 'sum'),
});

type Sample = typeof sampleArb extends fc.Arbitrary<infer S> ? S : never;

async function runSample(dir: FuzzDir, s: Sample): Promise<string> {
  const isNpy = s.input.format === 'npy';
  const bytes = s.input.format === 'npy' ? npyInput(s.input.c) : arrowInput(s.input.c);
  const shape = s.input.format === 'npy' ? s.input.c.base.shape : baseShape(s.input.c.base);
  const path = dir.path(isNpy ? 'mutated.npy' : 'mutated.arrow');
  writeFileSync(path, bytes);
  const partner = writePartner(dir, s.partner, shape.reduce((n, d) => n * d, 1) <= 1 << 14 ? shape : [1]);
  const column = isNpy ? {} : s.mutatedFirst ? { inputColumn: 'x' } : { labelColumn: 'x' };
  const columnArgs = isNpy ? [] : s.mutatedFirst ? ['--input-column', 'x'] : ['--label-column', 'x'];
  const mutatedArg = s.stdin ? '-' : path;
  const [input, label] = s.mutatedFirst ? [mutatedArg, partner.path] : [partner.path, mutatedArg];
  const where = (): string => `input saved at ${saveFailure(`cli.${isNpy ? 'npy' : 'arrow'}`, bytes)}\nsample: ${fc.stringify(s)}`;
  const cli = await runCli([input, label, '-r', s.reduction, ...columnArgs], s.stdin ? { stdin: bytes } : {});
  const fail = (why: string): never => {
    throw new Error(`${why}\nexit ${cli.code} (signal ${cli.signal}); stdout ${JSON.stringify(cli.stdout.toString())}; stderr ${JSON.stringify(cli.stderr)}\n${where()}`);
  };
  if (cli.code !== 0 && cli.code !== 2) fail('exit status neither 0 nor 2');
  if (STACK.test(cli.stderr)) fail('a stack trace on stderr');
  if (cli.code === 2) {
    if (!/^smoothl1: [^\n]*\n$/.test(cli.stderr)) fail('stderr is not one smoothl1: line');
    if (CONTROL.test(cli.stderr)) fail('control characters on stderr');
    if (cli.stdout.length !== 0) fail('output on stdout after a failure');
  } else {
    if (cli.stderr !== '') fail('stderr not empty on success');
    if (!/^[^\n]+\n$/.test(cli.stdout.toString())) fail('stdout is not one line');
  }
  if (s.stdin) return `${cli.code === 0 ? 'ok' : 'exit 2'} (stdin)`;
  // The same files through the library, as the CLI calls it: the same outcome.
  const library = await Promise.race([
    smoothL1Loss(input, label, { reduction: s.reduction, ...column }).then(
      (summary) => ({ ok: true as const, summary }),
      (error: unknown) => ({ ok: false as const, error }),
    ),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`hang: library gave no result in ${RUN_TIMEOUT_MS} ms\n${where()}`)), RUN_TIMEOUT_MS).unref()),
  ]);
  if (library.ok) {
    if (cli.code !== 0) fail(`the library succeeded (${library.summary.value}) where the CLI failed`);
    const text = formatScalar(library.summary.value ?? NaN, library.summary.dtype);
    if (cli.stdout.toString() !== `${text}\n`) fail(`the CLI printed other than the library's ${text}`);
    return 'ok';
  }
  const bad = badError(library.error);
  if (bad !== undefined) fail(`the library: ${bad}`);
  if (cli.code !== 2) fail(`the library failed (${String(library.error)}) where the CLI succeeded`);
  const message = (library.error as SmoothL1Error).message;
  if (cli.stderr !== `smoothl1: ${message}\n`) fail(`the CLI's message is not the library's: ${JSON.stringify(message)}`);
  return 'exit 2';
}

for (const batch of batches(0.003, 12)) {
  test.serial(`a sample of mutated inputs through the CLI: exit 0, or 2 with one line, as the library says (seed ${batch.seed}, ${batch.params.numRuns} runs)`, async (t) => {
    const dir = new FuzzDir(tempDir(t));
    const tally = new Tally();
    try {
      await fc.assert(
        fc.asyncProperty(sampleArb, async (s) => {
          tally.runs++;
          tally.add(await runSample(dir, s));
        }),
        batch.params,
      );
    } catch (err) {
      t.log(tally.summary());
      t.fail(replayHint(err, batch.seed ?? FUZZ_SEED));
      return;
    }
    t.log(`cli: ${tally.summary()}`);
    t.pass();
  });
}
