import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, linkSync, lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, CONFORMANCE, FIXTURES, ROOT, runCli } from '../helpers/cli.js';
import { float32Bytes, writeNpy } from '../helpers/make-npy.js';
import { readNpyValues } from '../helpers/npy.js';
import { tempDir } from '../helpers/tmp.js';

const PRED = `${FIXTURES}example/pred.npy`;
const TARGET = `${FIXTURES}example/target.npy`;

/** One line, our prefix, no stack trace, exit 2: what every failure must look like. */
function assertFailure(t: import('ava').ExecutionContext, r: { code: number | null; stderr: string }, pattern: RegExp): void {
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /^smoothl1: [^\n]+\n$/);
  t.regex(r.stderr, pattern);
  t.notRegex(r.stderr, /\bat .*:\d+:\d+/, 'no stack trace');
}

test('the bundled example prints one float32 scalar', async (t) => {
  const r = await runCli([PRED, TARGET]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout.toString(), /^\d+\.\d+\n$/);
});

test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
  const r = await runCli(['--version']);
  t.is(r.code, 0);
  t.is(r.stdout.toString().trim(), pkg.version);
});

test('--help lists every option and exits 0', async (t) => {
  const r = await runCli(['--help']);
  t.is(r.code, 0);
  for (const flag of ['--reduction', '--delta', '--no-huber', '--output', '--threads', '--version']) {
    t.true(r.stdout.toString().includes(flag), flag);
  }
  // The exit statuses end the help, as in the README's table.
  t.regex(r.stdout.toString(), /Exit status:\n  0 .*\n  1 .*\n  2 .*\n  130\/143 .*\n$/);
});

test('an unknown option is a usage error', async (t) => {
  assertFailure(t, await runCli([PRED, TARGET, '--frobnicate']), /unknown option/);
});

test('a missing argument is a usage error', async (t) => {
  assertFailure(t, await runCli([PRED]), /missing required argument/);
});

for (const bad of ['0', '-1', '1.5', 'two', '']) {
  test(`--threads '${bad}' is refused`, async (t) => {
    assertFailure(t, await runCli([PRED, TARGET, '--threads', bad]), /--threads must be a positive integer/);
  });
}

for (const bad of ['inf', '-inf', 'abc', '', '0x10', '1_0']) {
  test(`--delta '${bad}' is refused`, async (t) => {
    assertFailure(t, await runCli([PRED, TARGET, '--delta', bad]), /--delta must be/);
  });
}

test('--reduction none without --output is a usage error', async (t) => {
  assertFailure(t, await runCli([PRED, TARGET, '--reduction', 'none']), /--output/);
});

test('a directory as input is refused', async (t) => {
  assertFailure(t, await runCli([FIXTURES, TARGET]), /fixtures\/?: is a directory/);
});

test('an output path in a missing directory is refused, and nothing is created', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'missing', 'out.npy');
  assertFailure(t, await runCli([PRED, TARGET, '-r', 'none', '-o', out]), /output directory does not exist/);
  t.false(existsSync(join(dir, 'missing')));
});

test('an output path that is a directory is refused', async (t) => {
  const dir = tempDir(t);
  assertFailure(t, await runCli([PRED, TARGET, '-r', 'none', '-o', dir]), /is a directory/);
});

test('an output path that is one of the inputs is refused and the input survives', async (t) => {
  const dir = tempDir(t);
  const a = join(dir, 'a.npy');
  const b = join(dir, 'b.npy');
  writeFileSync(a, readFileSync(PRED));
  writeFileSync(b, readFileSync(TARGET));
  const before = readFileSync(b);
  assertFailure(t, await runCli([a, b, '-r', 'none', '-o', b]), /refusing to overwrite an input/);
  // A hard link has another name but the same inode: only a device/inode check catches it.
  linkSync(b, join(dir, 'link.npy'));
  assertFailure(t, await runCli([a, b, '-r', 'none', '-o', join(dir, 'link.npy')]), /refusing to overwrite an input/);
  t.deepEqual(readFileSync(b), before);
});

test('a failed run leaves an existing output untouched and no temporary file', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'out.npy');
  writeFileSync(out, 'precious');
  const short = writeNpy(join(dir, 'short.npy'), 'float32', [3], float32Bytes([1, 2, 3]));
  assertFailure(t, await runCli([PRED, short, '-r', 'none', '-o', out]), /shapes differ/);
  t.is(readFileSync(out, 'utf8'), 'precious');
  t.deepEqual(readdirSync(dir).sort(), ['out.npy', 'short.npy']);
});

test('mean/sum with --output also write a 0-d .npy of the printed value', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'loss.npy');
  const r = await runCli([PRED, TARGET, '-r', 'sum', '-o', out]);
  t.is(r.code, 0, r.stderr);
  const { layout, values } = readNpyValues(readFileSync(out));
  t.deepEqual(layout.header.shape, []);
  t.is(layout.header.dtype, 'float32');
  t.is(values.length, 1);
  // The printed text is the shortest that reads back to the float32 value.
  t.is(Math.fround(Number(r.stdout.toString())), values[0]!);
});

test('--output - writes the .npy bytes to stdout, the same as a file', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'loss.npy');
  const toFile = await runCli([PRED, TARGET, '-r', 'none', '-o', out]);
  const toStdout = await runCli([PRED, TARGET, '-r', 'none', '-o', '-']);
  t.is(toFile.code, 0);
  t.is(toStdout.code, 0);
  t.deepEqual(toStdout.stdout, readFileSync(out));
});

test('a closed stdout ends quietly with status 0', async (t) => {
  const dir = tempDir(t);
  const n = 1 << 20;
  const a = writeNpy(join(dir, 'a.npy'), 'float32', [n], new Uint8Array(4 * n));
  const child = spawn(process.execPath, [BIN, a, a, '-r', 'none', '-o', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  // Like `| head -c 1`: read one chunk, then close the pipe.
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.is(code, 0);
  t.is(stderr, '');
});

test('Ctrl-C mid-run removes the temporary file and keeps the old output', async (t) => {
  const dir = tempDir(t);
  const n = 1 << 25;
  const a = writeNpy(join(dir, 'a.npy'), 'float64', [n], new Uint8Array(8 * n));
  const out = join(dir, 'out.npy');
  writeFileSync(out, 'precious');
  const child = spawn(process.execPath, [BIN, a, a, '-r', 'none', '-o', out, '--threads', '1'], { stdio: 'ignore' });
  const temp = await new Promise<boolean>((resolve) => {
    const poll = setInterval(() => {
      if (readdirSync(dir).some((f) => f.endsWith('.smoothl1-tmp'))) {
        clearInterval(poll);
        child.kill('SIGINT');
        resolve(true);
      }
    }, 5);
    child.on('exit', () => {
      clearInterval(poll);
      resolve(false);
    });
  });
  const code = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (c) => resolve(c));
  });
  t.true(temp, 'the run was interrupted while writing');
  t.is(code, 130);
  t.is(readFileSync(out, 'utf8'), 'precious');
  t.deepEqual(readdirSync(dir).sort(), ['a.npy', 'out.npy']);
});

test("'-' reads an .npy from stdin, as input or as label, with the same result as the file", async (t) => {
  const want = await runCli([PRED, TARGET, '-r', 'sum']);
  const asInput = await runCli(['-', TARGET, '-r', 'sum'], { stdin: readFileSync(PRED) });
  const asLabel = await runCli([PRED, '-', '-r', 'sum', '--threads', '2'], {
    stdin: readFileSync(TARGET),
    env: { SMOOTHL1_CHUNK_ELEMENTS: '4096', SMOOTHL1_POOL_MIN_ELEMENTS: '0' },
  });
  t.is(asInput.code, 0, asInput.stderr);
  t.is(asInput.stdout.toString(), want.stdout.toString());
  t.is(asLabel.stdout.toString(), want.stdout.toString());
});

test('stdin data shorter or longer than its header promises is refused', async (t) => {
  const bytes = readFileSync(PRED);
  assertFailure(t, await runCli(['-', TARGET], { stdin: bytes.subarray(0, bytes.length - 3) }), /<stdin>: data shorter/);
  assertFailure(t, await runCli(['-', TARGET], { stdin: Buffer.concat([bytes, Buffer.from([1])]) }), /<stdin>: data longer/);
  assertFailure(t, await runCli(['-', TARGET], { stdin: new Uint8Array(0) }), /<stdin>: empty input/);
});

test("at most one of INPUT and LABEL can be '-'", async (t) => {
  assertFailure(t, await runCli(['-', '-'], { stdin: readFileSync(PRED) }), /at most one/);
});

test('--fail-above gates on the loss: status 0 at or below, 1 above, the scalar printed either way', async (t) => {
  const printed = (await runCli([PRED, TARGET])).stdout.toString().trim();
  const at = await runCli([PRED, TARGET, '--fail-above', printed]);
  t.is(at.code, 0, 'the printed value itself passes');
  t.is(at.stdout.toString().trim(), printed);
  const above = await runCli([PRED, TARGET, '--fail-above', String(Number(printed) * 0.99)]);
  t.is(above.code, 1);
  t.is(above.stdout.toString().trim(), printed);
  t.regex(above.stderr, /^smoothl1: loss [\d.]+ is above --fail-above [\d.]+\n$/);
  assertFailure(t, await runCli([PRED, TARGET, '--fail-above', 'x']), /--fail-above must be a finite number/);
  assertFailure(t, await runCli([PRED, TARGET, '-r', 'none', '-o', '-', '--fail-above', '1']), /scalar loss/);
});

test('--fail-above fails an infinite loss, even when the limit is beyond the dtype range', async (t) => {
  // float16 60000 against -60000: the loss 119999.5 overflows float16 to inf.
  // 100000 also rounds to inf in float16; as real numbers inf is above it.
  const dir = tempDir(t);
  const a = writeNpy(join(dir, 'a.npy'), 'float16', [1], new Uint8Array(new Uint16Array([0x7b53]).buffer));
  const b = writeNpy(join(dir, 'b.npy'), 'float16', [1], new Uint8Array(new Uint16Array([0xfb53]).buffer));
  for (const limit of ['100000', '65504', '1e300']) {
    const r = await runCli([a, b, '--fail-above', limit]);
    t.is(r.stdout.toString(), 'inf\n');
    t.is(r.code, 1, `--fail-above ${limit}`);
  }
});

test('--fail-above fails a NaN loss', async (t) => {
  const nan = `${CONFORMANCE}nan_propagates.input.npy`;
  const r = await runCli([nan, `${CONFORMANCE}nan_propagates.label.npy`, '--fail-above', '1e30']);
  t.is(r.code, 1);
  t.is(r.stdout.toString(), 'nan\n');
});

test('an output that is a device or FIFO is written in place, not renamed over', async (t) => {
  const toNull = await runCli([PRED, TARGET, '-r', 'none', '-o', '/dev/null']);
  t.is(toNull.code, 0, toNull.stderr);
  t.true(lstatSync('/dev/null').isCharacterDevice(), '/dev/null is still the device it was');
  const dir = tempDir(t);
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  // The loss tensor goes through the FIFO into a second run, which reads it as a stream.
  const zeros = join(dir, 'zeros.npy');
  writeNpy(zeros, 'float32', [64, 8], new Uint8Array(64 * 8 * 4));
  const reader = runCli([fifo, zeros, '-r', 'sum', '--delta', '1e30']);
  const writer = await runCli([PRED, TARGET, '-r', 'none', '-o', fifo]);
  t.is(writer.code, 0, writer.stderr);
  const read = await reader;
  t.is(read.code, 0, read.stderr);
  t.true(lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
  // The same through a regular file gives the same text.
  const file = join(dir, 'z.npy');
  t.is((await runCli([PRED, TARGET, '-r', 'none', '-o', file])).code, 0);
  t.is(read.stdout.toString(), (await runCli([file, zeros, '-r', 'sum', '--delta', '1e30'])).stdout.toString());
});

test('an -o link to a regular file writes through the link and keeps it', async (t) => {
  const dir = tempDir(t);
  const real = join(dir, 'real.npy');
  const link = join(dir, 'link.npy');
  writeFileSync(real, 'old');
  symlinkSync(real, link);
  const r = await runCli([PRED, TARGET, '-r', 'none', '-o', link]);
  t.is(r.code, 0, r.stderr);
  t.true(lstatSync(link).isSymbolicLink());
  t.deepEqual(readNpyValues(readFileSync(real)).layout.header.shape, [64, 8]);
});

test('an empty tensor on stdin followed by extra bytes is refused', async (t) => {
  const empty = `${CONFORMANCE}empty_sum.input.npy`;
  const r = await runCli(['-', `${CONFORMANCE}empty_sum.label.npy`], { stdin: Buffer.concat([readFileSync(empty), Buffer.from('junk')]) });
  assertFailure(t, r, /<stdin>: data longer than header promises/);
});
