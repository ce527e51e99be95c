import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { posix, sep } from 'node:path';
import { ROOT } from './helpers/cli.js';
import {
  BROKEN_IMPORT_WHY,
  checkArchitecture,
  formatViolation,
  NO_LAYER_WHY,
  parseImports,
  unknownScopes,
  type Architecture,
  type Layer,
  type Rule,
  type Violation,
} from './helpers/imports.js';

// A file belongs to the first layer whose scope holds it. A new folder (or a
// file loose in src/ or formats/) belongs to none, which the check reports, so
// growing the tree means adding a row here and deciding its rule.
const LAYERS: readonly Layer[] = [
  { scope: 'index.ts', role: "the library's public API" },
  { scope: 'cli/', role: 'argv → options → run → exit code' },
  { scope: 'pipeline/', role: 'opens the pair, plans chunks, schedules, folds results, feeds the writer' },
  { scope: 'workers/', role: 'the pool and the worker entry, and the task a worker runs' },
  { scope: 'compute/', role: 'the loss formula, its executable spec, the WebAssembly kernel, widening, reduction' },
  { scope: 'formats/index.ts', role: 'the one table of formats' },
  { scope: 'formats/*/', role: 'one folder per format: npy, arrow, later parquet, npz, safetensors' },
  { scope: 'io/', role: 'positional reads, atomic output files, sinks, stream reading' },
  { scope: 'print/', role: 'text output of results' },
  { scope: 'tensor/', role: 'dtype, tensor header and chunk types, errors, byte order, float16' },
];

// node: built-ins are deliberately unrestricted: compute/wasm-kernel.ts
// imports node:buffer today, so "compute/ and tensor/ use no node: module"
// does not hold.
const RULE = {
  tensor: {
    kind: 'imports-only',
    layer: 'tensor/',
    may: [],
    why: 'tensor/ is the vocabulary every stage shares, so it must depend on none of them.',
  },
  compute: {
    kind: 'imports-only',
    layer: 'compute/',
    may: ['tensor/'],
    why: 'the kernel and reducer stay pure, testable on typed arrays without threads or files.',
  },
  io: {
    kind: 'imports-only',
    layer: 'io/',
    may: ['tensor/'],
    why: 'moving bytes knows no format and no formula.',
  },
  print: {
    kind: 'imports-only',
    layer: 'print/',
    may: ['tensor/'],
    why: 'printing a result needs only its value and dtype.',
  },
  format: {
    kind: 'imports-only',
    layer: 'formats/*/',
    may: ['io/', 'tensor/'],
    why: 'a format is a plug-in; adding or removing one touches only its folder and one line of the table.',
  },
  formatTable: {
    kind: 'imports-only',
    layer: 'formats/index.ts',
    may: ['formats/*/', 'io/', 'tensor/'],
    why: 'the table only registers formats.',
  },
  workers: {
    kind: 'imports-only',
    layer: 'workers/',
    may: ['tensor/', 'io/', 'compute/', 'formats/index.ts'],
    why: "workers reach formats only through the table's task interface.",
  },
  pipeline: {
    kind: 'imports-not',
    layer: 'pipeline/',
    mayNot: ['cli/', 'formats/*/'],
    why: 'the library must work without the command line, and reaches formats only through their table, so that adding one changes nothing here.',
  },
  cli: {
    kind: 'imported-only-by',
    target: 'cli/',
    by: ['cli/'],
    why: 'the CLI is the outermost layer, the only place that prints errors or exits.',
  },
  publicApi: {
    kind: 'imports-only',
    layer: 'index.ts',
    may: ['pipeline/', 'tensor/', 'print/'],
    why: 'the public API re-exports; it implements nothing.',
  },
  commander: {
    kind: 'package-only-from',
    package: 'commander',
    by: ['cli/'],
    why: 'flag parsing belongs to the CLI.',
  },
  apacheArrow: {
    kind: 'package-only-from',
    package: 'apache-arrow',
    by: ['formats/arrow/'],
    why: 'apache-arrow is large and loaded lazily for Arrow files only.',
  },
} as const satisfies Record<string, Rule>;

const RULES: readonly Rule[] = Object.values(RULE);
const ARCHITECTURE: Architecture = { layers: LAYERS, rules: RULES };

/** [importer, target]: both relative to src/, or the target a package name. */
type Edge = readonly [importer: string, target: string];

interface Examples {
  readonly refused: readonly [Edge, ...Edge[]];
  readonly permitted: readonly [Edge, ...Edge[]];
}

// Keyed like RULE, so a rule without examples does not compile.
const EXAMPLES: Readonly<Record<keyof typeof RULE, Examples>> = {
  tensor: {
    refused: [['tensor/a.ts', 'compute/b.ts']],
    permitted: [['tensor/a.ts', 'tensor/b.ts']],
  },
  compute: {
    refused: [
      ['compute/x.ts', 'io/y.ts'],
      ['compute/x.ts', 'workers/pool.ts'],
    ],
    permitted: [
      ['compute/x.ts', 'tensor/dtype.ts'],
      ['compute/x.ts', 'compute/y.ts'],
    ],
  },
  io: {
    refused: [['io/a.ts', 'formats/npy/read.ts']],
    permitted: [['io/a.ts', 'tensor/errors.ts']],
  },
  print: {
    refused: [['print/scalar.ts', 'compute/reduce.ts']],
    permitted: [['print/scalar.ts', 'tensor/dtype.ts']],
  },
  format: {
    refused: [
      ['formats/npy/a.ts', 'formats/arrow/b.ts'],
      ['formats/npy/a.ts', 'formats/index.ts'],
      ['formats/arrow/read.ts', 'pipeline/output.ts'],
    ],
    permitted: [
      ['formats/npy/a.ts', 'formats/npy/b.ts'],
      ['formats/npy/a.ts', 'io/sink.ts'],
      ['formats/arrow/read.ts', 'tensor/tensor.ts'],
    ],
  },
  formatTable: {
    refused: [['formats/index.ts', 'pipeline/loss.ts']],
    permitted: [['formats/index.ts', 'formats/npy/read.ts']],
  },
  workers: {
    refused: [
      ['workers/w.ts', 'formats/npy/read.ts'],
      ['workers/w.ts', 'pipeline/loss.ts'],
    ],
    permitted: [
      ['workers/w.ts', 'formats/index.ts'],
      ['workers/w.ts', 'compute/stage.ts'],
    ],
  },
  pipeline: {
    refused: [
      ['pipeline/p.ts', 'cli/main.ts'],
      ['pipeline/p.ts', 'formats/npy/read.ts'],
    ],
    permitted: [
      ['pipeline/p.ts', 'formats/index.ts'],
      ['pipeline/p.ts', 'workers/pool.ts'],
    ],
  },
  cli: {
    refused: [['workers/w.ts', 'cli/gate.ts']],
    permitted: [
      ['cli/main.ts', 'cli/options.ts'],
      ['cli/main.ts', 'pipeline/loss.ts'],
    ],
  },
  publicApi: {
    refused: [['index.ts', 'compute/reduce.ts']],
    permitted: [['index.ts', 'print/scalar.ts']],
  },
  commander: {
    refused: [['io/a.ts', 'commander']],
    permitted: [['cli/main.ts', 'commander']],
  },
  apacheArrow: {
    refused: [['formats/npy/read.ts', 'apache-arrow']],
    permitted: [['formats/arrow/read.ts', 'apache-arrow']],
  },
};

/** The specifier `importer` would write for `target`: the emitted .js path, or the package name as is. */
function specifierFor(importer: string, target: string): string {
  if (!target.endsWith('.ts')) return target;
  const relative = posix.relative(posix.dirname(importer), target.replace(/\.ts$/, '.js'));
  return relative.startsWith('.') ? relative : `./${relative}`;
}

/** A two-file tree in which `importer` imports `target` and nothing else. */
function treeOf([importer, target]: Edge): Map<string, string> {
  const sources = new Map([[importer, `import { x } from '${specifierFor(importer, target)}';\n`]]);
  if (target.endsWith('.ts') && target !== importer) sources.set(target, 'export const x = 1;\n');
  return sources;
}

function describe(violations: readonly Violation[]): string {
  return violations.length === 0 ? '(none)' : violations.map(formatViolation).join('\n');
}

function loadSources(): Map<string, string> {
  const src = `${ROOT}src/`;
  const paths = readdirSync(src, { recursive: true, encoding: 'utf8' })
    .map((path) => path.split(sep).join('/'))
    .filter((path) => path.endsWith('.ts'))
    .sort();
  return new Map(paths.map((path) => [path, readFileSync(`${src}${path}`, 'utf8')]));
}

test('src/ has no import that crosses a layer boundary', (t) => {
  const sources = loadSources();
  // Guards against a wrong root passing by finding nothing to check.
  t.true(sources.has('index.ts'), `no src/index.ts under ${ROOT}`);
  t.true([...sources.values()].some((source) => parseImports(source).length > 0), 'no imports found in src/');
  const violations = checkArchitecture(sources, ARCHITECTURE);
  if (violations.length > 0) t.fail(`${violations.length} violation(s):\n${describe(violations)}`);
});

test('every scope a rule names is a layer of the table', (t) => {
  t.deepEqual(unknownScopes(ARCHITECTURE), []);
  const typo: Rule = { kind: 'imports-only', layer: 'tensors/', may: ['formats/npy/'], why: 'a typo.' };
  t.deepEqual(unknownScopes({ layers: LAYERS, rules: [...RULES, typo] }), ['tensors/']);
});

for (const [name, examples] of Object.entries(EXAMPLES)) {
  const rule = RULE[name as keyof typeof RULE];
  for (const edge of examples.refused) {
    test(`rule ${name} reports ${edge[0]} importing ${edge[1]}`, (t) => {
      const violations = checkArchitecture(treeOf(edge), ARCHITECTURE);
      const expected: Violation = { file: edge[0], target: edge[1], why: rule.why };
      t.true(
        violations.some((v) => v.file === expected.file && v.target === expected.target && v.why === expected.why),
        `expected ${formatViolation(expected)}\ngot:\n${describe(violations)}`,
      );
    });
  }
  for (const edge of examples.permitted) {
    test(`rule ${name} permits ${edge[0]} importing ${edge[1]}`, (t) => {
      t.deepEqual(checkArchitecture(treeOf(edge), ARCHITECTURE), []);
    });
  }
}

test('dynamic, typeof-import and type-only imports are checked like static ones', (t) => {
  const sources = new Map([
    ['workers/w.ts', "export const load = () => import('../formats/npy/read.js');\n"],
    ['workers/v.ts', "export type Read = typeof import('../formats/npy/read.js');\n"],
    ['index.ts', "export type { Reduction } from './compute/reduce.js';\n"],
    ['formats/npy/read.ts', 'export {};\n'],
    ['compute/reduce.ts', 'export type Reduction = string;\n'],
  ]);
  t.deepEqual(checkArchitecture(sources, ARCHITECTURE), [
    { file: 'index.ts', target: 'compute/reduce.ts', why: RULE.publicApi.why },
    { file: 'workers/v.ts', target: 'formats/npy/read.ts', why: RULE.workers.why },
    { file: 'workers/w.ts', target: 'formats/npy/read.ts', why: RULE.workers.why },
  ]);
});

test('an import inside a comment is not checked', (t) => {
  const sources = new Map([
    ['compute/x.ts', "// import { y } from '../io/y.js';\n/* import '../cli/main.js'; */\nexport {};\n"],
    ['io/y.ts', 'export const y = 1;\n'],
  ]);
  t.deepEqual(checkArchitecture(sources, ARCHITECTURE), []);
});

test('a relative import that resolves to no .ts file under src/ is reported', (t) => {
  const sources = new Map([
    ['compute/x.ts', "import { a } from './missing.js';\nimport { b } from './y';\nimport { c } from '../../test/z.js';\n"],
    ['compute/y.ts', 'export const b = 1;\n'],
  ]);
  t.deepEqual(
    checkArchitecture(sources, ARCHITECTURE).map((v) => v.target),
    ['./missing.js', './y', '../../test/z.js'],
  );
  t.true(checkArchitecture(sources, ARCHITECTURE).every((v) => v.why === BROKEN_IMPORT_WHY));
});

test('a file outside every layer is reported', (t) => {
  const sources = new Map([
    ['helpers.ts', 'export {};\n'],
    ['server/http.ts', 'export {};\n'],
    ['formats/registry.ts', 'export {};\n'],
    ['formats/npy/read.ts', 'export {};\n'],
  ]);
  t.deepEqual(checkArchitecture(sources, ARCHITECTURE), [
    { file: 'formats/registry.ts', why: NO_LAYER_WHY },
    { file: 'helpers.ts', why: NO_LAYER_WHY },
    { file: 'server/http.ts', why: NO_LAYER_WHY },
  ]);
});

// Each construct that could derail a comment stripper is followed by a real
// import before the next `*/`, so a derailment loses that import.
const TRICKY_SOURCE = [
  'import {', // 1
  '  a,',
  '  type B,',
  "} from './multi.js';",
  "const url = 'http://example.com/*';", // 5
  "import type { T } from './types.js';",
  'const re = /[/*]/;',
  "export * from './all.js';",
  "const t = `// ${1}`; import './side-effect.js';",
  "const u = `a ${`b ${'c'}`} /*`;", // 10
  "export { c as d } from './some.js';",
  "export type { U } from './more-types.js';",
  "const lazy = (): Promise<typeof import('./typed.js')> => import('./lazy.js');",
  "import Default, * as ns from 'apache-arrow';",
  "export const notAnImport = { from: 'x' };", // 15
  "// import { no } from './line-comment.js';",
  "/* import { no } from './block-comment.js'; */",
  '/**',
  " * import { no } from './doc-comment.js';",
  ' */', // 20
  'import {',
  '  x, // the x',
  '  /* y, */ z,',
  "} from './commented-clause.js';",
  'const doc = "import { no } from \'./in-a-string.js\'";', // 25
  "const code = `await import('./in-a-template.js')`;",
].join('\n');

test('the parser finds multi-line, type-only, re-export, side-effect and dynamic imports, not those in comments or strings', (t) => {
  const found = parseImports(TRICKY_SOURCE).map((r) => [r.specifier, r.form, r.typeOnly, r.line] as const);
  t.deepEqual(found, [
    ['./multi.js', 'import', false, 1],
    ['./types.js', 'import', true, 6],
    ['./all.js', 'export', false, 8],
    ['./side-effect.js', 'side-effect', false, 9],
    ['./some.js', 'export', false, 11],
    ['./more-types.js', 'export', true, 12],
    ['./typed.js', 'dynamic', true, 13],
    ['./lazy.js', 'dynamic', false, 13],
    ['apache-arrow', 'import', false, 14],
    ['./commented-clause.js', 'import', false, 21],
  ]);
});
