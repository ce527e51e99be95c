import { extname } from 'node:path';
import { SmoothL1Error } from '../tensor/errors.js';
import type { TensorReader, TensorWriterFormat } from '../tensor/format.js';
import type { FloatDType, TensorFormat } from '../tensor/tensor.js';
import { arrowFileWriter, arrowReader, arrowStreamWriter } from './arrow/index.js';
import { npyReader, npyWriter } from './npy/index.js';
import { npyScalar } from './npy/write.js';

/*
 * The one table of formats. A new format is a folder beside npy/ and arrow/
 * exporting a TensorReader (and a TensorWriterFormat if it can be written),
 * a line in READERS (and WRITERS, with its --format name in TensorFormat)
 * here: pipeline/, workers/ and compute/ do not change, and the CLI takes
 * its --format names from this table.
 */

/** Readers in the order they are asked to recognise a file's first bytes. */
const READERS: readonly TensorReader[] = [npyReader, arrowReader];

/** Writers by the name --format takes. */
const WRITERS: Readonly<Record<TensorFormat, TensorWriterFormat>> = {
  npy: npyWriter,
  arrow: arrowFileWriter,
  arrows: arrowStreamWriter,
};

/** Bytes read from the start of a file before its format is chosen: enough for any reader's sniff(). */
export const MAGIC_BYTES = 12;

/** The reader of a file that starts with `prefix`, and the format it named, or undefined when no reader knows it. */
export function readerFor(prefix: Uint8Array): { reader: TensorReader; format: TensorFormat } | undefined {
  for (const reader of READERS) {
    const format = reader.sniff(prefix);
    if (format !== undefined) return { reader, format };
  }
  return undefined;
}

export const unrecognised = (file: string): SmoothL1Error =>
  new SmoothL1Error('not-a-tensor', file, 'not a tensor file: neither .npy nor Arrow IPC (unrecognised magic bytes)');

/** The format an output path's extension asks for, if any. */
function formatByExtension(target: string): TensorFormat | undefined {
  const extension = extname(target).toLowerCase();
  return WRITER_NAMES.find((name) => WRITERS[name].extensions.includes(extension));
}

/**
 * The format to write: --format when given; else the output's extension
 * (.npy, .arrow/.feather, .arrows); else (stdout, or another extension) the
 * input's format, except that an Arrow file input gives an Arrow stream on
 * stdout, which a reader can consume as it arrives.
 */
export function outputFormat(target: string, explicit: TensorFormat | undefined, inputFormat: TensorFormat, isStdout: boolean): TensorFormat {
  if (explicit !== undefined) return explicit;
  const byExtension = isStdout ? undefined : formatByExtension(target);
  if (byExtension !== undefined) return byExtension;
  return isStdout && inputFormat === 'arrow' ? 'arrows' : inputFormat;
}

/**
 * What is known of the output's format before the inputs are opened: from
 * --format, else from the output's extension, else .npy's (stdout or an
 * unknown extension may still turn out to be Arrow, which then checks again).
 */
export function writerBeforeOpening(target: string | undefined, explicit: TensorFormat | undefined, isStdout: boolean): TensorWriterFormat {
  if (explicit !== undefined) return WRITERS[explicit];
  const byName = target === undefined || isStdout ? undefined : formatByExtension(target);
  return WRITERS[byName ?? 'npy'];
}

export const writerOf = (format: TensorFormat): TensorWriterFormat => WRITERS[format];

/** The names --format takes, in the table's order. */
export const WRITER_NAMES = Object.keys(WRITERS) as readonly TensorFormat[];

/** Whether `name` is a format smoothl1 writes: library callers in plain JavaScript can pass any string. */
export const isWriterName = (name: string): name is TensorFormat => (WRITER_NAMES as readonly string[]).includes(name);

/** The whole file for a reduced loss: a 0-d .npy, the one format here that holds a scalar (see holdsScalars). */
export const scalarFile: (value: number, dtype: FloatDType) => Uint8Array = npyScalar;
