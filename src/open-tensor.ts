import { promises as fsp } from 'node:fs';
import { fromSystemError, SmoothL1Error } from './errors.js';
import { checkDataLength, hasNpyMagic, npyFileSource, npyHeaderEnd, npyStreamSource, parseNpyHeader } from './read-npy.js';
import { StreamReader } from './stream-reader.js';
import type { TensorSource } from './tensor.js';

/** The path that means standard input. */
export const STDIN = '-';
/** How standard input is named in messages. */
export const STDIN_NAME = '<stdin>';

/** Enough for the header of any .npy that numpy writes for up to ~30 dimensions. */
const PREFIX_BYTES = 4096;
/** Enough to tell the formats apart. */
const MAGIC_BYTES = 12;

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

const notATensor = (file: string): SmoothL1Error => new SmoothL1Error(file, 'not an .npy file (unrecognised magic bytes)');

async function openFile(file: string): Promise<TensorSource> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, 'r');
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new SmoothL1Error(file, 'is a directory, not a file');
    if (stat.size === 0) throw new SmoothL1Error(file, 'empty file (0 bytes), not a tensor');
    let prefix = await readPrefix(handle, Math.min(PREFIX_BYTES, stat.size));
    if (!hasNpyMagic(prefix)) throw notATensor(file);
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

/** Appends `more` to `bytes`. */
const concat = (bytes: Uint8Array, more: Uint8Array): Uint8Array => {
  const out = new Uint8Array(bytes.length + more.length);
  out.set(bytes);
  out.set(more, bytes.length);
  return out;
};

async function openStdin(): Promise<TensorSource> {
  const file = STDIN_NAME;
  const reader = new StreamReader(process.stdin);
  let prefix: Uint8Array = await reader.read(MAGIC_BYTES);
  if (prefix.length === 0) throw new SmoothL1Error(file, 'empty input (0 bytes), not a tensor');
  if (!hasNpyMagic(prefix)) throw notATensor(file);
  const end = npyHeaderEnd(file, prefix);
  if (end !== undefined && end > prefix.length) prefix = concat(prefix, await reader.read(end - prefix.length));
  return npyStreamSource(parseNpyHeader(file, prefix), reader);
}

/**
 * Opens a tensor file, or standard input for '-', telling its format by its
 * first bytes, never by its name. A file stays open until the source is closed.
 */
export const openTensor = (file: string): Promise<TensorSource> => (file === STDIN ? openStdin() : openFile(file));
