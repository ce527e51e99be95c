import { removeTemporaries } from '../io/atomic-file.js';

/** Exit statuses, documented in the README and at the end of --help. */
export const EXIT_OK = 0;
/** Distinct from failures, so a CI job can tell "worse model" from "broken input". */
export const EXIT_GATE = 1;
export const EXIT_FAILURE = 2;
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;

/**
 * The one place the process exits: at once, even if a producer still holds
 * stdin or a FIFO open (a read pending there would keep Node alive), and
 * without leaving a temporary output file behind.
 */
export function exitProcess(code: number): never {
  removeTemporaries();
  process.exit(code);
}

/** Ctrl-C and termination end the run with the shell's 128 + signal number; a closed stdout ends it quietly. */
export function exitOnSignals(): void {
  process.on('SIGINT', () => exitProcess(EXIT_SIGINT));
  process.on('SIGTERM', () => exitProcess(EXIT_SIGTERM));
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exitProcess(EXIT_OK);
  });
}
