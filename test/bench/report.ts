import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { median, type RssProbe } from './measure.js';
import type { Targets } from './rows.js';
import type { RowResult } from './run.js';
import { POOL_MIN_ELEMENTS } from '../../src/pipeline/chunk-plan.js';

/** "Within a few MiB" (issue 3 and 6), made a number. */
export const FLAT_RSS_MIB = 8;

const MiB = 1024 * 1024;

function cpuModel(): string {
  const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return match?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown CPU';
}

/** The header lines: what the numbers were measured on, and how. */
export function machineLines(numpyVersion: string, probe: RssProbe): string[] {
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  return [
    `- machine: ${cpuModel()}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`,
    `- node ${process.version}, ${numpyVersion}`,
    `- ${new Date().toISOString()}, load average at start ${load}`,
    `- wall: median of the repetitions (min–max in brackets); peak RSS: largest of them, via ${probe === 'gnu-time' ? '/usr/bin/time' : 'a python3 getrusage wrapper'}; inputs warm in the page cache; GB/s = 10^9 bytes of both inputs per second`,
  ];
}

const byId = (results: readonly RowResult[], id: string | undefined): RowResult | undefined =>
  id === undefined ? undefined : results.find((r) => r.row.id === id && r.walls.length > 0);

const wall = (r: RowResult): number => median(r.walls);
const peakMiB = (r: RowResult): number => Math.max(...r.rssKiB) / 1024;

function seconds(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(s < 0.1 ? 1 : 0)} ms` : `${s.toFixed(2)} s`;
}

function wallCell(r: RowResult): string {
  const lo = Math.min(...r.walls);
  const hi = Math.max(...r.walls);
  return r.walls.length > 1 ? `${seconds(wall(r))} (${seconds(lo)}–${seconds(hi)})` : seconds(wall(r));
}

/** Ratios to the row's floor, NumPy and baseline, when those rows were measured. */
interface Ratios {
  readonly floor: number | undefined;
  readonly numpy: number | undefined;
  readonly perByte: number | undefined;
}

function ratios(r: RowResult, all: readonly RowResult[]): Ratios {
  const floor = byId(all, r.row.floor);
  const numpy = byId(all, r.row.numpy);
  const base = byId(all, r.row.baseline);
  return {
    floor: floor && wall(r) / wall(floor),
    numpy: numpy && wall(numpy) / wall(r),
    perByte: base && wall(r) / r.bytes / (wall(base) / base.bytes),
  };
}

const ratioCell = (value: number | undefined, id: string | undefined): string =>
  value === undefined || id === undefined ? '' : `${value.toFixed(2)}× ${id}`;

function checkCell(r: RowResult): string {
  const bad = r.checks.find((c) => !c.ok);
  if (bad !== undefined) return `**MISMATCH** ${bad.detail}`;
  if (r.checks.length === 0) return r.row.check === undefined ? '' : 'not checked';
  const worst = Math.max(...r.checks.map((c) => c.relDiff));
  return `ok (rel ≤ ${worst.toExponential(1)})`;
}

/** undefined when the ratio could not be computed (its anchor was skipped or failed). */
const atMost = (value: number | undefined, limit: number): boolean | undefined => (value === undefined ? undefined : value <= limit);
const atLeast = (value: number | undefined, limit: number): boolean | undefined => (value === undefined ? undefined : value >= limit);

/** ✓/✗ per target; flat RSS is judged across sizes, in flatRssLines. */
function targetCell(targets: Targets | undefined, q: Ratios, rssMiB: number, elements: number): string {
  if (targets === undefined) return '';
  const verdicts: [boolean | undefined, string][] = [];
  const timed = elements >= (targets.fromElements ?? 0);
  if (timed && targets.maxFloorRatio !== undefined) verdicts.push([atMost(q.floor, targets.maxFloorRatio), `≤${targets.maxFloorRatio}× floor`]);
  if (timed && targets.minNumpySpeedup !== undefined) verdicts.push([atLeast(q.numpy, targets.minNumpySpeedup), `≥${targets.minNumpySpeedup}× NumPy`]);
  if (targets.maxRssMiB !== undefined) verdicts.push([rssMiB <= targets.maxRssMiB, `≤${targets.maxRssMiB} MiB`]);
  if (timed && targets.maxBaselineRatio !== undefined) verdicts.push([atMost(q.perByte, targets.maxBaselineRatio), `≤${targets.maxBaselineRatio}× per byte`]);
  return verdicts
    .filter((v): v is [boolean, string] => v[0] !== undefined)
    .map(([ok, text]) => `${ok ? '✓' : '✗'} ${text}`)
    .join(', ');
}

const escape = (text: string): string => text.replaceAll('|', '\\|');

function rowLine(r: RowResult, all: readonly RowResult[]): string {
  const label = `${escape(r.row.label)} \`${r.row.id}\``;
  if (r.skipped !== undefined) return `| ${label} | skipped: ${escape(r.skipped)} | | | | | | | |`;
  if (r.walls.length === 0) return `| ${label} | **FAILED** ${escape(r.failure ?? '')} | | | | | | | |`;
  const q = ratios(r, all);
  const failed = r.failure === undefined ? '' : ` **FAILED later** ${escape(r.failure)}`;
  const gbs = r.bytes / wall(r) / 1e9;
  const cells = [
    label,
    wallCell(r) + failed,
    `${peakMiB(r).toFixed(0)} MiB`,
    r.bytes >= MiB ? gbs.toFixed(2) : '',
    ratioCell(q.floor, r.row.floor),
    q.numpy === undefined ? '' : `${q.numpy.toFixed(1)}×`,
    ratioCell(q.perByte, r.row.baseline),
    escape(checkCell(r)),
    targetCell(r.row.targets, q, peakMiB(r), r.elements),
  ];
  return `| ${cells.join(' | ')} |`;
}

/** One markdown table for one size (or the start-up group). */
export function table(heading: string, results: readonly RowResult[]): string[] {
  return [
    `### ${heading}`,
    '',
    '| row | wall (median) | peak RSS | GB/s | × floor | NumPy ÷ this | per byte vs | check | targets (issue 6) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) => rowLine(r, results)),
    '',
  ];
}

/** Issue 6 wants peak RSS flat across 64 MiB, 1 GiB and 4 GiB: compared here across the sizes run. */
/** How a run of `elements` float32 pairs is computed by default: inputs under POOL_MIN_ELEMENTS on one thread. */
const mode = (elements: number): string => (elements < POOL_MIN_ELEMENTS ? 'one thread' : 'workers');

/**
 * Peak RSS must not grow with the input. Smaller inputs run on one thread
 * (see POOL_MIN_ELEMENTS) and need less than the worker pool, so the spread
 * is judged among sizes that run the same way; each size says which.
 */
export function flatRssLines(bySize: ReadonlyMap<string, readonly RowResult[]>): string[] {
  const rows = new Map<string, { ids: string[]; peaks: { size: string; id: string; mode: string; mib: number }[] }>();
  for (const [size, results] of bySize) {
    for (const r of results) {
      if (r.row.targets?.flatRss !== true || r.rssKiB.length === 0) continue;
      // A row judged with another (flatRssWith) joins that row's line as one more size.
      const key = r.row.targets.flatRssWith ?? r.row.id;
      const entry = rows.get(key) ?? { ids: [], peaks: [] };
      if (!entry.ids.includes(r.row.id)) entry.ids.push(r.row.id);
      entry.peaks.push({ size, id: r.row.id, mode: mode(r.elements), mib: peakMiB(r) });
      rows.set(key, entry);
    }
  }
  const lines = [...rows.values()].filter((e) => e.peaks.length > 1).map(({ ids, peaks }) => {
    const named = ids.length > 1;
    const list = peaks.map((p) => `${p.size}${named ? ` \`${p.id}\`` : ''} ${p.mib.toFixed(0)} MiB (${p.mode})`).join(', ');
    const verdicts = [...new Set(peaks.map((p) => p.mode))].flatMap((m) => {
      const same = peaks.filter((p) => p.mode === m).map((p) => p.mib);
      if (same.length < 2) return [];
      const spread = Math.max(...same) - Math.min(...same);
      return [`${m}: spread ${spread.toFixed(0)} MiB ${spread <= FLAT_RSS_MIB ? '✓' : '✗'} (≤ ${FLAT_RSS_MIB} MiB)`];
    });
    return `- ${ids.map((id) => `\`${id}\``).join(' + ')} peak RSS: ${list}; ${verdicts.length > 0 ? verdicts.join('; ') : 'one size per way of running: add sizes (--large) to judge flatness'}`;
  });
  return lines.length === 0 ? [] : ['### Peak RSS across sizes', '', ...lines, ''];
}

/** True when any smoothl1 row failed or gave a wrong answer: the bench then exits non-zero. */
export function anyBroken(results: readonly RowResult[]): boolean {
  return results.some((r) => r.row.kind === 'smoothl1' && (r.failure !== undefined || r.checks.some((c) => !c.ok)));
}
