import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { fromSystemError, SmoothL1Error } from '../tensor/errors.js';
import type { ByteSink } from '../tensor/format.js';
import { openAtomicFile } from './atomic-file.js';
import { deviceSink, stdoutSink } from './sink.js';

/** The path that means standard output. */
export const STDOUT = '-';

async function statOrUndefined(path: string): Promise<Awaited<ReturnType<typeof fsp.stat>> | undefined> {
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

/**
 * The sink for an output path: stdout for '-'; for an existing FIFO or
 * device (`-o /dev/stdout`, process substitution), the target itself, as
 * renaming a temporary file over it would replace the device; otherwise a
 * temporary file renamed over the target (the file a link points to) on
 * success.
 */
export async function openOutput(target: string): Promise<ByteSink> {
  if (target === STDOUT) return stdoutSink();
  const existing = await statOrUndefined(target);
  if (existing === undefined) return openAtomicFile(target);
  if (!existing.isFile()) return deviceSink(target);
  // Through a symbolic link (say /dev/stdout redirected to a file), replace what it points to, not the link.
  return openAtomicFile(await fsp.realpath(target));
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
