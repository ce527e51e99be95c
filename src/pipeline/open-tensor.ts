import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { MAGIC_BYTES, readerFor, unrecognised } from '../formats/index.js';
import { openDeviceStream } from '../io/device-stream.js';
import { readAtMost } from '../io/read-at.js';
import { StreamReader } from '../io/stream-reader.js';
import { fromSystemError, SmoothL1Error } from '../tensor/errors.js';
import type { OpenedTensor } from '../tensor/format.js';
import type { TensorFormat } from '../tensor/tensor.js';

/** The path that means standard input. */
export const STDIN = '-';
/** How standard input is named in messages. */
export const STDIN_NAME = '<stdin>';

/** Enough for the header of any .npy that NumPy writes for up to ~30 dimensions, so most need one read. */
const PREFIX_BYTES = 4096;

/** An opened tensor and the format its first bytes named. */
export type OpenedInput = OpenedTensor & { readonly format: TensorFormat };

async function openFile(file: string, key: string | undefined): Promise<OpenedInput> {
  let handle: fsp.FileHandle | undefined;
  try {
    // Told before opening: a FIFO must be opened once, as a stream (closing
    // a first descriptor could leave its writer with no reader, and kill it).
    const kind = await fsp.stat(file);
    if (kind.isDirectory()) throw new SmoothL1Error('io', file, 'is a directory, not a file');
    if (!kind.isFile()) return await openStream(file, await openDeviceStream(file), key, true);
    handle = await fsp.open(file, 'r');
    const stat = await handle.stat();
    if (!stat.isFile()) throw new SmoothL1Error('io', file, 'was replaced by something other than a file while being opened');
    if (stat.size === 0) throw new SmoothL1Error('not-a-tensor', file, 'empty file (0 bytes), not a tensor');
    const head = new Uint8Array(Math.min(PREFIX_BYTES, stat.size));
    const prefix = head.subarray(0, readAtMost(file, handle.fd, head, 0));
    const found = readerFor(prefix);
    if (found === undefined) throw unrecognised(file);
    const source = await found.reader.openFile({ file, handle, size: stat.size, prefix }, key);
    return { format: found.format, sized: true, source };
  } catch (err) {
    await handle?.close();
    throw fromSystemError(file, err);
  }
}

/**
 * A tensor arriving on a stream that cannot seek: stdin, a FIFO, a device.
 * A stream we opened (`owned`) is closed if opening the tensor fails; stdin
 * is not ours to close.
 */
async function openStream(file: string, readable: Readable, key: string | undefined, owned: boolean): Promise<OpenedInput> {
  const stream = new StreamReader(readable);
  try {
    const prefix = await stream.read(MAGIC_BYTES);
    if (prefix.length === 0) throw new SmoothL1Error('not-a-tensor', file, 'empty input (0 bytes), not a tensor');
    const found = readerFor(prefix);
    if (found === undefined) throw unrecognised(file);
    return { format: found.format, ...(await found.reader.openStream({ file, prefix, stream }, key)) };
  } catch (err) {
    if (owned) await stream.close();
    throw err;
  }
}

/**
 * Opens a tensor file, or standard input for '-', telling its format by its
 * first bytes, never by its name; `key` selects a column where the format
 * has several. A file stays open until the source is closed; FIFOs and
 * devices are read as streams, like stdin.
 */
export const openTensor = (file: string, key?: string): Promise<OpenedInput> =>
  file === STDIN ? openStream(STDIN_NAME, process.stdin, key, false) : openFile(file, key);
