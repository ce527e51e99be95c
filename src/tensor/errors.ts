/**
 * Every failure smoothl1 reports is a SmoothL1Error: the file it concerns
 * (undefined for bad options) and a reason. Nobody parses messages; the CLI
 * prints `smoothl1: <file>: <reason>`.
 */
export class SmoothL1Error extends Error {
  readonly file: string | undefined;
  readonly reason: string;

  constructor(file: string | undefined, reason: string) {
    super(file === undefined ? reason : `${file}: ${reason}`);
    this.name = 'SmoothL1Error';
    this.file = file;
    this.reason = reason;
  }
}

export const formatShape = (shape: readonly number[]): string =>
  shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(',')})`;

export const shapeMismatch = (file: string, input: readonly number[], label: readonly number[]): SmoothL1Error =>
  new SmoothL1Error(file, `shapes differ: input ${formatShape(input)} vs label ${formatShape(label)} (no broadcasting)`);

export const dataShorter = (file: string, expected: number, found: number): SmoothL1Error =>
  new SmoothL1Error(file, `data shorter than header promises: expected ${expected} bytes, found ${found}`);

export const dataLonger = (file: string, expected: number, found: number): SmoothL1Error =>
  new SmoothL1Error(file, `data longer than header promises: expected ${expected} bytes, found ${found}`);

export const dataLongerThan = (file: string, expected: number): SmoothL1Error =>
  new SmoothL1Error(file, `data longer than header promises: more than ${expected} bytes`);

export const unsupportedDescr = (file: string, descr: string, kind: string): SmoothL1Error =>
  new SmoothL1Error(file, `${kind} dtype unsupported (${descr}); smoothl1 reads bool, integer and float tensors`);

/** Maps a Node system error from opening or reading a file to our error. */
export function fromSystemError(file: string, err: unknown): SmoothL1Error {
  if (err instanceof SmoothL1Error) return err;
  const code = err instanceof Error && 'code' in err ? String(err.code) : '';
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
  return new SmoothL1Error(file, reason);
}
