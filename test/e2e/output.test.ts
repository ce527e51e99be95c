import test from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, FIXTURES } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const PRED = `${FIXTURES}example/pred.npy`;
const TARGET = `${FIXTURES}example/target.npy`;

/** Runs the CLI through `sh -c` (for umask and redirections), in `dir`; resolves with status and stderr. */
function runSh(script: string, dir: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SMOOTHL1: `${process.execPath} ${BIN}` } });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}


// A shell's `>> log.txt` opens log.txt for appending as our stdout, and
// /dev/stdout names that same file. Renaming a temporary file over it once
// replaced the log, losing what it held: the output must go through our
// stdout, after what was there.
test('-o /dev/stdout appended to a file keeps what the file held and adds the .npy, with no text after it', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'log.txt'), 'previous line\n');
  const r = await runSh(`$SMOOTHL1 ${PRED} ${TARGET} -r sum -o /dev/stdout >> log.txt`, dir);
  t.is(r.code, 0, r.stderr);
  const reference = join(dir, 'ref.npy');
  t.is((await runSh(`$SMOOTHL1 ${PRED} ${TARGET} -r sum -o ${reference} > /dev/null`, dir)).code, 0);
  t.deepEqual(readFileSync(join(dir, 'log.txt')), Buffer.concat([Buffer.from('previous line\n'), readFileSync(reference)]));
  t.deepEqual(readdirSync(dir).sort(), ['log.txt', 'ref.npy'], 'no temporary file');
});

test('-o naming the file our stdout truncated writes the .npy there once', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'out.npy'), 'old contents, longer than nothing');
  const r = await runSh(`$SMOOTHL1 ${PRED} ${TARGET} -r none -o out.npy > out.npy`, dir);
  t.is(r.code, 0, r.stderr);
  t.is((await runSh(`$SMOOTHL1 ${PRED} ${TARGET} -r none -o ref.npy`, dir)).code, 0);
  t.deepEqual(readFileSync(join(dir, 'out.npy')), readFileSync(join(dir, 'ref.npy')));
});

test('-o /dev/stderr writes through our stderr', async (t) => {
  const dir = tempDir(t);
  const r = await runSh(`$SMOOTHL1 ${PRED} ${TARGET} -r none -o /dev/stderr 2> err.npy`, dir);
  t.is(r.code, 0);
  t.is((await runSh(`$SMOOTHL1 ${PRED} ${TARGET} -r none -o ref.npy`, dir)).code, 0);
  t.deepEqual(readFileSync(join(dir, 'err.npy')), readFileSync(join(dir, 'ref.npy')));
});

// A replaced output keeps its mode and owner (as cp and editors keep them);
// a new one gets what the umask leaves of 0666, as any program's new file.
test('replacing an output keeps its mode', async (t) => {
  const dir = tempDir(t);
  for (const mode of [0o600, 0o640, 0o444, 0o755]) {
    const out = join(dir, `m${mode.toString(8)}.npy`);
    writeFileSync(out, 'old');
    chmodSync(out, mode);
    const r = await runSh(`$SMOOTHL1 ${PRED} ${TARGET} -r none -o ${out}`, dir);
    t.is(r.code, 0, r.stderr);
    t.is(statSync(out).mode & 0o7777, mode, mode.toString(8));
    t.not(readFileSync(out, 'latin1'), 'old');
  }
});

test('a new output gets the mode the umask gives', async (t) => {
  const dir = tempDir(t);
  for (const [umask, mode] of [['077', 0o600], ['022', 0o644], ['002', 0o664]] as const) {
    const out = join(dir, `u${umask}.npy`);
    const r = await runSh(`umask ${umask}; $SMOOTHL1 ${PRED} ${TARGET} -r sum -o ${out}`, dir);
    t.is(r.code, 0, r.stderr);
    t.is(statSync(out).mode & 0o777, mode, `umask ${umask}`);
  }
});

test('replacing an output keeps its owner where we may set it (as root)', async (t) => {
  if (process.getuid?.() !== 0) {
    t.log('SKIPPED: not root, so no other owner can be given to a file');
    t.pass();
    return;
  }
  const dir = tempDir(t);
  const out = join(dir, 'owned.npy');
  writeFileSync(out, 'old');
  chownSync(out, 1234, 5678);
  chmodSync(out, 0o640);
  const r = await runSh(`$SMOOTHL1 ${PRED} ${TARGET} -r none -o ${out}`, dir);
  t.is(r.code, 0, r.stderr);
  const st = statSync(out);
  t.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1234, 5678, 0o640]);
});

test('an output through a link keeps the linked file mode', async (t) => {
  const dir = tempDir(t);
  const real = join(dir, 'real.npy');
  writeFileSync(real, 'old');
  chmodSync(real, 0o600);
  const r = await runSh(`ln -s real.npy link.npy && $SMOOTHL1 ${PRED} ${TARGET} -r none -o link.npy`, dir);
  t.is(r.code, 0, r.stderr);
  t.is(statSync(real).mode & 0o7777, 0o600);
});
