import type { FileHandle } from 'node:fs/promises';
import type { FloatDType, TensorFormat, TensorSource, UnsizedTensorSource } from './tensor.js';

/*
 * What a file format implements to plug into smoothl1. A format is a folder
 * under src/formats/ that exports a TensorReader and/or a TensorWriterFormat;
 * src/formats/index.ts lists them in one table. Nothing in pipeline/,
 * workers/ or compute/ names a format.
 */

/** A seekable file opened for reading, with its first bytes already read. */
export interface SeekableInput {
  /** The path as the user gave it; error messages name it. */
  readonly file: string;
  /** Owned by the source made from it, which closes it; closed by the caller if opening fails. */
  readonly handle: FileHandle;
  readonly size: number;
  /** The file's first bytes: up to PREFIX_BYTES, fewer only in a shorter file. */
  readonly prefix: Uint8Array;
}

/** Exact-length reads from a stream that cannot seek (stdin, a FIFO). */
export interface ByteStream {
  /** Up to `n` bytes into a fresh buffer of its own (so it can be transferred); fewer only at end of stream. */
  read(n: number): Promise<Uint8Array<ArrayBuffer>>;
  /** Everything not yet read: for a reader that takes a whole stream. */
  rest(): AsyncGenerator<Uint8Array>;
  close(): Promise<void>;
}

/** A stream whose first bytes (the prefix) were read to tell its format. */
export interface StreamInput {
  readonly file: string;
  readonly prefix: Uint8Array;
  /** The bytes after the prefix. */
  readonly stream: ByteStream;
}

/**
 * An opened tensor. A stream on stdin may not know its length until it
 * ends: it is unsized, and learns its row count from the other input.
 */
export type OpenedTensor =
  | { readonly sized: true; readonly source: TensorSource }
  | { readonly sized: false; readonly source: UnsizedTensorSource };

/** Reads one format: tells it by its first bytes, then opens a file or a stream of it. */
export interface TensorReader {
  /**
   * The format of a file starting with `prefix` (at least MAGIC_BYTES, or
   * the whole of a shorter file), or undefined when it is not this reader's.
   */
  sniff(prefix: Uint8Array): TensorFormat | undefined;
  /** `key` selects a column or member; a format without any refuses one. */
  openFile(input: SeekableInput, key: string | undefined): Promise<TensorSource>;
  openStream(input: StreamInput, key: string | undefined): Promise<OpenedTensor>;
}

/**
 * Where output bytes go. write() resolves once the bytes have been handed
 * to the OS, so the caller may reuse the buffer; commit() makes the output
 * final; abort() undoes whatever can be undone.
 */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  /**
   * Set when the sink is a regular file that any thread may also write by
   * position (pwrite) until commit: the descriptor, and how many bytes
   * write() has put at its start so far.
   */
  readonly file?: { readonly fd: number; readonly written: number };
  /** With `file`: makes what is in the file so far durable (fdatasync), while writing goes on. */
  flush?(): Promise<void>;
}

/** Bytes of an open file from `position` on, which a worker writes itself; `path` names it in errors. */
export interface FileSpan {
  readonly path: string;
  readonly fd: number;
  readonly position: number;
}

/**
 * Writes a loss tensor in some format. Elements arrive in storage order, in
 * the result dtype and platform byte order, in pieces of any length.
 */
export interface TensorWriter {
  /** Resolves once `elements` may be reused. */
  write(elements: Uint8Array): Promise<void>;
  /**
   * Set when elements may instead be written by position, from any thread:
   * spanFrom(i) is where element i and those after it go, back to back.
   * write() is then not called.
   */
  readonly direct?: { spanFrom(first: number): FileSpan };
  /** With `direct`: makes the elements written so far durable, while writing goes on. */
  flush?(): Promise<void>;
  /** Completes the format and makes the output final. */
  finish(): Promise<void>;
  /** Leaves nothing behind: no partial file, any existing target untouched. */
  abort(): Promise<void>;
}

/** What a writer needs to know of the loss tensor before its first element. */
export interface LossTensorSpec {
  /** The output path, for error messages. */
  readonly path: string;
  readonly dtype: FloatDType;
  readonly shape: readonly number[];
  readonly fortranOrder: boolean;
}

/** Writes one format. */
export interface TensorWriterFormat {
  /** Lower-case extensions, dot included, that ask for this format. */
  readonly extensions: readonly string[];
  /** Whether it can hold a 0-d tensor: a reduced (mean or sum) loss. */
  readonly holdsScalars: boolean;
  /** Whether it can store elements in Fortran order; if not, inputs are read in C order. */
  readonly storesFortranOrder: boolean;
  open(sink: ByteSink, spec: LossTensorSpec): Promise<TensorWriter>;
}
