import { fstatSync, promises as fsp, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { fromSystemError, SmoothL1Error } from '../tensor/errors.js';
import type { ByteSink } from '../tensor/format.js';
import { openAtomicFile } from './atomic-file.js';
import { deviceSink, stdoutSink, streamSink } from './sink.js';

/** The path that means standard output. */
export const STDOUT = '-';

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await fsp.stat(path);
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return undefined;
    throw fromSystemError(path, err);
  }
}

/**
 * Refuses an output path that cannot work, before any work is done: its
 * directory is missing, it is a directory, or it is one of the inputs
 * (same device and inode, so links and other spellings are caught too).
 */
export async function checkOutputPath(target: string, inputs: readonly string[]): Promise<void> {
  if (target === STDOUT) return;
  const dir = await statOrUndefined(dirname(target));
  if (dir === undefined) throw new SmoothL1Error('output', target, 'output directory does not exist');
  if (!dir.isDirectory()) throw new SmoothL1Error('output', target, 'output directory is not a directory');
  const existing = await statOrUndefined(target);
  if (existing === undefined) return;
  if (existing.isDirectory()) throw new SmoothL1Error('output', target, 'output path is a directory');
  for (const input of inputs) {
    const s = await statOrUndefined(input);
    if (s !== undefined && s.dev === existing.dev && s.ino === existing.ino) {
      throw new SmoothL1Error('output', target, `output path is the input ${input}; refusing to overwrite an input`);
    }
  }
}

/** Our standard output and error: a path naming the file one of them is open on is written through it. */
const OWN_STREAMS = [
  { fd: 1, name: '<stdout>', stream: (): NodeJS.WriteStream => process.stdout },
  { fd: 2, name: '<stderr>', stream: (): NodeJS.WriteStream => process.stderr },
] as const;

/** Which of our own streams is open on the file `existing` describes, if any. */
function ownStreamOn(existing: Stats): (typeof OWN_STREAMS)[number] | undefined {
  return OWN_STREAMS.find(({ fd }) => {
    try {
      const own = fstatSync(fd);
      return own.dev === existing.dev && own.ino === existing.ino;
    } catch {
      return false; // Not open: nothing of ours to write through.
    }
  });
}

/**
 * Whether output to `target` goes to our own standard output: '-', or a path
 * such as /dev/stdout naming the file it is open on. The CLI then prints no
 * scalar after the output's bytes.
 */
export function writesToStdout(target: string | undefined): boolean {
  if (target === undefined) return false;
  if (target === STDOUT) return true;
  try {
    return ownStreamOn(statSync(target))?.fd === 1;
  } catch {
    return false;
  }
}

/**
 * The sink for an output path: stdout for '-'. A path naming a file our own
 * stdout or stderr is open on (`-o /dev/stdout >> log.txt`) is written
 * through that descriptor, appending where the shell opened it to append:
 * renaming over the file would lose what it held, and what we print after.
 * An existing FIFO or device (process substitution, /dev/null) is written
 * in place, as renaming over it would replace the device. Anything else gets
 * a temporary file renamed over the target (the file a link points to) on
 * success, keeping the owner and mode of a file it replaces.
 */
export async function openOutput(target: string): Promise<ByteSink> {
  if (target === STDOUT) return stdoutSink();
  const existing = await statOrUndefined(target);
  if (existing === undefined) return openAtomicFile(target);
  const own = ownStreamOn(existing);
  if (own !== undefined) return streamSink(own.stream(), own.name);
  if (!existing.isFile()) return deviceSink(target);
  // Through a symbolic link, replace what it points to, not the link.
  return openAtomicFile(await fsp.realpath(target), { mode: existing.mode, uid: existing.uid, gid: existing.gid });
}

/** Writes `bytes` as the whole of `target`'s output: all of it, or (failing) nothing. */
export async function writeWhole(target: string, bytes: Uint8Array): Promise<void> {
  const sink = await openOutput(target);
  try {
    await sink.write(bytes);
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
}
