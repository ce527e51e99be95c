import { parentPort } from 'node:worker_threads';
import { newScratch } from '../compute/stage.js';
import { runLossTask, type LossResult, type LossTask } from './loss-task.js';
import { toErrorPayload, type ResponseMessage, type TaskMessage } from './pool.js';

const scratch = newScratch();
const port = parentPort;

// A worker never throws across threads: every task gets an answer, result or error.
port?.on('message', (msg: TaskMessage<LossTask>) => {
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
