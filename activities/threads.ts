// Run CPU-heavy pure functions in worker threads, so the activity's event loop keeps heartbeating.
// Threads are pooled: each loads tsx and the step's modules once, then serves call after call.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'thread-runner.mjs');

export interface ThreadCall {
  /** Absolute path or file URL of the module. */
  module: string;
  /** Name of the exported async function; it gets `onProgress` after its arguments. */
  fn: string;
  args: unknown[];
}

interface Message {
  id: number;
  type: 'progress' | 'result' | 'error';
  value?: unknown;
  error?: { name: string; message: string; reason?: string; details?: Record<string, unknown>; stack?: string };
}

const idle: Worker[] = [];
const MAX_IDLE = Math.max(1, os.cpus().length);
let nextId = 1;

function takeWorker(): Worker {
  const w = idle.pop() ?? new Worker(runner);
  w.unref();
  return w;
}

function giveBack(w: Worker): void {
  w.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
  if (idle.length < MAX_IDLE) idle.push(w);
  else void w.terminate();
}

/** Call `fn(...args, onProgress)` in a pooled worker thread. Aborting terminates that thread. */
export function runInThread<T>(call: ThreadCall, onProgress?: (p: unknown) => void, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const moduleUrl = call.module.startsWith('file:') ? call.module : pathToFileURL(call.module).href;
    const id = nextId++;
    const worker = takeWorker();
    let settled = false;
    const finish = (fn: () => void, reuse: boolean) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      if (reuse) giveBack(worker);
      else void worker.terminate();
      fn();
    };
    const abort = () => finish(() => reject(new Error('cancelled')), false);
    signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', (m: Message) => {
      if (m.id !== id) return;
      if (m.type === 'progress') onProgress?.(m.value);
      else if (m.type === 'result') finish(() => resolve(m.value as T), true);
      else if (m.type === 'error') {
        const e = Object.assign(new Error(m.error!.message), { name: m.error!.name, reason: m.error!.reason, details: m.error!.details });
        e.stack = m.error!.stack;
        finish(() => reject(e), true);
      }
    });
    worker.on('error', (e) => finish(() => reject(e), false));
    worker.on('exit', (code) => finish(() => reject(new Error(`worker thread exited with code ${code}`)), false));
    worker.postMessage({ id, moduleUrl, fn: call.fn, args: call.args });
  });
}
