import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/helpers/. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = `${ROOT}bin/smoothl1`;
export const FIXTURES = `${ROOT}fixtures/`;
export const CONFORMANCE = fileURLToPath(new URL('../shared/fixtures/conformance/', `file://${ROOT}`));

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface CliOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly stdin?: Uint8Array;
  /** The command to run instead of `node bin/smoothl1` (e.g. a standalone executable). */
  readonly command?: readonly string[];
}

/** Runs the real CLI as a subprocess, as a user's shell would. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const [cmd = process.execPath, ...pre] = options.command ?? [process.execPath, BIN];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? undefined);
  });
}
