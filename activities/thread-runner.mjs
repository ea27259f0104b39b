// Worker-thread side of runInThread (plain JS, so it loads before tsx): register tsx once, then
// serve calls: import the module (cached), call the function, post the result or the error.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
parentPort.on('message', async ({ id, moduleUrl, fn, args }) => {
  try {
    const mod = await import(moduleUrl);
    const onProgress = (value) => parentPort.postMessage({ id, type: 'progress', value });
    const value = await mod[fn](...args, onProgress);
    parentPort.postMessage({ id, type: 'result', value });
  } catch (e) {
    parentPort.postMessage({ id, type: 'error', error: { name: e?.name ?? 'Error', message: e?.message ?? String(e), reason: e?.reason, stack: e?.stack } });
  }
});
