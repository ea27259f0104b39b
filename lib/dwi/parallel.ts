// Slab parallelism over worker threads for the two heavy steps. The series
// lives in a SharedArrayBuffer; each worker owns a contiguous range of output
// slices and writes them in place. For MP-PCA the original slices a range's
// windows borrow from its neighbours (the halo) are copied before any worker
// starts, since the neighbours overwrite them.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { resolveExtent, seriesSliceSource, type MppcaOptions, type MppcaResult } from './denoise.js';
import type { GibbsParams } from './gibbs.js';
import type { WorkerTask } from './worker.js';

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
function startWorker(task: WorkerTask): Worker {
  const url = workerUrl();
  if (url.pathname.endsWith('.ts')) {
    const api = resolveTsxApi();
    const code = `import(${JSON.stringify(api)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
    return new Worker(code, { eval: true, workerData: task });
  }
  return new Worker(url, { workerData: task });
}

function runWorkers(tasks: WorkerTask[], onUnit: () => void): Promise<unknown[]> {
  return Promise.all(
    tasks.map(
      (task) =>
        new Promise<unknown>((resolve, reject) => {
          const worker = startWorker(task);
          let result: unknown;
          worker.on('message', (m: { type: string; result?: unknown }) => {
            if (m.type === 'progress') onUnit();
            else if (m.type === 'done') result = m.result;
          });
          worker.on('error', reject);
          worker.on('exit', (code) => (code === 0 ? resolve(result) : reject(new Error(`DWI worker exited with code ${code}`))));
        }),
    ),
  );
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
  const tasks: WorkerTask[] = ranges(nz, Math.min(threads, nz)).map(([zStart, zEnd]) => {
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
  const results = (await runWorkers(tasks, () => opts.onProgress?.(++done / nz))) as { signalComponents: number }[];
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
  const tasks: WorkerTask[] = ranges(slices, Math.min(threads, slices)).map(([first, last]) => ({
    task: 'gibbs', data: data.buffer as SharedArrayBuffer, shape: [...shape], first, last, params,
  }));
  let done = 0;
  await runWorkers(tasks, () => {
    done++;
    if (onProgress && (done % 16 === 0 || done === slices)) onProgress(done / slices);
  });
}
