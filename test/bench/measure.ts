import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { OUTPUT_DIR } from './paths.js';
import { PYTHON } from './python.js';
import { runToExit } from './spawn.js';

/** A whole process to time, as argv (no shell unless the command itself is `sh -c`). */
export interface Command {
  readonly argv: readonly [string, ...string[]];
  readonly env?: NodeJS.ProcessEnv;
}

export interface Measurement {
  readonly wallS: number;
  /** Peak resident set of the process and everything it waited for, in KiB. */
  readonly rssKiB: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export type RssProbe = 'gnu-time' | 'python';

const GNU_TIME = '/usr/bin/time';

/**
 * Fallback when GNU time is absent: RUSAGE_CHILDREN's ru_maxrss covers the
 * child and its reaped descendants (KiB on Linux). The wrapper's own memory is
 * not counted, but its start-up would be, so it also times the child itself.
 * The forked child's pages before exec count too, so small commands read
 * about 14 MiB here against 2 MiB under GNU time.
 */
const PYTHON_PROBE = [
  'import resource, subprocess, sys, time',
  't = time.perf_counter(); code = subprocess.call(sys.argv[2:]); wall = time.perf_counter() - t',
  "open(sys.argv[1], 'w').write(f'{wall} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')",
  'sys.exit(code if code >= 0 else 128 - code)',
].join('\n');

function gnuTimeWorks(): boolean {
  try {
    accessSync(GNU_TIME, constants.X_OK);
  } catch {
    return false;
  }
  return spawnSync(GNU_TIME, ['-f', '%M', 'true'], { stdio: 'ignore' }).status === 0;
}

export function pickProbe(requested: 'auto' | RssProbe): RssProbe {
  if (requested !== 'auto') return requested;
  return gnuTimeWorks() ? 'gnu-time' : 'python';
}

/** Where the probe leaves its numbers; inside bench-data/ so nothing lands elsewhere. */
function statFile(): string {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return `${OUTPUT_DIR}.probe-${process.pid}`;
}

function wrap(command: Command, probe: RssProbe, stats: string): [string, string[]] {
  if (probe === 'gnu-time') return [GNU_TIME, ['-f', '%M', '-o', stats, ...command.argv]];
  return [PYTHON, ['-c', PYTHON_PROBE, stats, ...command.argv]];
}

/** GNU time may write "Command exited with non-zero status N" first; the numbers are on the last line. */
function readStats(stats: string): number[] {
  const lines = readFileSync(stats, 'utf8').trim().split('\n');
  return (lines.at(-1) ?? '').trim().split(/\s+/).map(Number);
}

/** Runs one command to completion and reports its wall time and peak RSS. */
export async function measure(command: Command, probe: RssProbe): Promise<Measurement> {
  const stats = statFile();
  const [file, args] = wrap(command, probe, stats);
  try {
    const run = await runToExit(file, args, command.env ?? process.env);
    const numbers = readStats(stats);
    // GNU time's %e has 10 ms resolution, so wall time is taken here (the
    // wrapper adds about a millisecond); the Python wrapper's own start-up
    // would add tens, so its inner timing is used instead.
    const wallS = probe === 'python' ? (numbers[0] ?? NaN) : run.wallS;
    const rssKiB = numbers.at(-1) ?? NaN;
    return { wallS, rssKiB, code: run.code, stdout: run.stdout, stderr: run.stderr };
  } finally {
    rmSync(stats, { force: true });
  }
}

/** Reads the files once, untimed, so every timed run starts with them in the page cache. */
export function warmPageCache(files: readonly string[]): void {
  spawnSync('cat', [...files], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Flushes dirty pages of earlier output files so their write-back does not slow the next run. */
export function flushWrites(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}
