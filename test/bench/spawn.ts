import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface Exited {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From spawn to 'close', in seconds. */
  readonly wallS: number;
}

/** Runs a process with no stdin to completion, collecting its output. */
export function runToExit(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallS = (performance.now() - start) / 1000;
      resolve({ code, wallS, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}
