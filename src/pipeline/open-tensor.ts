import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { dataLongerThan, fromSystemError, SmoothL1Error } from '../tensor/errors.js';
import { arrowFormat } from '../formats/arrow/magic.js';
import { checkDataLength, hasNpyMagic, npyFileSource, npyHeaderEnd, npyStreamSource, parseNpyHeader } from '../formats/npy/read.js';
import { StreamReader } from '../io/stream-reader.js';
import { elementCount, type TensorFormat, type TensorSource, type UnsizedTensorSource } from '../tensor/tensor.js';

/** The path that means standard input. */
export const STDIN = '-';
/** How standard input is named in messages. */
export const STDIN_NAME = '<stdin>';

/** Enough for the header of any .npy that numpy writes for up to ~30 dimensions. */
const PREFIX_BYTES = 4096;
/** Enough to tell the formats apart. */
const MAGIC_BYTES = 12;

export interface OpenOptions {
  /** The Arrow column to read; refused for .npy, which has none. */
  readonly column?: string | undefined;
}

/**
 * An opened tensor. A stream on stdin may not know its length until it
 * ends: it is unsized, and learns its row count from the other input.
 */
export type OpenedTensor =
  | { readonly format: TensorFormat; readonly sized: true; readonly source: TensorSource }
  | { readonly format: TensorFormat; readonly sized: false; readonly source: UnsizedTensorSource };

const unrecognised = (file: string): SmoothL1Error =>
  new SmoothL1Error(file, 'not a tensor file: neither .npy nor Arrow IPC (unrecognised magic bytes)');

const npyHasNoColumns = (file: string, column: string): SmoothL1Error =>
  new SmoothL1Error(file, `is an .npy file, which has no columns; '${column}' applies to Arrow input only`);

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

async function openNpyFile(file: string, handle: fsp.FileHandle, size: number, prefix: Uint8Array): Promise<TensorSource> {
  const end = npyHeaderEnd(file, prefix);
  const header = end !== undefined && end > prefix.length && end <= size ? await readPrefix(handle, end) : prefix;
  const layout = parseNpyHeader(file, header);
  checkDataLength(layout, size);
  return npyFileSource(layout, handle);
}

async function openFile(file: string, options: OpenOptions): Promise<OpenedTensor> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, 'r');
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new SmoothL1Error(file, 'is a directory, not a file');
    if (!stat.isFile()) {
      // A FIFO or device (`<(command)`): read it as a stream, as stdin is read.
      const stream = handle.createReadStream();
      handle = undefined;
      return await openStream(file, stream, options);
    }
    if (stat.size === 0) throw new SmoothL1Error(file, 'empty file (0 bytes), not a tensor');
    const prefix = await readPrefix(handle, Math.min(PREFIX_BYTES, stat.size));
    if (hasNpyMagic(prefix)) {
      if (options.column !== undefined) throw npyHasNoColumns(file, options.column);
      return { format: 'npy', sized: true, source: await openNpyFile(file, handle, stat.size, prefix) };
    }
    const arrow = arrowFormat(prefix);
    if (arrow === undefined) throw unrecognised(file);
    // apache-arrow is loaded only when an input needs it: .npy runs start faster and smaller without it.
    const { openArrowFile } = await import('../formats/arrow/read.js');
    return { format: arrow === 'file' ? 'arrow' : 'arrows', sized: true, source: await openArrowFile(file, handle, options) };
  } catch (err) {
    await handle?.close();
    throw fromSystemError(file, err);
  }
}

/** Appends `more` to `bytes`. */
function concat(bytes: Uint8Array, more: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + more.length);
  out.set(bytes);
  out.set(more, bytes.length);
  return out;
}

/** A tensor arriving on a stream that cannot seek: stdin, a FIFO, a device. */
async function openStream(file: string, stream: Readable, options: OpenOptions): Promise<OpenedTensor> {
  const reader = new StreamReader(stream);
  let prefix: Uint8Array = await reader.read(MAGIC_BYTES);
  if (prefix.length === 0) throw new SmoothL1Error(file, 'empty input (0 bytes), not a tensor');
  if (hasNpyMagic(prefix)) {
    if (options.column !== undefined) throw npyHasNoColumns(file, options.column);
    const end = npyHeaderEnd(file, prefix);
    if (end !== undefined && end > prefix.length) prefix = concat(prefix, await reader.read(end - prefix.length));
    const layout = parseNpyHeader(file, prefix);
    // An empty tensor has no chunk whose reading would find extra data; look now.
    if (elementCount(layout.header.shape) === 0 && (await reader.read(1)).length > 0) throw dataLongerThan(file, 0);
    return { format: 'npy', sized: true, source: npyStreamSource(layout, reader) };
  }
  const arrow = arrowFormat(prefix);
  if (arrow === undefined) throw unrecognised(file);
  // The bytes read to tell the format go back in front of the rest.
  const rest = reader.rest();
  async function* whole(): AsyncGenerator<Uint8Array> {
    yield prefix;
    yield* rest;
  }
  const { openArrowStream } = await import('../formats/arrow/read.js');
  return { format: 'arrows', sized: false, source: await openArrowStream(file, whole(), options) };
}

/**
 * Opens a tensor file, or standard input for '-', telling its format by its
 * first bytes, never by its name. A file stays open until the source is closed;
 * FIFOs and devices are read as streams, like stdin.
 */
export const openTensor = (file: string, options: OpenOptions = {}): Promise<OpenedTensor> =>
  file === STDIN ? openStream(STDIN_NAME, process.stdin, options) : openFile(file, options);
