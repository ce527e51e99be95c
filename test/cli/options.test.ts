import test, { type ExecutionContext } from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { DEFAULT_OPTIONS, type LossOptions } from '../../src/pipeline/options.js';
import { parseFailAbove, parseOptions, type RawOptions } from '../../src/cli/options.js';

/** Defaults unlike the real ones, so that a value taken from them is recognisable. */
const DEFAULTS: LossOptions = { ...DEFAULT_OPTIONS, threads: 3, chunkElements: 1234, reorderLimitBytes: 5678 };

const raw = (over: Partial<RawOptions> = {}): RawOptions => ({ reduction: 'mean', delta: '1.0', huber: true, ...over });

/** The usage error parseOptions must throw: a SmoothL1Error about no file. */
function usageError(t: ExecutionContext, fn: () => unknown): SmoothL1Error {
  const err = t.throws(fn, { instanceOf: SmoothL1Error });
  if (!(err instanceof SmoothL1Error)) throw new Error('unreachable: t.throws checked the class');
  t.is(err.file, undefined, 'option errors concern no file');
  return err;
}

test('defaults fill what the flags leave out', (t) => {
  t.deepEqual(parseOptions(raw(), DEFAULTS), {
    reduction: 'mean',
    delta: 1,
    huber: true,
    output: undefined,
    threads: 3,
    chunkElements: 1234,
    poolMinElements: DEFAULTS.poolMinElements,
    reorderLimitBytes: 5678,
    format: undefined,
    inputColumn: undefined,
    labelColumn: undefined,
  });
});

test('every flag given is taken', (t) => {
  const options = parseOptions(
    raw({
      reduction: 'none',
      delta: '0.25',
      huber: false,
      output: 'out.arrow',
      threads: '8',
      chunkElements: '4096',
      format: 'arrows',
      inputColumn: 'pred',
      labelColumn: 'target',
    }),
    DEFAULTS,
  );
  t.like(options, {
    reduction: 'none',
    delta: 0.25,
    huber: false,
    output: 'out.arrow',
    threads: 8,
    chunkElements: 4096,
    format: 'arrows',
    inputColumn: 'pred',
    labelColumn: 'target',
  });
});

test('--format takes npy, arrow or arrows only', (t) => {
  for (const format of ['npy', 'arrow', 'arrows'] as const) t.is(parseOptions(raw({ format, output: 'o' }), DEFAULTS).format, format);
  const err = t.throws(() => parseOptions(raw({ format: 'feather', output: 'o' }), DEFAULTS), { instanceOf: SmoothL1Error });
  t.regex(err?.reason ?? '', /--format must be npy, arrow or arrows/);
});

// ------------------------------------------------------------------ --reduction

for (const reduction of ['mean', 'sum'] as const) {
  test(`--reduction ${reduction} is accepted with or without --output`, (t) => {
    t.is(parseOptions(raw({ reduction }), DEFAULTS).reduction, reduction);
    t.is(parseOptions(raw({ reduction, output: 'x.npy' }), DEFAULTS).output, 'x.npy');
  });
}

test('--reduction none needs --output, which may be - for stdout', (t) => {
  t.regex(usageError(t, () => parseOptions(raw({ reduction: 'none' }), DEFAULTS)).reason, /--output/);
  t.is(parseOptions(raw({ reduction: 'none', output: '-' }), DEFAULTS).output, '-');
});

for (const reduction of ['', 'Mean', 'MEAN', ' sum', 'sum ', 'avg', 'average', 'total', 'none,sum', 'elementwise']) {
  test(`--reduction ${JSON.stringify(reduction)} is refused`, (t) => {
    const err = usageError(t, () => parseOptions(raw({ reduction, output: 'x.npy' }), DEFAULTS));
    t.regex(err.reason, /--reduction must be none, mean or sum/);
  });
}

// ------------------------------------------------------------------ --delta

const DELTAS: readonly (readonly [string, number])[] = [
  ['1', 1],
  ['1.0', 1],
  ['0.5', 0.5],
  ['.5', 0.5],
  ['2.5E2', 250],
  ['1e-3', 0.001],
  ['5e-324', 5e-324],
  ['1.7976931348623157e308', 1.7976931348623157e308],
];

for (const [text, value] of DELTAS) {
  test(`--delta ${text} is ${value}`, (t) => {
    t.is(parseOptions(raw({ delta: text }), DEFAULTS).delta, value);
  });
}

// The conformance README: "delta must be a finite number > 0".
const BAD_DELTAS: readonly string[] = ['0', '0.0', '-0', '-1', '-1e-300', '', ' ', 'nan', 'NaN', ' nan ', 'inf', 'Infinity', '-Infinity', '1e309', 'abc', '1,5', '1_0', '1.5.2', 'one'];

for (const text of BAD_DELTAS) {
  test(`--delta ${JSON.stringify(text)} is refused`, (t) => {
    t.regex(usageError(t, () => parseOptions(raw({ delta: text }), DEFAULTS)).reason, /^--delta must be/);
  });
}

testProp(
  'any positive finite double given as text is read back exactly',
  [fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true })],
  (t, x) => {
    t.is(parseOptions(raw({ delta: String(x) }), DEFAULTS).delta, x);
    t.is(parseOptions(raw({ delta: x.toExponential() }), DEFAULTS).delta, x);
  },
  { numRuns: 200 },
);

testProp(
  'any double <= 0 is refused',
  [fc.double({ max: 0, noNaN: true })],
  (t, x) => {
    usageError(t, () => parseOptions(raw({ delta: String(x) }), DEFAULTS));
  },
  { numRuns: 100 },
);

// ------------------------------------------------------------------ --threads and SMOOTHL1_CHUNK_ELEMENTS

const INT_FLAGS = [
  ['threads', '--threads'],
  ['chunkElements', 'SMOOTHL1_CHUNK_ELEMENTS'],
] as const;

for (const [key, flag] of INT_FLAGS) {
  testProp(
    `${flag}: any positive safe integer in decimal digits is accepted`,
    [fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })],
    (t, n) => {
      t.is(parseOptions(raw({ [key]: String(n) }), DEFAULTS)[key], n);
    },
    { numRuns: 100 },
  );

  for (const text of ['0', '00', '-1', '+2', '1.5', '2.0', '1e3', '0x10', '', ' ', ' 2', '2 ', 'two', '9007199254740992', '99999999999999999999']) {
    test(`${flag} ${JSON.stringify(text)} is refused`, (t) => {
      const err = usageError(t, () => parseOptions(raw({ [key]: text }), DEFAULTS));
      t.true(err.reason.startsWith(`${flag} must be a positive integer`), err.reason);
    });
  }

  testProp(
    `${flag}: text with anything but digits is refused`,
    [fc.string({ minLength: 1, maxLength: 8 }).filter((s) => /\D/.test(s))],
    (t, text) => {
      usageError(t, () => parseOptions(raw({ [key]: text }), DEFAULTS));
    },
    { numRuns: 100 },
  );
}

test('leading zeros are only digits: --threads 007 is 7', (t) => {
  t.is(parseOptions(raw({ threads: '007' }), DEFAULTS).threads, 7);
});

// ------------------------------------------------------------------ --fail-above

test('--fail-above: absent is undefined; any finite number is taken', (t) => {
  t.is(parseFailAbove(raw()), undefined);
  t.is(parseFailAbove(raw({ failAbove: '0.5' })), 0.5);
  t.is(parseFailAbove(raw({ failAbove: '0' })), 0);
  t.is(parseFailAbove(raw({ failAbove: '-1e3' })), -1000);
  t.is(parseFailAbove(raw({ reduction: 'sum', failAbove: '12' })), 12);
});

for (const text of ['', ' ', 'nan', 'inf', '-Infinity', '1e999', 'abc']) {
  test(`--fail-above ${JSON.stringify(text)} is refused`, (t) => {
    t.regex(usageError(t, () => parseFailAbove(raw({ failAbove: text }))).reason, /^--fail-above must be a finite number/);
  });
}

test('--fail-above needs a scalar loss', (t) => {
  t.regex(usageError(t, () => parseFailAbove(raw({ reduction: 'none', output: 'x.npy', failAbove: '1' }))).reason, /--reduction mean or sum/);
});

test('SMOOTHL1_POOL_MIN_ELEMENTS takes 0 and positive integers, and nothing else', (t) => {
  t.is(parseOptions(raw({ poolMinElements: '0' }), DEFAULTS).poolMinElements, 0);
  t.is(parseOptions(raw({ poolMinElements: '4096' }), DEFAULTS).poolMinElements, 4096);
  t.is(parseOptions(raw({}), DEFAULTS).poolMinElements, DEFAULTS.poolMinElements);
  for (const text of ['00', '-1', '1.5', '', 'x']) usageError(t, () => parseOptions(raw({ poolMinElements: text }), DEFAULTS));
});

// Nothing is written without --output, so a --format there means nothing:
// say so, rather than object to the format of an output that does not exist.
test('--format without --output is refused, naming both', (t) => {
  const err = t.throws(() => parseOptions(raw({ format: 'arrow' }), DEFAULTS), { instanceOf: SmoothL1Error });
  t.is(err?.code, 'usage');
  t.regex(err?.reason ?? '', /--format .*--output/);
});
