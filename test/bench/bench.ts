/**
 * `npm run bench`: times the real smoothl1 CLI, as a whole process, beside
 * `cat` and the NumPy one-liner in the same run (issues 3 and 6), and checks
 * every answer against NumPy so that a fast wrong result cannot pass.
 * Run `npm run bench -- --help` for the options. Not an ava test: timed
 * assertions are flaky on shared machines, so this only reports.
 */
import { loadavg, totalmem } from 'node:os';
import { rmSync } from 'node:fs';
import { defaultReps, parseBenchArgs, sizeLabel, sizeTitle, USAGE, type BenchArgs } from './args.js';
import { datasetsFor, EXAMPLE, hugeDataset, type Dataset, type DatasetId } from './datasets.js';
import { pickProbe, type RssProbe } from './measure.js';
import { OUTPUT_DIR } from './paths.js';
import { runNumpyTool } from './python.js';
import { anyBroken, flatRssLines, machineLines, table } from './report.js';
import { isHuge, ROWS, selectRows, type Row } from './rows.js';
import { runRows, type RowResult } from './run.js';

async function numpyVersion(): Promise<string> {
  try {
    return `numpy ${(await runNumpyTool(['version'])).trim()}`;
  } catch {
    return 'numpy unavailable';
  }
}

function sizeHeading(bytes: number, reps: number): string {
  const n = bytes / 4;
  return `${sizeTitle(bytes)} per float32 file (2^${Math.log2(n).toFixed(0)} = ${n} elements; float64 and float16 pairs hold as many) — ${reps} reps`;
}

const isStartup = (row: Row): boolean => row.dataset === 'example';

function hugeHeading(bytes: number, reps: number): string {
  const n = bytes / 4;
  const ram = `${(totalmem() / 2 ** 30).toFixed(1)} GiB of RAM`;
  const elements = Number.isInteger(Math.log2(n)) ? `2^${Math.log2(n)} = ${n} elements` : `${n} elements`;
  const vsRam =
    bytes > totalmem()
      ? `each file larger than this machine's ${ram}`
      : `NOT larger than this machine's ${ram}, so a row may find it cached by the one before: pass a larger --huge-size`;
  return `Larger than RAM: ${sizeTitle(bytes)} per float32 file, sparse (${elements}; ${vsRam}), cold — ${reps} rep${reps === 1 ? '' : 's'}`;
}

/** Issue 12's table: one pass over a pair larger than RAM takes tens of seconds, so one rep unless --reps says more. */
async function runHuge(rows: readonly Row[], args: BenchArgs, probe: RssProbe): Promise<RowResult[]> {
  const datasets = new Map<DatasetId, Dataset>([['huge', hugeDataset(args.hugeBytes)]]);
  const reps = args.reps ?? 1;
  const results = await runRows(rows, datasets, reps, probe, `huge ${sizeLabel(args.hugeBytes)}`);
  print(table(hugeHeading(args.hugeBytes, reps), results));
  return results;
}

async function runStartup(rows: readonly Row[], args: BenchArgs, probe: RssProbe): Promise<RowResult[]> {
  const datasets = new Map<DatasetId, Dataset>([['example', EXAMPLE]]);
  return runRows(rows, datasets, args.reps ?? defaultReps('startup'), probe, 'start-up');
}

function print(lines: readonly string[]): void {
  process.stdout.write(lines.join('\n') + '\n');
}

/** Tables are printed as each group finishes, so a long run shows results early. */
async function runAll(args: BenchArgs, rows: readonly Row[], probe: RssProbe): Promise<RowResult[]> {
  const all: RowResult[] = [];
  const startupRows = rows.filter(isStartup);
  if (args.startup && startupRows.length > 0) {
    const results = await runStartup(startupRows, args, probe);
    all.push(...results);
    print(table(`Start-up on the bundled example (fixtures/example, 64×8 float32) — ${args.reps ?? defaultReps('startup')} reps`, results));
  }
  const sizedRows = rows.filter((r) => !isStartup(r) && !isHuge(r));
  const bySize = new Map<string, RowResult[]>();
  for (const bytes of sizedRows.length > 0 ? args.sizes : []) {
    const reps = args.reps ?? defaultReps(bytes);
    const results = await runRows(sizedRows, datasetsFor(bytes), reps, probe, sizeLabel(bytes));
    bySize.set(sizeLabel(bytes), results);
    all.push(...results);
    print(table(sizeHeading(bytes, reps), results));
  }
  const hugeRows = rows.filter(isHuge);
  if (args.huge && hugeRows.length > 0) {
    const results = await runHuge(hugeRows, args, probe);
    bySize.set(`${sizeLabel(args.hugeBytes)} sparse`, results);
    all.push(...results);
  } else if (hugeRows.length > 0 && sizedRows.length === 0 && !(args.startup && startupRows.length > 0)) {
    print(['Only --huge rows were picked: add --huge to run them.']);
  }
  print(flatRssLines(bySize));
  return all;
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args.help || args.list) {
    print(args.help ? [USAGE] : ROWS.map((r) => `${r.id}\t${r.label}`));
    return 0;
  }
  const probe = pickProbe(args.rssProbe);
  print(['## smoothl1 benchmark', '', ...machineLines(await numpyVersion(), probe), '']);
  try {
    const all = await runAll(args, selectRows(args.rows, args.numpy), probe);
    print([`Load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]);
    return anyBroken(all) ? 1 : 0;
  } finally {
    rmSync(OUTPUT_DIR, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
