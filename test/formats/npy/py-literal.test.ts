import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { parsePyLiteral, PyLiteralError, type PyValue } from '../../../src/formats/npy/py-literal.js';

// Expected values are what Python's ast.literal_eval gives, with tuples and
// lists both as arrays and dicts as objects.
const ACCEPTED: readonly (readonly [string, PyValue])[] = [
  ["{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", { descr: '<f8', fortran_order: false, shape: [3, 4] }],
  ["{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", { descr: '<f4', fortran_order: true, shape: [3] }],
  ["{'descr': '|b1', 'fortran_order': False, 'shape': ()}", { descr: '|b1', fortran_order: false, shape: [] }],
  ['{}', {}],
  ['{ }', {}],
  ["{'a': 1,}", { a: 1 }],
  ['()', []],
  ['( )', []],
  ['(3,)', [3]],
  ['(1, 2, 3)', [1, 2, 3]],
  ['(1, 2, 3,)', [1, 2, 3]],
  ['[]', []],
  ['[1, [2, (3,)], {}]', [1, [2, [3]], {}]],
  ["{'a': {'b': ('c', None)}}", { a: { b: ['c', null] } }],
  ['"double"', 'double'],
  ["'single'", 'single'],
  ["''", ''],
  ['0', 0],
  ['-12', -12],
  ['+7', 7],
  ['10L', 10],
  ['True', true],
  ['False', false],
  ['None', null],
  ["  \n\t{'a' :\n 1 , 'b':2}\n  ", { a: 1, b: 2 }],
  ["{'a': 1, 'a': 2}", { a: 2 }],
  ["{'key with spaces': 'é ü'}", { 'key with spaces': 'é ü' }],
  ["{'x': \"it's\"}", { x: "it's" }],
];

for (const [text, expected] of ACCEPTED) {
  test(`parses ${JSON.stringify(text)}`, (t) => {
    t.deepEqual(parsePyLiteral(text), expected);
  });
}

// Malformed Python, plus what Python accepts but a header never holds and
// this parser deliberately leaves out: floats, hex, non-string dict keys.
const REFUSED: readonly string[] = [
  '',
  '   ',
  '{',
  '{}}',
  "{'a': 1",
  "{'a' 1}",
  "{'a': }",
  "{'a': 1 'b': 2}",
  "{'a': 1,, }",
  '{,}',
  '{1: 2}',
  '{None: 2}',
  '{(1,): 2}',
  '(,)',
  '(1,,)',
  '(1 2)',
  '(1,',
  '[1, 2',
  "'unterminated",
  '"mixed\'',
  '1.5',
  '1e3',
  '0x10',
  'true',
  'none',
  'TrueX',
  'abc',
  '{} x',
  '(3,) (4,)',
  "{'a': 1}}",
];

for (const text of REFUSED) {
  test(`refuses ${JSON.stringify(text)} with a PyLiteralError`, (t) => {
    t.throws(() => parsePyLiteral(text), { instanceOf: PyLiteralError });
  });
}

/** Python literal text for a value, with tuples for arrays and dicts for objects, spaced as numpy writes headers. */
type Lit =
  | { readonly kind: 'int'; readonly v: number }
  | { readonly kind: 'str'; readonly v: string }
  | { readonly kind: 'const'; readonly v: boolean | null }
  | { readonly kind: 'tuple' | 'list'; readonly v: readonly Lit[]; readonly trailing: boolean }
  | { readonly kind: 'dict'; readonly v: readonly (readonly [string, Lit])[]; readonly trailing: boolean };

const keyArb = fc.stringMatching(/^[a-z_][a-z0-9_]{0,7}$/);

const { lit } = fc.letrec<{ lit: Lit }>((tie) => ({
  lit: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -1e9, max: 1e9 }).map((v): Lit => ({ kind: 'int', v })),
    fc.stringMatching(/^[^'\\]{0,6}$/).map((v): Lit => ({ kind: 'str', v })),
    fc.constantFrom(true, false, null).map((v): Lit => ({ kind: 'const', v })),
    fc
      .record({ kind: fc.constantFrom('tuple' as const, 'list' as const), v: fc.array(tie('lit'), { maxLength: 4 }), trailing: fc.boolean() })
      .map((r): Lit => r),
    fc
      .record({ v: fc.uniqueArray(fc.tuple(keyArb, tie('lit')), { maxLength: 4, selector: ([k]) => k }), trailing: fc.boolean() })
      .map((r): Lit => ({ kind: 'dict', ...r })),
  ),
}));

function render(l: Lit): string {
  switch (l.kind) {
    case 'int':
      return String(l.v);
    case 'str':
      return `'${l.v}'`;
    case 'const':
      return l.v === null ? 'None' : l.v ? 'True' : 'False';
    case 'tuple':
    case 'list': {
      const [open, close] = l.kind === 'tuple' ? ['(', ')'] : ['[', ']'];
      const items = l.v.map(render);
      // A 1-tuple needs its comma; an empty container takes none.
      const comma = items.length > 0 && (l.trailing || (l.kind === 'tuple' && items.length === 1)) ? ',' : '';
      return `${open}${items.join(', ')}${comma}${close}`;
    }
    case 'dict': {
      const items = l.v.map(([k, v]) => `'${k}': ${render(v)}`);
      return `{${items.join(', ')}${items.length > 0 && l.trailing ? ', ' : ''}}`;
    }
  }
}

function expected(l: Lit): PyValue {
  switch (l.kind) {
    case 'int':
    case 'str':
    case 'const':
      return l.v;
    case 'tuple':
    case 'list':
      return l.v.map(expected);
    case 'dict':
      return Object.fromEntries(l.v.map(([k, v]) => [k, expected(v)]));
  }
}

testProp(
  'parses any nesting of dicts, tuples, lists, strings, integers, True/False/None',
  [lit],
  (t, l) => {
    t.deepEqual(parsePyLiteral(render(l)), expected(l));
  },
  { numRuns: 300 },
);

testProp(
  'a literal followed by more text is refused',
  [lit, fc.constantFrom(' x', ',', ')', ' 1', "'", '}')],
  (t, l, extra) => {
    t.throws(() => parsePyLiteral(render(l) + extra), { instanceOf: PyLiteralError });
  },
  { numRuns: 150 },
);

test("a '__proto__' key is an ordinary key, as in Python, and does not set the result's prototype", (t) => {
  // Python: ast.literal_eval("{'__proto__': {'descr': '<f4'}}") == {'__proto__': {'descr': '<f4'}}.
  // parsePyLiteral assigns out['__proto__'] = value on a plain object, which
  // replaces its prototype instead of adding a key, so the header dict then
  // appears to have a 'descr' key that the header does not hold.
  const parsed = parsePyLiteral("{'__proto__': {'descr': '<f4'}}");
  t.true(parsed !== null && typeof parsed === 'object' && Object.hasOwn(parsed, '__proto__'));
  t.false(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'descr' in parsed);
});
