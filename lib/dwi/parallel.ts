// Slab parallelism over worker threads for the three heavy steps. The series
// lives in a SharedArrayBuffer; each worker owns a contiguous range of output
// slices (or voxels, for the tensor fit) and writes them in place. For MP-PCA
// the original slices a range's windows borrow from its neighbours (the halo)
// are copied before any worker starts, since the neighbours overwrite them.
//
// Workers are kept in a pool and reused across calls: starting one (and, under
// tsx, compiling its modules) costs about 0.1 s, as much as a small series'
// whole step. Idle workers are unref'd so that they never keep a process alive.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { resolveExtent, seriesSliceSource, type MppcaOptions, type MppcaResult } from './denoise.js';
import type { GibbsParams } from './gibbs.js';
import type { WorkerReply, WorkerTask } from './worker.js';
import { tensorProblem, type TensorFit, type TensorFitOptions } from './tensor.js';

/** True when `data` can be shared with workers. */
export function isShared(data: Float32Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer;
}

function workerUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./worker.${ext}`, import.meta.url);
}

/**
 * URL of tsx's ESM API. import.meta.resolve is missing when tsx compiles this
 * file to CommonJS (mocha), and the API's CommonJS build cannot register ESM
 * hooks, so the ESM build is located next to the package entry.
 */
function resolveTsxApi(): string {
  const meta = import.meta as ImportMeta & { resolve?: (specifier: string) => string };
  if (typeof meta.resolve === 'function') return meta.resolve('tsx/esm/api');
  const entry = createRequire(import.meta.url).resolve('tsx'); // .../tsx/dist/loader.mjs
  return pathToFileURL(path.join(path.dirname(entry), 'esm/api/index.mjs')).href;
}

/** Start a worker; under tsx (this file is .ts) the worker registers tsx's hooks first. */
function startWorker(): Worker {
  const url = workerUrl();
  if (url.pathname.endsWith('.ts')) {
    const api = resolveTsxApi();
    const code = `import(${JSON.stringify(api)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
    return new Worker(code, { eval: true });
  }
  return new Worker(url);
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
  onUnit: () => void;
}

/** One worker and the task it runs, if any. */
class PooledWorker {
  readonly worker: Worker;
  private pending: Pending | undefined;
  private nextId = 0;
  private id = -1;

  constructor(onDeath: (w: PooledWorker) => void) {
    this.worker = startWorker();
    this.worker.unref();
    this.worker.on('message', (m: WorkerReply) => {
      if (m.id !== this.id || !this.pending) return;
      if (m.type === 'progress') this.pending.onUnit();
      else if (m.type === 'done') this.settle((p) => p.resolve(m.result));
      else this.settle((p) => p.reject(new Error(m.message)));
    });
    const die = (err: Error) => {
      onDeath(this);
      this.settle((p) => p.reject(err));
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`DWI worker exited with code ${code}`)));
  }

  run(task: WorkerTask, onUnit: () => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.id = this.nextId++;
      this.pending = { resolve, reject, onUnit };
      // Held while busy: an unref'd worker would let the process exit mid-task.
      this.worker.ref();
      this.worker.postMessage({ id: this.id, task });
    });
  }

  private settle(action: (p: Pending) => void): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    this.worker.unref();
    action(p);
  }
}

const pool: PooledWorker[] = [];

function removeFromPool(worker: PooledWorker): void {
  const i = pool.indexOf(worker);
  if (i >= 0) pool.splice(i, 1);
}
let poolBusy = Promise.resolve();

/**
 * Run the tasks on up to `threads` pooled workers, each taking the next task
 * when it finishes one (ranges of air are quick, so equal ranges do not mean
 * equal work). Calls are queued so that a worker never holds two tasks.
 */
function runWorkers(tasks: WorkerTask[], threads: number, onUnit: () => void): Promise<unknown[]> {
  const run = async () => {
    const workers = Math.max(1, Math.min(threads, tasks.length));
    while (pool.length < workers) pool.push(new PooledWorker(removeFromPool));
    const results: unknown[] = new Array(tasks.length);
    let next = 0;
    const drain = async (worker: PooledWorker) => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await worker.run(tasks[i], onUnit);
      }
    };
    await Promise.all(pool.slice(0, workers).map(drain));
    return results;
  };
  const result = poolBusy.then(run);
  poolBusy = result.then(
    () => undefined,
    () => undefined,
  );
  return result;
}

/** Stop the pooled workers (tests; a process exits without it). */
export async function closeWorkerPool(): Promise<void> {
  const workers = pool.splice(0);
  await Promise.all(workers.map((w) => w.worker.terminate()));
}

/** Split [0, n) into `parts` contiguous ranges of near-equal size. */
function ranges(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let k = 0; k < parts; k++) {
    const a = Math.floor((k * n) / parts), b = Math.floor(((k + 1) * n) / parts);
    if (b > a) out.push([a, b]);
  }
  return out;
}

export async function parallelDenoise(
  data: Float32Array,
  shape: readonly number[],
  opts: MppcaOptions,
  threads: number,
): Promise<MppcaResult> {
  const [nx, ny, nz, nv] = shape;
  const extent = resolveExtent(opts.extent, shape);
  const estimator = opts.estimator ?? 'cordero-grande';
  const apply = opts.apply ?? true;
  const noise = new Float32Array(new SharedArrayBuffer(nx * ny * nz * 4));
  const ez = extent[2], hz = ez >> 1;
  const windowStart = (z: number) => Math.min(Math.max(z - hz, 0), nz - ez);
  const source = seriesSliceSource(data, shape);
  // A few ranges per thread, each at least a window deep so that its halo stays smaller than itself.
  const parts = Math.max(Math.min(threads, nz), Math.min(threads * 4, Math.floor(nz / ez)));
  const tasks: WorkerTask[] = ranges(nz, parts).map(([zStart, zEnd]) => {
    const halos: { z: number; buffer: SharedArrayBuffer }[] = [];
    for (let z = windowStart(zStart); z < windowStart(zEnd - 1) + ez; z++) {
      if (z >= zStart && z < zEnd) continue;
      const buffer = new SharedArrayBuffer(nx * ny * nv * 4);
      source.load(z, new Float32Array(buffer));
      halos.push({ z, buffer });
    }
    return { task: 'denoise', data: data.buffer as SharedArrayBuffer, noise: noise.buffer as SharedArrayBuffer, shape: [...shape], zStart, zEnd, extent, estimator, apply, halos };
  });
  let done = 0;
  const results = (await runWorkers(tasks, threads, () => opts.onProgress?.(++done / nz))) as { signalComponents: number }[];
  const signal = results.reduce((a, r) => a + r.signalComponents, 0);
  return { noiseMap: noise, extent, estimator, meanSignalComponents: signal / (nx * ny * nz) };
}

export async function parallelGibbs(
  data: Float32Array,
  shape: readonly number[],
  params: GibbsParams,
  threads: number,
  onProgress?: (fraction: number) => void,
): Promise<void> {
  const slices = shape.slice(2).reduce((a, b) => a * b, 1);
  const tasks: WorkerTask[] = ranges(slices, Math.min(threads * 8, slices)).map(([first, last]) => ({
    task: 'gibbs', data: data.buffer as SharedArrayBuffer, shape: [...shape], first, last, params,
  }));
  let done = 0;
  await runWorkers(tasks, threads, () => {
    done++;
    if (onProgress && (done % 16 === 0 || done === slices)) onProgress(done / slices);
  });
}

/** Progress messages per range of the tensor fit. */
const UNITS_PER_RANGE = 20;

/** fitTensor over `threads` workers, in contiguous ranges of voxels. */
export async function parallelFitTensor(
  data: Float32Array,
  shape: readonly number[],
  bvals: readonly number[],
  bvecs: readonly (readonly number[])[],
  volumes: readonly number[],
  mask: Uint8Array,
  threads: number,
  opts: TensorFitOptions = {},
): Promise<TensorFit> {
  const problem = tensorProblem(shape, bvals, bvecs, volumes, opts.iterations);
  const { nvox } = problem;
  const tensor = new Float32Array(new SharedArrayBuffer(nvox * 6 * 4));
  const s0 = new Float32Array(new SharedArrayBuffer(nvox * 4));
  const sharedMask = new Uint8Array(new SharedArrayBuffer(nvox));
  sharedMask.set(mask);
  const parts = ranges(nvox, Math.min(threads * 8, nvox));
  const tasks: WorkerTask[] = parts.map(([first, last]) => ({
    task: 'tensor', data: data.buffer as SharedArrayBuffer, mask: sharedMask.buffer as SharedArrayBuffer,
    tensor: tensor.buffer as SharedArrayBuffer, s0: s0.buffer as SharedArrayBuffer, problem, first, last, units: UNITS_PER_RANGE,
  }));
  let done = 0;
  const units = parts.length * UNITS_PER_RANGE;
  await runWorkers(tasks, threads, () => opts.onProgress?.(Math.min(1, ++done / units)));
  return { tensor, s0 };
}
