// Worker-thread side of runInThread (plain JS, so it loads before tsx): register tsx once, then
// serve calls: import the module (cached), call the function, post the result or the error.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();

/** An error's class name, also for classes that do not set `name` (callers map lib errors by it). */
function errorName(e) {
  if (e?.name && e.name !== 'Error') return e.name;
  return e?.constructor?.name ?? 'Error';
}
parentPort.on('message', async ({ id, moduleUrl, fn, args }) => {
  try {
    const mod = await import(moduleUrl);
    const onProgress = (value) => parentPort.postMessage({ id, type: 'progress', value });
    const value = await mod[fn](...args, onProgress);
    parentPort.postMessage({ id, type: 'result', value });
  } catch (e) {
    parentPort.postMessage({ id, type: 'error', error: { name: errorName(e), message: e?.message ?? String(e), reason: e?.reason, details: e?.details, stack: e?.stack } });
  }
});
