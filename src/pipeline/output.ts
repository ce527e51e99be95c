import { promises as fsp } from 'node:fs';
import { dirname, extname } from 'node:path';
import { openAtomicFile } from '../io/atomic-file.js';
import { fromSystemError, SmoothL1Error } from '../tensor/errors.js';
import { deviceSink, stdoutSink, type ByteSink } from '../io/sink.js';
import type { FloatDType, TensorFormat, TensorWriter } from '../tensor/tensor.js';
import { openNpyWriter } from '../formats/npy/write.js';

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

const FORMAT_BY_EXTENSION: Readonly<Record<string, TensorFormat>> = {
  '.npy': 'npy',
  '.arrow': 'arrow',
  '.feather': 'arrow',
  '.arrows': 'arrows',
};

/**
 * The format to write: --format when given; else the output's extension
 * (.npy, .arrow/.feather, .arrows); else (stdout, or another extension) the
 * input's format, except that an Arrow file input gives an Arrow stream on
 * stdout, which a reader can consume as it arrives.
 */
export function outputFormat(target: string, explicit: TensorFormat | undefined, inputFormat: TensorFormat): TensorFormat {
  if (explicit !== undefined) return explicit;
  const byExtension = target === STDOUT ? undefined : FORMAT_BY_EXTENSION[extname(target).toLowerCase()];
  if (byExtension !== undefined) return byExtension;
  return target === STDOUT && inputFormat === 'arrow' ? 'arrows' : inputFormat;
}

/** Whether the output's name alone asks for Arrow, so inputs must be read in C order. */
export const arrowByName = (target: string | undefined): boolean =>
  target !== undefined && target !== STDOUT && (FORMAT_BY_EXTENSION[extname(target).toLowerCase()] ?? 'npy') !== 'npy';

/** Opens the writer of `format` over `sink`. */
export async function openTensorWriter(
  format: TensorFormat,
  sink: ByteSink,
  dtype: FloatDType,
  shape: readonly number[],
  fortranOrder: boolean,
  path: string,
): Promise<TensorWriter> {
  if (format === 'npy') return openNpyWriter(sink, dtype, shape, fortranOrder, path);
  // Loaded only for Arrow output, as the reader is only for Arrow input.
  const { openArrowWriter } = await import('../formats/arrow/write.js');
  return openArrowWriter(sink, format === 'arrow' ? 'file' : 'stream', dtype, shape);
}
