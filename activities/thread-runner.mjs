// Worker-thread side of runInThread (plain JS, so it loads before tsx): register tsx, import the
// TypeScript module, call the function, post the result or the error.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { moduleUrl, fn, args } = workerData;
try {
  const mod = await import(moduleUrl);
  const onProgress = (value) => parentPort.postMessage({ type: 'progress', value });
  const value = await mod[fn](...args, onProgress);
  parentPort.postMessage({ type: 'result', value });
} catch (e) {
  parentPort.postMessage({ type: 'error', error: { name: e?.name ?? 'Error', message: e?.message ?? String(e), reason: e?.reason, stack: e?.stack } });
}
