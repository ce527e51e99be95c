// Parses the imports of TypeScript sources and checks them against a table of
// layers and rules. Everything here is a pure function of its arguments, so a
// test can feed it the real src/ tree or a synthetic file map alike.
import { posix } from 'node:path';

/** How an import appears in the source; `typeOnly` ones vanish at run time but still couple the code. */
export type ImportForm = 'import' | 'export' | 'side-effect' | 'dynamic';

export interface ImportRecord {
  readonly specifier: string;
  readonly form: ImportForm;
  readonly typeOnly: boolean;
  /** 1-based, in the original source. */
  readonly line: number;
}

/**
 * A set of files, as a path relative to src/:
 * - `tensor/` is a folder and everything below it;
 * - `formats/*\/` is each folder directly in formats/, one at a time, so two formats are two instances;
 * - `index.ts` is that one file.
 */
export type Scope = string;

export interface Layer {
  readonly scope: Scope;
  readonly role: string;
}

/**
 * Every rule also permits imports that stay within one instance of its scope
 * (the same folder; for a file scope, the file itself, since otherwise
 * `index.ts`'s folder would be all of src/).
 */
export type Rule =
  /** Files in `layer` import only files in `may`. Packages are left to the package rules. */
  | { readonly kind: 'imports-only'; readonly layer: Scope; readonly may: readonly Scope[]; readonly why: string }
  /** Files in `layer` import no file in `mayNot`. */
  | { readonly kind: 'imports-not'; readonly layer: Scope; readonly mayNot: readonly Scope[]; readonly why: string }
  /** Files in `target` are imported only from files in `by`. */
  | { readonly kind: 'imported-only-by'; readonly target: Scope; readonly by: readonly Scope[]; readonly why: string }
  /** The package (bare specifier) is imported only from files in `by`. */
  | { readonly kind: 'package-only-from'; readonly package: string; readonly by: readonly Scope[]; readonly why: string };

export interface Architecture {
  readonly layers: readonly Layer[];
  readonly rules: readonly Rule[];
}

export interface Violation {
  /** The offending file, relative to src/. */
  readonly file: string;
  /** What it imports: a path relative to src/, a package name, or the specifier that resolves to nothing; absent when the file itself is misplaced. */
  readonly target?: string;
  readonly why: string;
}

export const BROKEN_IMPORT_WHY =
  'a relative import must name a .js path that resolves to a .ts file under src/, or the graph checked here is not the one that runs.';
export const NO_LAYER_WHY =
  'every file under src/ must sit in a layer of the table, so that a new folder is a deliberate decision with its own rule.';

/** Where an import leads: a source file under src/, a package, or nowhere that exists. */
export type Resolved =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'package'; readonly name: string }
  | { readonly kind: 'broken' };

// ---------------------------------------------------------------- parsing

/**
 * The source with every comment replaced by spaces (newlines kept, so
 * offsets and line numbers survive). Strings, template literals and regex
 * literals are skipped whole, so the slashes in `'http://x'` or `/[/]/` do not
 * start a comment. Regex literals are told from division by the character
 * before them, which suffices for the code in src/.
 */
export function stripComments(source: string): string {
  return scan(source, false);
}

/**
 * stripComments, and also the text inside every string, template and regex
 * literal blanked (delimiters kept), so that only real code can look like an
 * import: `'import x from "y"'` in a string is not one.
 */
export function codeSkeleton(source: string): string {
  return scan(source, true);
}

function scan(source: string, maskLiterals: boolean): string {
  let out = '';
  let i = 0;
  let depth = 0;
  // The brace depth at which each open template substitution `${` closes.
  const substitutions: number[] = [];
  let previous = '';
  while (i < source.length) {
    const c = source[i] ?? '';
    const next = source[i + 1] ?? '';
    if (c === '/' && (next === '/' || next === '*')) {
      const end = next === '/' ? lineEnd(source, i) : blockCommentEnd(source, i);
      out += blank(source.slice(i, end));
      i = end;
      continue;
    }
    let end = i + 1;
    let tail = 0;
    if (c === "'" || c === '"') [end, tail] = [quotedEnd(source, i), 1];
    else if (c === '/' && BEFORE_REGEX.has(previous)) [end, tail] = [regexEnd(source, i), 1];
    else if (c === '`' || (c === '}' && substitutions.at(-1) === depth)) {
      if (c === '}') substitutions.pop();
      const part = templatePartEnd(source, i + 1);
      if (part.opensSubstitution) substitutions.push(depth);
      [end, tail] = [part.end, part.opensSubstitution ? 2 : 1];
    } else if (c === '{') depth++;
    else if (c === '}') depth--;
    const token = source.slice(i, end);
    out += maskLiterals && end > i + 1 ? maskInner(token, tail) : token;
    if (!/\s/.test(c)) previous = source[end - 1] ?? '';
    i = end;
  }
  return out;
}

/** After these, a `/` begins a regex literal rather than a division. */
const BEFORE_REGEX = new Set(['', '(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^']);

function blank(text: string): string {
  return text.replace(/[^\n]/g, ' ');
}

/** A literal token with all but its opening delimiter and its last `tail` characters blanked. */
function maskInner(token: string, tail: number): string {
  const stop = Math.max(1, token.length - tail);
  return token.slice(0, 1) + blank(token.slice(1, stop)) + token.slice(stop);
}

function lineEnd(source: string, from: number): number {
  const newline = source.indexOf('\n', from);
  return newline < 0 ? source.length : newline;
}

function blockCommentEnd(source: string, from: number): number {
  const close = source.indexOf('*/', from + 2);
  return close < 0 ? source.length : close + 2;
}

/** The index just past the string literal opening at `start`. */
function quotedEnd(source: string, start: number): number {
  const quote = source[start];
  let i = start + 1;
  while (i < source.length && source[i] !== quote && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
  return Math.min(i + 1, source.length);
}

/** The index just past the regex literal's closing slash (flags follow as ordinary code). */
function regexEnd(source: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < source.length && source[i] !== '\n') {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) return i + 1;
    i++;
  }
  return i;
}

/** Scans template text from `from` to its closing backtick or to the next `${`. */
function templatePartEnd(source: string, from: number): { readonly end: number; readonly opensSubstitution: boolean } {
  let i = from;
  while (i < source.length) {
    const c = source[i];
    if (c === '\\') i += 2;
    else if (c === '`') return { end: i + 1, opensSubstitution: false };
    else if (c === '$' && source[i + 1] === '{') return { end: i + 2, opensSubstitution: true };
    else i++;
  }
  return { end: source.length, opensSubstitution: false };
}

// Matched against the skeleton, whose literals are blank: the specifier's
// text is then read from the source at the same offsets (hence the `d` flag).
// `(?<![\w$.])` keeps `x.import(` and `reimport` out; the clause grammar
// (default, `{...}`, `* as ns`) is strict so one match cannot run on into the
// next statement.
const STATIC_IMPORT =
  /(?<![\w$.])(import|export)\s*(type\s+)?((?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s*as\s+[\w$]+)?)|[\w$]+)\s*from\s*(['"])([^'"\n]+)\4/dg;
const SIDE_EFFECT_IMPORT = /(?<![\w$.])import\s*(['"])([^'"\n]+)\1/dg;
const DYNAMIC_IMPORT = /(?<![\w$.])(typeof\s+)?import\s*\(\s*(['"`])([^'"`\n]+)\2\s*[,)]/dg;

/** Every import of a module in `source`, in source order; text in comments and literals does not count. */
export function parseImports(source: string): ImportRecord[] {
  const code = codeSkeleton(source);
  const found: (ImportRecord & { readonly index: number })[] = [];
  const at = (m: RegExpExecArray, group: number, form: ImportForm, typeOnly: boolean): void => {
    const [start, end] = m.indices?.[group] ?? [0, 0];
    found.push({ specifier: source.slice(start, end), form, typeOnly, line: lineOf(code, m.index), index: m.index });
  };
  for (const m of code.matchAll(STATIC_IMPORT)) at(m, 5, m[1] === 'export' ? 'export' : 'import', m[2] !== undefined);
  for (const m of code.matchAll(SIDE_EFFECT_IMPORT)) at(m, 2, 'side-effect', false);
  for (const m of code.matchAll(DYNAMIC_IMPORT)) at(m, 3, 'dynamic', m[1] !== undefined);
  return found.sort((a, b) => a.index - b.index).map(({ index: _index, ...record }) => record);
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

// ---------------------------------------------------------------- resolving

/**
 * Resolves `specifier` as written in `importer` (both relative to src/).
 * Relative specifiers name the emitted `.js`, so they must end in `.js` and
 * are mapped back to the `.ts` source, which must be one of `files`.
 */
export function resolveImport(importer: string, specifier: string, files: ReadonlySet<string>): Resolved {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
    return specifier.startsWith('/') ? { kind: 'broken' } : { kind: 'package', name: packageName(specifier) };
  }
  if (!specifier.endsWith('.js')) return { kind: 'broken' };
  const path = posix.normalize(posix.join(posix.dirname(importer), `${specifier.slice(0, -'.js'.length)}.ts`));
  return path.startsWith('../') || !files.has(path) ? { kind: 'broken' } : { kind: 'file', path };
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`; `node:fs/promises` → `node:fs`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

// ---------------------------------------------------------------- scopes

/** The instance of `scope` that `path` falls in (e.g. `formats/npy/` for `formats/*\/`), or undefined. */
export function scopeInstance(scope: Scope, path: string): string | undefined {
  if (!scope.endsWith('/')) return path === scope ? scope : undefined;
  const pattern = scope.slice(0, -1).split('/');
  const segments = path.split('/');
  if (segments.length <= pattern.length) return undefined;
  const matches = pattern.every((p, i) => p === '*' || p === segments[i]);
  return matches ? `${segments.slice(0, pattern.length).join('/')}/` : undefined;
}

export function inScope(scope: Scope, path: string): boolean {
  return scopeInstance(scope, path) !== undefined;
}

function inAnyScope(scopes: readonly Scope[], path: string): boolean {
  return scopes.some((scope) => inScope(scope, path));
}

/** Both paths in the same instance of `scope`: the permission every rule grants. */
function sameInstance(scope: Scope, a: string, b: string): boolean {
  const instance = scopeInstance(scope, a);
  return instance !== undefined && instance === scopeInstance(scope, b);
}

/**
 * Scopes that rules mention but no layer holds (a layer's scope itself, or
 * part of one, like `formats/arrow/` of `formats/*\/`): a typo there would
 * silently disable a rule.
 */
export function unknownScopes(architecture: Architecture): Scope[] {
  const probe = (scope: Scope): string => (scope.endsWith('/') ? `${scope}probe.ts` : scope);
  const known = (scope: Scope): boolean => architecture.layers.some((layer) => inScope(layer.scope, probe(scope)));
  return [...new Set(architecture.rules.flatMap(scopesOf))].filter((scope) => !known(scope));
}

function scopesOf(rule: Rule): readonly Scope[] {
  switch (rule.kind) {
    case 'imports-only':
      return [rule.layer, ...rule.may];
    case 'imports-not':
      return [rule.layer, ...rule.mayNot];
    case 'imported-only-by':
      return [rule.target, ...rule.by];
    case 'package-only-from':
      return rule.by;
  }
}

// ---------------------------------------------------------------- checking

/** Whether importing `target` from `importer` breaks `rule`. */
export function breaks(rule: Rule, importer: string, target: Resolved): boolean {
  if (target.kind === 'broken') return false;
  if (rule.kind === 'package-only-from') {
    return target.kind === 'package' && target.name === rule.package && !inAnyScope(rule.by, importer);
  }
  if (target.kind !== 'file') return false;
  const path = target.path;
  switch (rule.kind) {
    case 'imports-only':
      return inScope(rule.layer, importer) && !sameInstance(rule.layer, importer, path) && !inAnyScope(rule.may, path);
    case 'imports-not':
      return inScope(rule.layer, importer) && !sameInstance(rule.layer, importer, path) && inAnyScope(rule.mayNot, path);
    case 'imported-only-by':
      return inScope(rule.target, path) && !sameInstance(rule.target, importer, path) && !inAnyScope(rule.by, importer);
  }
}

/**
 * Every violation in `sources` (path relative to src/ → TypeScript source):
 * files in no layer, imports that resolve to nothing, and imports that break
 * a rule (one violation per rule broken).
 */
export function checkArchitecture(sources: ReadonlyMap<string, string>, architecture: Architecture): Violation[] {
  const files = new Set(sources.keys());
  const violations: Violation[] = [];
  for (const [file, source] of [...sources].sort(([a], [b]) => a.localeCompare(b))) {
    if (!architecture.layers.some((layer) => inScope(layer.scope, file))) violations.push({ file, why: NO_LAYER_WHY });
    for (const { specifier } of parseImports(source)) {
      violations.push(...importViolations(file, specifier, files, architecture.rules));
    }
  }
  return violations;
}

function importViolations(file: string, specifier: string, files: ReadonlySet<string>, rules: readonly Rule[]): Violation[] {
  const target = resolveImport(file, specifier, files);
  if (target.kind === 'broken') return [{ file, target: specifier, why: BROKEN_IMPORT_WHY }];
  const name = target.kind === 'file' ? target.path : target.name;
  return rules.filter((rule) => breaks(rule, file, target)).map((rule) => ({ file, target: name, why: rule.why }));
}

/** `src/<file>: imports <target> — <why>`, the line a failing test prints. */
export function formatViolation(violation: Violation): string {
  const what = violation.target === undefined ? 'belongs to no layer' : `imports ${violation.target}`;
  return `src/${violation.file}: ${what} — ${violation.why}`;
}
