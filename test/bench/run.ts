import { mkdirSync, rmSync, statSync } from 'node:fs';
import { checkNone, checkScalar, referenceFor, type CheckOutcome, type Reference } from './check.js';
import { prepareDataset, type Dataset, type DatasetId } from './datasets.js';
import { flushWrites, measure, warmPageCache, type Measurement, type RssProbe } from './measure.js';
import { OUTPUT_DIR } from './paths.js';
import { outputPath, type Row, type RowContext } from './rows.js';

/** smoothl1's default; every command and check uses the same value. */
export const DELTA = 1;

/** Everything measured for one row at one size. */
export interface RowResult {
  readonly row: Row;
  /** Bytes of input consumed per run (both files). */
  readonly bytes: number;
  /** Tensor elements per input file. */
  readonly elements: number;
  readonly walls: number[];
  readonly rssKiB: number[];
  readonly checks: CheckOutcome[];
  /** Set when the row could not run here; it has no measurements then. */
  skipped: string | undefined;
  /** Set when a run exited non-zero; later repetitions are not attempted. */
  failure: string | undefined;
}

/** One row ready to run: its data, its reference result (if checked) and its command's context. */
interface Planned {
  readonly result: RowResult;
  readonly data: Dataset;
  readonly context: RowContext;
  readonly reference: Reference | undefined;
}

const inputBytes = (data: Dataset): number => statSync(data.input).size + statSync(data.label).size;

function emptyResult(row: Row, data: Dataset, skipped: string | undefined): RowResult {
  return { row, bytes: skipped === undefined ? inputBytes(data) : 0, elements: data.elements, walls: [], rssKiB: [], checks: [], skipped, failure: undefined };
}

/** Generates data sets once each (in row order) and settles which rows can run. */
async function plan(rows: readonly Row[], datasets: ReadonlyMap<DatasetId, Dataset>): Promise<{ planned: Planned[]; results: RowResult[] }> {
  const prepared = new Map<DatasetId, string | undefined>();
  const planned: Planned[] = [];
  const results: RowResult[] = [];
  for (const row of rows) {
    const data = datasets.get(row.dataset);
    if (data === undefined) throw new Error(`bench: row ${row.id} names unknown dataset ${row.dataset}`);
    if (!prepared.has(data.id)) prepared.set(data.id, await prepareDataset(data));
    const skipped = prepared.get(data.id) ?? row.requires?.(data);
    const result = emptyResult(row, data, skipped);
    results.push(result);
    if (skipped !== undefined) continue;
    const reference = row.check === undefined ? undefined : (data.knownReference ?? (await referenceFor(data.reference, DELTA)));
    planned.push({ result, data, reference, context: { data, delta: DELTA, output: outputPath(row) } });
  }
  return { planned, results };
}

/** NumPy prints float64, so its answer is held to float64 accuracy rather than the result dtype's. */
async function checkRun(item: Planned, run: Measurement): Promise<CheckOutcome | undefined> {
  const { row } = item.result;
  if (row.check === undefined || item.reference === undefined) return undefined;
  if (row.check === 'none') return checkNone(item.data.reference, item.context.output, DELTA);
  return checkScalar(run.stdout, item.reference, row.check, row.kind === 'numpy' ? 0 : item.reference.eps);
}

function firstLine(text: string): string {
  return text.trim().split('\n').find((line) => line.trim() !== '') ?? '';
}

function progress(label: string, item: Planned, run: Measurement, check: CheckOutcome | undefined): void {
  const verdict = run.code !== 0 ? `FAILED (exit ${String(run.code)})` : check === undefined ? '' : check.ok ? 'ok' : 'MISMATCH';
  const rss = (run.rssKiB / 1024).toFixed(0);
  process.stderr.write(`bench: ${label} ${item.result.row.id}: ${run.wallS.toFixed(3)} s, ${rss} MiB ${verdict}\n`);
}

/** One timed run: warm cache (unless the data is too large to stay cached), clean output slot, measure, check, clean up. */
async function runOnce(item: Planned, probe: RssProbe, label: string): Promise<void> {
  const { result, data, context } = item;
  if (data.warm !== false) warmPageCache([data.input, data.label]);
  if (result.row.writesOutput === true) {
    rmSync(context.output, { force: true });
    flushWrites();
  }
  const run = await measure(result.row.command(context), probe);
  const check = run.code === 0 ? await checkRun(item, run) : undefined;
  progress(label, item, run, check);
  if (result.row.writesOutput === true) rmSync(context.output, { force: true });
  if (run.code !== 0) {
    result.failure = `exit ${String(run.code)}: ${firstLine(run.stderr)}`;
    return;
  }
  result.walls.push(run.wallS);
  result.rssKiB.push(run.rssKiB);
  if (check !== undefined) result.checks.push(check);
}

/**
 * Runs the rows round-robin, repetition by repetition, so slow drifts in a
 * shared machine's load touch every row alike and ratios stay comparable.
 */
export async function runRows(
  rows: readonly Row[],
  datasets: ReadonlyMap<DatasetId, Dataset>,
  reps: number,
  probe: RssProbe,
  title: string,
): Promise<RowResult[]> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const { planned, results } = await plan(rows, datasets);
  for (let rep = 1; rep <= reps; rep++) {
    for (const item of planned) {
      if (item.result.failure === undefined) await runOnce(item, probe, `[${title} ${rep}/${reps}]`);
    }
  }
  return results;
}
