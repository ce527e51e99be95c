import { promises as fsp } from 'node:fs';
import { fromSystemError, SmoothL1Error } from './errors.js';
import { checkDataLength, hasNpyMagic, npyFileSource, npyHeaderEnd, parseNpyHeader } from './read-npy.js';
import type { TensorSource } from './tensor.js';

/** Enough for the header of any .npy that numpy writes for up to ~30 dimensions. */
const PREFIX_BYTES = 4096;

/** Reads up to `length` bytes from the start of the file. */
async function readPrefix(handle: fsp.FileHandle, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(bytes, filled, length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return bytes.subarray(0, filled);
}

/**
 * Opens a tensor file, telling its format by its first bytes, never by its
 * name. The file stays open until the source is closed.
 */
export async function openTensor(file: string): Promise<TensorSource> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, 'r');
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new SmoothL1Error(file, 'is a directory, not a file');
    if (stat.size === 0) throw new SmoothL1Error(file, 'empty file (0 bytes), not a tensor');
    let prefix = await readPrefix(handle, Math.min(PREFIX_BYTES, stat.size));
    if (!hasNpyMagic(prefix)) throw new SmoothL1Error(file, 'not an .npy file (unrecognised magic bytes)');
    const end = npyHeaderEnd(file, prefix);
    if (end !== undefined && end > prefix.length && end <= stat.size) prefix = await readPrefix(handle, end);
    const layout = parseNpyHeader(file, prefix);
    checkDataLength(layout, stat.size);
    return npyFileSource(layout, handle);
  } catch (err) {
    await handle?.close();
    throw fromSystemError(file, err);
  }
}
