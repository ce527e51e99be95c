import { readSync } from 'node:fs';
import { fileShrank, fromSystemError } from '../tensor/errors.js';

/*
 * The one positional read loop. Synchronous: opening a file walks its
 * headers in many small reads, and a worker reads its chunk on its own
 * thread; a round trip through libuv's thread pool for each read would cost
 * more than the read itself.
 */

/** Reads into `into` from byte `position` of `fd` until it is full or the file ends; returns how many bytes came. */
export function readAtMost(file: string, fd: number, into: Uint8Array, position: number): number {
  let filled = 0;
  try {
    while (filled < into.length) {
      const n = readSync(fd, into, filled, into.length - filled, position + filled);
      if (n === 0) break;
      filled += n;
    }
  } catch (err) {
    throw fromSystemError(file, err);
  }
  return filled;
}

/**
 * Fills `into` from byte `position` of `fd`. Callers ask only for bytes the
 * file held when its size was taken, so a file that ends first has shrunk.
 */
export function readFully(file: string, fd: number, into: Uint8Array, position: number): void {
  if (readAtMost(file, fd, into, position) < into.length) throw fileShrank(file);
}
