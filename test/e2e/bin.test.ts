// The standalone executables of scripts/build-bin.mjs (issue 5): each is
// built, copied alone into an empty folder and run there with an empty
// environment, so nothing from the repository, node_modules or an installed
// Node can help it.
import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CONFORMANCE, ROOT, runCli, type CliRun } from '../helpers/cli.js';
import { npyToArrow } from '../helpers/npy-to-arrow.js';
import { CONFORMANCE_CASES, caseArgs, checkCase, type ConformanceCase } from '../helpers/conformance.js';

const execFileAsync = promisify(execFile);

type Arch = 'x64' | 'arm64';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const work = mkdtempSync(join(tmpdir(), 'smoothl1-bin-test-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

/** A corpus case with its inputs rewritten as Arrow (input an IPC file, label an IPC stream), by absolute path. */
function asArrow(name: string): ConformanceCase {
  const c = CONFORMANCE_CASES.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no conformance case ${name}`);
  const write = (file: string, format: 'file' | 'stream', ext: string): string => {
    const path = join(work, `${name}.${basename(file, '.npy')}.${ext}`);
    writeFileSync(path, npyToArrow(join(CONFORMANCE, file), format, 1000) ?? new Uint8Array(0));
    return path;
  };
  return { ...c, name: `${name} (Arrow)`, input: write(c.input, 'file', 'arrow'), label: write(c.label, 'stream', 'arrows') };
}

/** Cases kept outside the shared corpus, in its shape with absolute paths; they run on both CPUs. */
const EXTRA_CASES: readonly ConformanceCase[] = [asArrow('chunk_boundaries_none'), asArrow('f16_mean')];

// One thread, and two with 4096-element chunks so that the worker pool runs
// inside the executable: its workers start from embedded source, not a file.
const RUNS = [
  { title: '--threads 1', args: ['--threads', '1'], env: [] },
  { title: '--threads 2, small chunks', args: ['--threads', '2'], env: ['SMOOTHL1_CHUNK_ELEMENTS=4096', 'SMOOTHL1_POOL_MIN_ELEMENTS=0'] },
] as const;
const POOL_RUN = RUNS[1];

// A run under qemu takes seconds, so arm64 gets a subset: every dtype (<f2,
// <f4, <f8, >f8, an <i4 label), none outputs, an error, and a multi-chunk
// input for the pool.
const ARM64_SUBSET = new Set(['f32_3x3_mean', 'f64_1d_mean_delta2', 'f16_none', 'bigendian_f8_none', 'int_label_promotes', 'shape_mismatch', 'chunk_boundaries']);
const X64_CASES = [...CONFORMANCE_CASES, ...EXTRA_CASES];
const ARM64_CASES = [...CONFORMANCE_CASES.filter((c) => ARM64_SUBSET.has(c.name)), ...EXTRA_CASES];

// Debian's packages for running aarch64 Linux binaries on x64 (issue 5).
const QEMU = 'qemu-aarch64-static';
const QEMU_PACKAGES = ['qemu-user-static', 'libc6-arm64-cross', 'libstdc++6-arm64-cross', 'libgcc-s1-arm64-cross'];
const SYSROOT = '/usr/aarch64-linux-gnu';
const SYSROOT_FILES = ['lib/ld-linux-aarch64.so.1', 'lib/libstdc++.so.6', 'lib/libgcc_s.so.1'];
const SLOW = 10 * 60_000;


const onPath = (cmd: string): string | undefined =>
  (process.env['PATH'] ?? '')
    .split(':')
    .map((dir) => join(dir, cmd))
    .find((path) => path.startsWith('/') && existsSync(path));

const builds = new Map<Arch, Promise<string>>();

/** Builds the executable for `arch` once, copies it alone into an empty folder, and returns that copy. */
function executable(arch: Arch): Promise<string> {
  let built = builds.get(arch);
  if (built === undefined) {
    built = (async () => {
      const out = join(work, `build-${arch}`);
      await execFileAsync(process.execPath, [join(ROOT, 'scripts/build-bin.mjs'), '--arch', arch, '--out', out]);
      const name = `smoothl1-linux-${arch}`;
      const alone = join(work, arch);
      mkdirSync(alone);
      copyFileSync(join(out, name), join(alone, name));
      rmSync(out, { recursive: true, force: true });
      return join(alone, name);
    })();
    builds.set(arch, built);
  }
  return built;
}

const qemuMissing = (): boolean => onPath(QEMU) === undefined || !SYSROOT_FILES.every((f) => existsSync(join(SYSROOT, f)));

let qemuReady: Promise<string> | undefined;

/** qemu's path, installed with apt first when missing. */
function qemu(): Promise<string> {
  qemuReady ??= (async () => {
    if (qemuMissing()) {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      await execFileAsync('apt-get', ['update'], { env });
      await execFileAsync('apt-get', ['install', '-y', '--no-install-recommends', ...QEMU_PACKAGES], { env });
    }
    const path = onPath(QEMU);
    if (path === undefined || qemuMissing()) throw new Error(`${QEMU_PACKAGES.join(', ')} installed, yet ${QEMU} or ${SYSROOT} is missing`);
    return path;
  })();
  return qemuReady;
}

/**
 * `env -i` leaves nothing inherited (no NODE_OPTIONS, no PATH to a node) and
 * `-C` runs from the folder that holds the executable alone.
 */
function runAlone(exe: string, args: readonly string[], env: readonly string[], emulator: readonly string[] = []): Promise<CliRun> {
  const command = ['env', '-i', '-C', dirname(exe), 'PATH=/nonexistent', ...env, ...emulator, `./${basename(exe)}`];
  return runCli(args, { command });
}

const outputDir = (): string => mkdtempSync(join(work, 'out-'));

test('x64 executable prints the package version', async (t) => {
  const r = await runAlone(await executable('x64'), ['--version'], []);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.toString('utf8'), `${VERSION}\n`);
});

for (const c of X64_CASES) {
  for (const run of RUNS) {
    test(`x64 executable: ${c.name} (${run.title})`, async (t) => {
      const out = join(outputDir(), 'out.npy');
      const r = await runAlone(await executable('x64'), [...caseArgs(c, out), ...run.args], run.env);
      checkCase(t, c, r, out);
    });
  }
}

if (qemuMissing() && onPath('apt-get') === undefined) {
  // Not a pass: the arm64 executable went unchecked, and the summary must say so.
  const why = `arm64 executable NOT TESTED: ${QEMU} is missing and there is no apt-get to install ${QEMU_PACKAGES.join(' ')}`;
  console.warn(`\n*** ${why} ***\n`);
  test.skip(why, () => undefined);
} else {
  const QEMU_ARGS = ['-L', SYSROOT];

  test('arm64 executable prints the package version (qemu)', async (t) => {
    t.timeout(SLOW);
    const [exe, emulator] = await Promise.all([executable('arm64'), qemu()]);
    const r = await runAlone(exe, ['--version'], [], [emulator, ...QEMU_ARGS]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.toString('utf8'), `${VERSION}\n`);
  });

  for (const c of ARM64_CASES) {
    test(`arm64 executable: ${c.name} (${POOL_RUN.title}, qemu)`, async (t) => {
      t.timeout(SLOW);
      const [exe, emulator] = await Promise.all([executable('arm64'), qemu()]);
      const out = join(outputDir(), 'out.npy');
      const r = await runAlone(exe, [...caseArgs(c, out), ...POOL_RUN.args], POOL_RUN.env, [emulator, ...QEMU_ARGS]);
      checkCase(t, c, r, out);
    });
  }
}
