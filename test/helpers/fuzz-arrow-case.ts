/**
 * One Arrow fuzz case, as data: a valid IPC file or stream (helpers/
 * fuzz-arrow.ts), byte-level mutations aimed at its length fields,
 * flatbuffers and bodies, and how it is paired: column x against column y
 * of itself, or column x against a valid partner file.
 */
import * as fc from 'fast-check';
import { arrowBytes, arrowMap, readArrowOwn, type ArrowBase, type ArrowVerdict, type ExtraKind } from './fuzz-arrow.js';
import { applyMutations, intValueArb, mutationArb, targetArb, type Layout, type Mutation, type Region } from './fuzz-mutate.js';
import { writeFileSync } from 'node:fs';
import { saveFailure } from './fuzz-check.js';
import { referenceInChild } from './fuzz-ref-client.js';
import { execOptions, judge, runAgainstPartner, type FuzzDir, type Judged, type RefThunk, type RefVerdict, type RunConfig } from './fuzz-run.js';
import { DTYPES } from './reference.js';

export interface ArrowCase {
  readonly base: ArrowBase;
  readonly mutations: readonly Mutation[];
  readonly other: ArrowBase;
  /** 'self': x of the mutated file against its own y; 'partner': its x against a valid file. */
  readonly pairing: 'self' | 'partner';
}

const rowShapeArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant([]) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 5 })).map((s) => [...s]) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).map((s) => [...s]) },
);

export const arrowBaseArb = (rows: fc.Arbitrary<number> = fc.integer({ min: 0, max: 24 })): fc.Arbitrary<ArrowBase> =>
  fc.record({
    format: fc.constantFrom<ArrowBase['format']>('file', 'stream'),
    x: fc.constantFrom(...DTYPES),
    y: fc.constantFrom(...DTYPES),
    rowShape: rowShapeArb,
    tensor: fc.boolean(),
    rows,
    batchRows: fc.integer({ min: 1, max: 10 }),
    extra: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom<ExtraKind>('utf8', 'int32', 'dict', 'list', 'struct'), { minLength: 1, maxLength: 2 }) }),
    nulls: fc.oneof({ weight: 6, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 2 }) }),
    seed: fc.integer(),
  });

const ARROW_REGIONS: readonly Region[] = ['any', 'length', 'length', 'meta', 'meta', 'meta', 'body', 'tail'];

export const arrowCaseArb = (rows?: fc.Arbitrary<number>): fc.Arbitrary<ArrowCase> =>
  fc.record({
    base: arrowBaseArb(rows),
    mutations: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 5, arbitrary: fc.array(mutationArb(ARROW_REGIONS), { minLength: 1, maxLength: 4 }) }),
    other: arrowBaseArb(),
    pairing: fc.constantFrom<ArrowCase['pairing']>('self', 'self', 'partner'),
  });

/** Claims: one 32- or 64-bit field of a flatbuffer or a length field set to an extreme, perhaps with a flip elsewhere. */
export const arrowClaimCaseArb: fc.Arbitrary<ArrowCase> = fc.record({
  base: arrowBaseArb(),
  mutations: fc.tuple(
    fc.oneof(
      fc.record({ k: fc.constant('int' as const), at: targetArb(['meta']), width: fc.constant<8>(8), value: intValueArb(8), aligned: fc.constant(true) }),
      fc.record({ k: fc.constant('int' as const), at: targetArb(['meta', 'length']), width: fc.constant<4>(4), value: intValueArb(4), aligned: fc.constant(true) }),
    ),
  ).map((ms): Mutation[] => [...ms]),
  other: arrowBaseArb(),
  pairing: fc.constant('self' as const),
});

/** Where a valid file's regions are (the mutations resolve against the original). */
export function arrowLayout(bytes: Uint8Array): Layout {
  const map = arrowMap(bytes);
  return { head: map.bodies[0]?.[0] ?? bytes.length, lengthFields: map.lengthFields, flatbuffers: map.flatbuffers, bodies: map.bodies };
}

export function arrowInput(c: ArrowCase): Uint8Array {
  const bytes = arrowBytes(c.base);
  return c.mutations.length === 0 ? bytes : applyMutations(bytes, c.mutations, arrowLayout(bytes), arrowBytes(c.other));
}

const toRef = (v: ArrowVerdict, note?: string): RefVerdict =>
  v.ok ? { ok: true, dtype: v.ref.dtype, shape: v.ref.shape, values: v.ref.values, hasNull: v.ref.hasNull, ...(note === undefined ? {} : { note }) } : { ok: false, why: v.why };

/**
 * What column `name` of `bytes` holds, as readings to try in order: this
 * suite's own reader (fuzz-arrow.ts, from the specification); then, only
 * where it refuses or disagrees, flechette's and apache-arrow's (in a child
 * process: they trust metadata smoothl1 need not read, and flechette once
 * ran out of memory on such a file), each noted, so that the tally shows
 * how often only a second opinion explains a result.
 */
export function arrowRefs(bytes: Uint8Array, name: string): RefThunk[] {
  let own: ReturnType<typeof readArrowOwn> | undefined;
  const ownReading = (): ReturnType<typeof readArrowOwn> => (own ??= readArrowOwn(bytes, name));
  const why = (): string => {
    const o = ownReading();
    return o.ok ? 'own reader reads other values' : o.why;
  };
  return [
    () => {
      const o = ownReading();
      return toRef(o, o.ok && (o.notes ?? []).length > 0 ? `own-reader-lenient:${o.notes![0]}` : undefined);
    },
    async () => toRef(await referenceInChild('flechette', bytes, name), `flechette-only|${why()}`),
    async () => toRef(await referenceInChild('apache-arrow', bytes, name), `arrowjs-only|${why()}`),
  ];
}

export const baseShape = (base: ArrowBase): number[] => [base.rows, ...base.rowShape];

const describe = (c: ArrowCase, cfg: RunConfig, bytes: Uint8Array): string => {
  const saved = saveFailure(`arrow.${c.base.format === 'file' ? 'arrow' : 'arrows'}`, bytes);
  return `input saved at ${saved}\ncase: ${fc.stringify(c)}\nconfig: ${fc.stringify(cfg)}`;
};

/** One Arrow case: x against y of the same file, or x against a valid partner of the base's shape. */
export async function runArrowCase(dir: FuzzDir, c: ArrowCase, cfg: RunConfig, pool: boolean, maxMs = Infinity): Promise<Judged> {
  const bytes = arrowInput(c);
  const name = c.base.format === 'file' ? 'mutated.arrow' : 'mutated.arrows';
  let judged: Judged;
  if (c.pairing === 'self') {
    const path = dir.path(name);
    writeFileSync(path, bytes);
    const params = { reduction: cfg.reduction, delta: cfg.delta, huber: cfg.huber };
    judged = await judge(
      { path, refs: arrowRefs(bytes, 'x') },
      { path, refs: arrowRefs(bytes, 'y') },
      { ...execOptions(pool, dir, cfg), inputColumn: 'x', labelColumn: 'y' },
      params,
      () => describe(c, cfg, bytes),
    );
  } else {
    const column = cfg.mutatedFirst ? { inputColumn: 'x' } : { labelColumn: 'x' };
    judged = await runAgainstPartner(dir, { bytes, refs: arrowRefs(bytes, 'x') }, name, cfg, baseShape(c.base), pool, () => describe(c, cfg, bytes), column);
  }
  if (judged.ms > maxMs) throw new Error(`slow: ${judged.ms.toFixed(0)} ms\n${describe(c, cfg, bytes)}`);
  return judged;
}

