import { parentPort } from 'node:worker_threads';
import { newScratch } from '../compute/stage.js';
import { runLossTask, type LossResult, type LossTask } from './loss-task.js';
import { toErrorPayload, type ResponseMessage, type TaskMessage } from './pool.js';

const scratch = newScratch();
const port = parentPort;

/**
 * Fault injection for tests only: with SMOOTHL1_FAULT_WORKER_EXIT=N a worker
 * dies (as a crash would end it) on receiving its (N+1)-th task, so tests
 * can check that a dead worker fails the run rather than hanging it. Read
 * once, at start.
 */
const exitAfter = Number(process.env['SMOOTHL1_FAULT_WORKER_EXIT'] ?? NaN);
let received = 0;

// A worker never throws across threads: every task gets an answer, result or error.
port?.on('message', (msg: TaskMessage<LossTask>) => {
  if (received++ === exitAfter) process.exit(70);
  let response: ResponseMessage<LossResult>;
  let transfer: ArrayBuffer[] = [];
  try {
    const done = runLossTask(msg.task, scratch);
    response = { taskId: msg.taskId, result: done.result, error: null };
    transfer = done.transfer;
  } catch (err) {
    response = { taskId: msg.taskId, result: null, error: toErrorPayload(err) };
  }
  port.postMessage(response, transfer);
});
