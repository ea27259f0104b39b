// Run CPU-heavy pure functions in a worker thread, so the activity's event loop keeps heartbeating.
// The thread loads the module through tsx (no build step) and calls one exported async function.
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'thread-runner.mjs');

export interface ThreadCall {
  /** Absolute path or file URL of the module. */
  module: string;
  /** Name of the exported async function. */
  fn: string;
  args: unknown[];
}

/** Call `fn(...args)` in a fresh worker thread; progress messages go to `onProgress`. */
export function runInThread<T>(call: ThreadCall, onProgress?: (p: unknown) => void, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const moduleUrl = call.module.startsWith('file:') ? call.module : pathToFileURL(call.module).href;
    const worker = new Worker(runner, { workerData: { moduleUrl, fn: call.fn, args: call.args } });
    const abort = () => void worker.terminate();
    signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', (m: { type: string; value?: unknown; error?: { name: string; message: string; reason?: string; stack?: string } }) => {
      if (m.type === 'progress') onProgress?.(m.value);
      else if (m.type === 'result') resolve(m.value as T);
      else if (m.type === 'error') {
        const e = Object.assign(new Error(m.error!.message), { name: m.error!.name, reason: m.error!.reason });
        e.stack = m.error!.stack;
        reject(e);
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      signal?.removeEventListener('abort', abort);
      if (code !== 0) reject(new Error(signal?.aborted ? 'cancelled' : `worker thread exited with code ${code}`));
    });
  });
}
