/**
 * Runs the library references of fuzz-arrow.ts in a child process
 * (fuzz-ref-worker.ts), bounded in time and memory: a reference that
 * crashes or hangs on a fuzzed file refuses it, and the next call starts a
 * new process. Started on first use and not kept alive for its own sake.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ArrowVerdict } from './fuzz-arrow.js';

const WORKER = fileURLToPath(new URL('./fuzz-ref-worker.js', import.meta.url));
/** A reference gets this long per file; they take milliseconds. */
const TIMEOUT_MS = 10_000;

interface Pending {
  readonly resolve: (v: ArrowVerdict) => void;
  readonly timer: NodeJS.Timeout;
}

let child: ChildProcess | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();

function settleAll(why: string): void {
  for (const [id, p] of pending) {
    clearTimeout(p.timer);
    p.resolve({ ok: false, why });
    pending.delete(id);
  }
}

function worker(): ChildProcess {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) return child;
  const started = fork(WORKER, [], { serialization: 'advanced', execArgv: ['--max-old-space-size=512'], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  started.on('message', (m: { id: number; verdict: ArrowVerdict }) => {
    const p = pending.get(m.id);
    if (p === undefined) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    p.resolve(m.verdict);
    if (pending.size === 0) idle(started, true);
  });
  started.on('exit', (code, signal) => {
    if (child === started) child = undefined;
    settleAll(`the reference's process died (exit ${code}, ${signal}): it crashed on this file`);
  });
  started.on('error', () => undefined);
  idle(started, true);
  child = started;
  return started;
}

/** Whether the child (and its IPC channel) may keep this process alive: only while an answer is awaited. */
function idle(proc: ChildProcess, yes: boolean): void {
  if (yes) {
    proc.unref();
    proc.channel?.unref();
  } else {
    proc.ref();
    proc.channel?.ref();
  }
}

/** Ends the child process, if one is running (for test.after.always). */
export function stopReferences(): void {
  child?.kill('SIGKILL');
  child = undefined;
}

/** What `which` reads in column `name` of `bytes`; a crash or hang counts as a refusal. */
export function referenceInChild(which: 'flechette' | 'apache-arrow', bytes: Uint8Array, name: string): Promise<ArrowVerdict> {
  const proc = worker();
  const id = nextId++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      resolve({ ok: false, why: `${which} gave no answer in ${TIMEOUT_MS} ms` });
      proc.kill('SIGKILL');
    }, TIMEOUT_MS);
    pending.set(id, { resolve, timer });
    idle(proc, false);
    proc.send({ id, which, bytes, name });
  });
}
