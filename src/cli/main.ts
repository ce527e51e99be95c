import { Command, CommanderError } from 'commander';
import { WRITER_NAMES } from '../formats/index.js';
import { writesToStdout } from '../io/output.js';
import { BrokenPipe, stdoutSink } from '../io/sink.js';
import { smoothL1Loss } from '../pipeline/loss.js';
import { DEFAULT_OPTIONS } from '../pipeline/options.js';
import { formatScalar } from '../print/scalar.js';
import { SmoothL1Error } from '../tensor/errors.js';
import { EXIT_FAILURE, EXIT_GATE, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, exitOnSignals, exitProcess } from './exit.js';
import { passesGate } from './gate.js';
import { parseFailAbove, parseOptions, type RawOptions } from './options.js';
import { version } from './version.js';

/** The README's table of exit statuses, at the end of --help. */
const EXIT_STATUS_HELP = `
Exit status:
  ${EXIT_OK}        the loss was computed (and written); also when the reader of stdout went away
  ${EXIT_GATE}        --fail-above: the loss is above LIMIT, or NaN
  ${EXIT_FAILURE}        bad input, bad usage, or an output that cannot be written (one line on stderr)
  ${EXIT_SIGINT}/${EXIT_SIGTERM}  interrupted by SIGINT/SIGTERM; no temporary file is left`;

function program(): Command {
  return new Command('smoothl1')
    .description("Smooth-L1 (Huber) loss between two tensor files, as Paddle's SmoothL1Loss computes it")
    .argument('<input>', "predictions: .npy, Arrow IPC file or stream; '-' for stdin")
    .argument('<label>', "targets of the same shape, in any of those formats; '-' for stdin")
    .option('-r, --reduction <kind>', 'none | mean | sum', 'mean')
    .option('-d, --delta <D>', 'where the loss turns from quadratic to linear; finite, > 0', '1.0')
    .option('--no-huber', "divide the loss by delta: PyTorch's smooth_l1_loss(beta=delta)")
    .option('-o, --output <path>', "write the loss to PATH ('-' for stdout); required for --reduction none")
    .option('--format <fmt>', `output format: ${WRITER_NAMES.join(' | ')} (default: from the extension, else the input's)`)
    .option('--input-column <name>', 'the Arrow column of INPUT to read')
    .option('--label-column <name>', 'the Arrow column of LABEL to read')
    .option('--fail-above <LIMIT>', 'exit with status 1 when the loss is above LIMIT or NaN (a CI gate)')
    .option('-t, --threads <N>', `worker threads for inputs of 64 Mi elements or more (default: ${DEFAULT_OPTIONS.threads}, the available parallelism)`)
    .version(version(), '-V, --version')
    .addHelpText('after', EXIT_STATUS_HELP)
    .exitOverride()
    // Errors are printed once, our way, by main().
    .configureOutput({ outputError: () => undefined });
}

/** Every failure becomes one line on stderr and exit status 2; a closed stdout ends quietly. */
function report(err: unknown): number {
  if (err instanceof BrokenPipe) return EXIT_OK;
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return EXIT_OK;
    process.stderr.write(`smoothl1: ${err.message.replace(/^error: /, '')}\n`);
    return EXIT_FAILURE;
  }
  const text = err instanceof SmoothL1Error ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
  process.stderr.write(`smoothl1: ${text.split('\n')[0]}\n`);
  return EXIT_FAILURE;
}

/** Runs the command line `argv` (without node and script) and returns its exit status; prints, never exits. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const cmd = program().parse([...argv], { from: 'user' });
    const [inputPath = '', labelPath = ''] = cmd.args;
    const flags = cmd.opts<RawOptions>();
    const hidden = { chunkElements: process.env['SMOOTHL1_CHUNK_ELEMENTS'], poolMinElements: process.env['SMOOTHL1_POOL_MIN_ELEMENTS'] };
    const options = parseOptions({ ...flags, ...hidden }, DEFAULT_OPTIONS);
    const failAbove = parseFailAbove(flags);
    const summary = await smoothL1Loss(inputPath, labelPath, options);
    if (summary.value === undefined) return EXIT_OK;
    const text = formatScalar(summary.value, summary.dtype);
    // Output written to stdout (-o -, or -o /dev/stdout) is the .npy itself: no text after it.
    if (!writesToStdout(options.output)) await stdoutSink().write(new TextEncoder().encode(`${text}\n`));
    if (failAbove !== undefined && !passesGate(summary.value, summary.dtype, failAbove)) {
      process.stderr.write(`smoothl1: loss ${text} is above --fail-above ${flags.failAbove ?? ''}\n`);
      return EXIT_GATE;
    }
    return EXIT_OK;
  } catch (err) {
    return report(err);
  }
}

/** bin/smoothl1 and the single executable start here: run, then exit with the status. */
export async function start(argv: readonly string[]): Promise<never> {
  exitOnSignals();
  return exitProcess(await main(argv));
}
