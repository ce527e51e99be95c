/** Element types smoothl1 reads and writes, named as NumPy names them. */
export type DType =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64';

export type FloatDType = 'float16' | 'float32' | 'float64';

export type ByteOrder = 'little' | 'big';

/**
 * The file formats smoothl1 reads and writes, by the name --format takes:
 * .npy, an Arrow IPC file, an Arrow IPC stream.
 */
export type TensorFormat = 'npy' | 'arrow' | 'arrows';

/** What a reader knows about a tensor before reading any element. */
export interface TensorHeader {
  /** The path as the user gave it; error messages name it. */
  readonly file: string;
  readonly dtype: DType;
  readonly byteOrder: ByteOrder;
  readonly shape: readonly number[];
  /** Elements are stored with the first axis varying fastest. */
  readonly fortranOrder: boolean;
}

/**
 * Where the bytes of one chunk of elements are. A seekable file is read by
 * the worker itself at an explicit position (no copy through the main
 * thread); anything else arrives as bytes in a buffer the reader allocated,
 * so it can be transferred to the worker.
 */
export type Chunk =
  | { readonly kind: 'range'; readonly fd: number; readonly pieces: readonly FilePiece[]; readonly byteLength: number }
  | { readonly kind: 'bytes'; readonly buffer: ArrayBuffer; readonly byteOffset: number; readonly byteLength: number };

/** Bytes of a file at a position: a range chunk is one or a few of them, back to back in the tensor. */
export interface FilePiece {
  readonly position: number;
  readonly byteLength: number;
}

/** One tensor's part of a task: where its chunk is and how to read it. Plain data, so it can cross threads. */
export interface ChunkRef {
  readonly file: string;
  readonly chunk: Chunk;
  readonly dtype: DType;
  readonly byteOrder: ByteOrder;
}

/** A tensor being read: its header and its elements, chunk by chunk, in storage order. */
export interface TensorSource {
  readonly header: TensorHeader;
  /**
   * Chunks of up to this many elements are 'range's, which the thread that
   * computes them reads: they hold no memory here, whatever their size.
   */
  readonly rangeChunkElements?: number;
  /**
   * The chunk holding elements [start, start + count) in storage order.
   * Callers ask in increasing order of `start`, so sequential sources work.
   */
  chunk(start: number, count: number): Promise<Chunk>;
  close(): Promise<void>;
}

/**
 * A stream read from a pipe (an Arrow IPC stream on stdin): its row count is known only at its end.
 * `withRows` turns it into a TensorSource that promises the other input's
 * row count and fails while reading if the stream holds fewer or more rows.
 */
export interface UnsizedTensorSource {
  readonly file: string;
  readonly dtype: DType;
  readonly byteOrder: ByteOrder;
  /** The shape without its first (row) axis. */
  readonly rowShape: readonly number[];
  /**
   * Call once, before reading. An empty tensor has no chunks to check the
   * row count while reading, so then the stream is read to its end here.
   */
  withRows(rows: number): Promise<TensorSource>;
  close(): Promise<void>;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}
