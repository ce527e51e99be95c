/**
 * What went wrong, as a stable word that library users and tests match on
 * instead of message text:
 * - `usage`: options that make no sense, alone or together;
 * - `io`: the operating system refused a read or write (no such file,
 *   permission denied, disk full, a file that shrank while being read);
 * - `not-a-tensor`: the bytes are none of the formats smoothl1 reads;
 * - `bad-header`: a header or metadata that breaks its format's rules;
 * - `corrupt`: structure or data that contradicts itself past the header;
 * - `data-length`: data shorter or longer than its header promises;
 * - `unsupported`: a valid file using a feature smoothl1 does not read or write;
 * - `shape-mismatch`: the inputs' shapes differ (no broadcasting);
 * - `key`: the column or tensor to read is missing, ambiguous or not given;
 * - `null`: a missing element in the column read;
 * - `output`: the output path cannot be written as asked;
 * - `worker`: a worker thread died;
 * - `internal`: a bug in smoothl1.
 */
export type ErrorCode =
  | 'usage'
  | 'io'
  | 'not-a-tensor'
  | 'bad-header'
  | 'corrupt'
  | 'data-length'
  | 'unsupported'
  | 'shape-mismatch'
  | 'key'
  | 'null'
  | 'output'
  | 'worker'
  | 'internal';

/**
 * Every failure smoothl1 reports is a SmoothL1Error: a stable `code`, the
 * file it concerns (undefined for bad options) and a reason. Nobody parses
 * messages; the CLI prints `smoothl1: <file>: <reason>`.
 */
export class SmoothL1Error extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly reason: string;

  constructor(code: ErrorCode, file: string | undefined, reason: string) {
    super(file === undefined ? oneLine(reason) : `${oneLine(file)}: ${oneLine(reason)}`);
    this.name = 'SmoothL1Error';
    this.code = code;
    this.file = file;
    this.reason = reason;
  }
}

/**
 * `text` with control characters written as escapes (\n, \r, \u001b; DEL and
 * the C1 controls such as CSI, \u009b, which JSON.stringify leaves raw),
 * tabs aside: names in a message come from paths and files (a dtype string,
 * a column name), and a line break or escape sequence there must neither
 * split the one line the CLI prints nor reach the terminal.
 */
export const oneLine = (text: string): string =>
  text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

export const formatShape = (shape: readonly number[]): string =>
  shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(',')})`;

export const usageError = (reason: string): SmoothL1Error => new SmoothL1Error('usage', undefined, reason);

/** A bug, not bad input: something smoothl1 itself should have prevented. */
export const internalError = (reason: string): SmoothL1Error => new SmoothL1Error('internal', undefined, `internal error: ${reason}`);

export const shapeMismatch = (file: string, input: readonly number[], label: readonly number[]): SmoothL1Error =>
  new SmoothL1Error('shape-mismatch', file, `shapes differ: input ${formatShape(input)} vs label ${formatShape(label)} (no broadcasting)`);

export const dataShorter = (file: string, expected: number, found: number): SmoothL1Error =>
  new SmoothL1Error('data-length', file, `data shorter than header promises: expected ${expected} bytes, found ${found}`);

export const dataLonger = (file: string, expected: number, found: number): SmoothL1Error =>
  new SmoothL1Error('data-length', file, `data longer than header promises: expected ${expected} bytes, found ${found}`);

export const dataLongerThan = (file: string, expected: number): SmoothL1Error =>
  new SmoothL1Error('data-length', file, `data longer than header promises: more than ${expected} bytes`);

export const fileShrank = (file: string): SmoothL1Error => new SmoothL1Error('io', file, 'file became shorter while it was being read');

export const unsupportedDescr = (file: string, descr: string, kind: string): SmoothL1Error =>
  new SmoothL1Error('unsupported', file, `${kind} dtype unsupported (${descr}); smoothl1 reads bool, integer and float tensors`);

export const shapeTooLarge = (file: string): SmoothL1Error => new SmoothL1Error('unsupported', file, 'shape too large');

/**
 * Maps a Node system error from opening, reading or writing a file to our
 * error, code 'io'. Anything else thrown there (no errno code such as
 * ENOENT, say a TypeError) is a bug of ours: code 'internal'.
 */
export function fromSystemError(file: string, err: unknown): SmoothL1Error {
  if (err instanceof SmoothL1Error) return err;
  const code = err instanceof Error && 'code' in err ? String(err.code) : '';
  if (!/^E[A-Z]+$/.test(code)) return new SmoothL1Error('internal', file, err instanceof Error ? err.message : String(err));
  const reasons: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'is a directory, not a file',
    ENOTDIR: 'a parent of this path is not a directory',
    ELOOP: 'too many levels of symbolic links',
    EMFILE: 'too many open files',
    ENOSPC: 'no space left on device',
    EIO: 'input/output error',
  };
  const reason = reasons[code] ?? (err instanceof Error ? err.message : String(err));
  return new SmoothL1Error('io', file, reason);
}
