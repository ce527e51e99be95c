/**
 * The fuzz suite's knobs, from the environment (scripts/fuzz.mjs sets them
 * from `--runs N --seed S`):
 * - SMOOTHL1_FUZZ_RUNS: mutated inputs for the whole suite, shared out
 *   among the properties by weight (default DEFAULT_RUNS, the `npm test`
 *   budget);
 * - SMOOTHL1_FUZZ_SEED: fast-check's seed (default a fixed one, so that
 *   `npm test` is reproducible; `npm run fuzz` picks a random one and
 *   prints it);
 * - SMOOTHL1_FUZZ_PATH: with the seed, replays one counterexample (the
 *   `path` fast-check prints on failure);
 * - SMOOTHL1_FUZZ_BATCH: the most runs in one ava test; a long run is split
 *   into batches with seeds seed, seed+1, … so that ava's timeout (reset by
 *   each test's result) still bounds a run that blocks the event loop;
 * - SMOOTHL1_FUZZ_TRAIL=N: keep the last N cases (not just the current one)
 *   in the record a crashed process leaves (fuzz-check.ts, recordCurrent).
 */

/** Mutated inputs `npm test` runs, over every property (plus ~3000 exhaustive truncations): about 20 s for the fuzz files on two cores. */
export const DEFAULT_RUNS = 4000;
const DEFAULT_SEED = 0x5eed1;
const DEFAULT_BATCH = 5000;

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got '${raw}'`);
  return n;
}

export const FUZZ_RUNS = Math.max(0, intFromEnv('SMOOTHL1_FUZZ_RUNS', DEFAULT_RUNS));
export const FUZZ_SEED = intFromEnv('SMOOTHL1_FUZZ_SEED', DEFAULT_SEED) | 0;
export const FUZZ_PATH = process.env['SMOOTHL1_FUZZ_PATH'];
export const FUZZ_BATCH = Math.max(1, intFromEnv('SMOOTHL1_FUZZ_BATCH', DEFAULT_BATCH));

/** One ava test's share of a property's runs: its seed and fast-check parameters. */
export interface Batch {
  readonly index: number;
  readonly seed: number;
  readonly params: { seed: number; numRuns: number; path?: string; endOnFailure?: boolean; includeErrorInReport: true };
}

/**
 * A property's runs (`weight` of FUZZ_RUNS, at least `min`) split into
 * batches of at most FUZZ_BATCH. With SMOOTHL1_FUZZ_PATH only batch 0 runs,
 * replaying that one case.
 */
export function batches(weight: number, min = 1): Batch[] {
  const total = Math.max(min, Math.round(FUZZ_RUNS * weight));
  if (FUZZ_PATH !== undefined && FUZZ_PATH !== '') {
    return [{ index: 0, seed: FUZZ_SEED, params: { seed: FUZZ_SEED, numRuns: total, path: FUZZ_PATH, endOnFailure: true, includeErrorInReport: true } }];
  }
  const out: Batch[] = [];
  for (let done = 0, index = 0; done < total; index++) {
    const numRuns = Math.min(FUZZ_BATCH, total - done);
    const seed = (FUZZ_SEED + index) | 0;
    out.push({ index, seed, params: { seed, numRuns, includeErrorInReport: true } });
    done += numRuns;
  }
  return out;
}

/** What every property test logs at its end, so that a run can report how many inputs it fed and how they ended. */
export class Tally {
  readonly counts = new Map<string, number>();
  runs = 0;
  readonly started = performance.now();

  /** The first detail seen for each outcome that carries one (`outcome|detail`). */
  readonly examples = new Map<string, string>();

  add(outcome: string): void {
    const bar = outcome.indexOf('|');
    const key = bar < 0 ? outcome : outcome.slice(0, bar);
    if (bar >= 0 && !this.examples.has(key)) this.examples.set(key, outcome.slice(bar + 1));
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  summary(): string {
    const seconds = (performance.now() - this.started) / 1000;
    const parts = [...this.counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
    const examples = [...this.examples].map(([k, v]) => `\n  e.g. ${k}: ${v}`).join('');
    const { heapUsed, rss } = process.memoryUsage();
    const memory = `heap ${(heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(rss / 2 ** 20).toFixed(0)} MiB`;
    return `${this.runs} inputs in ${seconds.toFixed(1)} s (${(this.runs / Math.max(seconds, 1e-3)).toFixed(0)}/s; ${memory}): ${parts.join(', ')}${examples}`;
  }
}

/** How a failed fc.assert is reported: its message (seed, path, counterexample) and how to replay it. */
export function replayHint(err: unknown, seed: number): string {
  const message = err instanceof Error ? err.message : String(err);
  const path = /path: ?"([^"]*)"/.exec(message)?.[1];
  const replay = path === undefined ? '' : `\nreplay: SMOOTHL1_FUZZ_SEED=${seed} SMOOTHL1_FUZZ_PATH=${path} npx ava dist/test/fuzz/<file>.test.js`;
  return `${message}${replay}`;
}
