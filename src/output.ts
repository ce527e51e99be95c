import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { openAtomicFile } from './atomic-file.js';
import { fromSystemError, SmoothL1Error } from './errors.js';
import { stdoutSink, type ByteSink } from './sink.js';

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
  if (dir === undefined) throw new SmoothL1Error(target, 'output directory does not exist');
  if (!dir.isDirectory()) throw new SmoothL1Error(target, 'output directory is not a directory');
  const existing = await statOrUndefined(target);
  if (existing === undefined) return;
  if (existing.isDirectory()) throw new SmoothL1Error(target, 'output path is a directory');
  for (const input of inputs) {
    const s = await statOrUndefined(input);
    if (s !== undefined && s.dev === existing.dev && s.ino === existing.ino) {
      throw new SmoothL1Error(target, `output path is the input ${input}; refusing to overwrite an input`);
    }
  }
}

export const openOutput = (target: string): Promise<ByteSink> =>
  target === STDOUT ? Promise.resolve(stdoutSink()) : openAtomicFile(target);
