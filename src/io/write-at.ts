import { writeSync } from 'node:fs';
import { fromSystemError } from '../tensor/errors.js';

/** Writes all of `bytes` at byte `position` of `fd`, from any thread; `path` names the file in errors. */
export function writeFully(path: string, fd: number, bytes: Uint8Array, position: number): void {
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  } catch (err) {
    throw fromSystemError(path, err);
  }
}
