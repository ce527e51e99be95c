import { totalmem } from 'node:os';
import { parseArgs } from 'node:util';

/** What one `npm run bench -- ...` invocation asks for. */
export interface BenchArgs {
  /** Bytes per float32 file, e.g. 64 MiB and 1 GiB. */
  readonly sizes: readonly number[];
  /** Substrings of row ids to run; empty means every row. */
  readonly rows: readonly string[];
  /** Repetitions per row; undefined picks by size (see defaultReps). */
  readonly reps: number | undefined;
  readonly numpy: boolean;
  readonly startup: boolean;
  /** Run the table on a sparse pair larger than RAM (issue 12). */
  readonly huge: boolean;
  /** Bytes per float32 file of that pair. */
  readonly hugeBytes: number;
  readonly rssProbe: 'auto' | 'gnu-time' | 'python';
  readonly list: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]

  --quick            only the 64 MiB pair (fast iteration)
  --large            add the 4 GiB-per-file pair to the default sizes
  --sizes LIST       comma-separated sizes per float32 file, e.g. 64M,1G,4G
                     (default 64M,1G)
  --rows LIST        run only rows whose id contains one of these substrings
                     (their anchors come along); see --list
  --reps N           repetitions per row (default: 10 start-up, 5 up to
                     64 MiB, 3 above)
  --no-numpy         skip the NumPy anchors (they are slow and need ~50 bytes
                     of RAM per element; skipped anyway where RAM is short)
  --no-startup       skip the start-up table
  --huge             add a table on a float32 pair larger than RAM (issue 12):
                     sparse files made once with ftruncate under bench-data/
                     (they use no disk), run cold, with an exactly known
                     answer; wall time and peak RSS (target: 96 MiB, and
                     within 8 MiB of mean-t2 when that row runs too). One
                     rep unless --reps; --rows huge runs this table alone
  --huge-size SIZE   bytes per file of that pair (default ${defaultHugeBytes() / 2 ** 30}G here: the power
                     of two above this machine's RAM); implies --huge
  --rss-probe KIND   auto | gnu-time | python: how peak RSS is measured
  --list             print the row ids and exit
  -h, --help         this text
`;

const MiB = 1024 * 1024;
const UNITS: Readonly<Record<string, number>> = { K: 1024, M: MiB, G: 1024 * MiB };

/** "64M" → 67108864; sizes must be whole float32 elements. */
export function parseSize(text: string): number {
  const match = /^(\d+)([KMG])?i?B?$/i.exec(text.trim());
  const unit = UNITS[(match?.[2] ?? '').toUpperCase()] ?? 1;
  const bytes = match === null ? NaN : Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % 4 !== 0) {
    throw new Error(`bench: bad size ${JSON.stringify(text)} (want e.g. 64M, 1G)`);
  }
  return bytes;
}

function parseReps(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const reps = Number(text);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`bench: --reps wants a positive integer, got ${text}`);
  return reps;
}

function parseProbe(text: string | undefined): BenchArgs['rssProbe'] {
  if (text === undefined || text === 'auto' || text === 'gnu-time' || text === 'python') return text ?? 'auto';
  throw new Error(`bench: --rss-probe wants auto, gnu-time or python, got ${text}`);
}

function splitList(text: string | undefined): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** The smallest power of two above total RAM: each file of the --huge pair is larger than memory. */
export function defaultHugeBytes(): number {
  return 2 ** (Math.floor(Math.log2(totalmem())) + 1);
}

function pickSizes(values: { quick?: boolean; large?: boolean; sizes?: string }): number[] {
  if (values.sizes !== undefined) return splitList(values.sizes).map(parseSize);
  if (values.quick === true) return [64 * MiB];
  return values.large === true ? [64 * MiB, 1024 * MiB, 4096 * MiB] : [64 * MiB, 1024 * MiB];
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean' },
      large: { type: 'boolean' },
      sizes: { type: 'string' },
      rows: { type: 'string' },
      reps: { type: 'string' },
      'no-numpy': { type: 'boolean' },
      'no-startup': { type: 'boolean' },
      huge: { type: 'boolean' },
      'huge-size': { type: 'string' },
      'rss-probe': { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  return {
    sizes: pickSizes(values),
    rows: splitList(values.rows),
    reps: parseReps(values.reps),
    numpy: values['no-numpy'] !== true,
    startup: values['no-startup'] !== true,
    huge: values.huge === true || values['huge-size'] !== undefined,
    hugeBytes: values['huge-size'] === undefined ? defaultHugeBytes() : parseSize(values['huge-size']),
    rssProbe: parseProbe(values['rss-probe']),
    list: values.list === true,
    help: values.help === true,
  };
}

/** Fewer repetitions where one run takes seconds; more where noise dominates. */
export function defaultReps(bytesPerFile: number | 'startup'): number {
  if (bytesPerFile === 'startup') return 10;
  return bytesPerFile <= 64 * MiB ? 5 : 3;
}

/** 67108864 → "64M", for progress lines and --sizes round trips. */
export function sizeLabel(bytes: number): string {
  if (bytes % (1024 * MiB) === 0) return `${bytes / (1024 * MiB)}G`;
  if (bytes % MiB === 0) return `${bytes / MiB}M`;
  return bytes % 1024 === 0 ? `${bytes / 1024}K` : `${bytes}B`;
}

/** 67108864 → "64 MiB", for headings. */
export const sizeTitle = (bytes: number): string => sizeLabel(bytes).replace(/^(\d+)([KMG])$/, '$1 $2iB');
