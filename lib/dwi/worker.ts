// Worker-thread entry for slab-parallel denoising and Gibbs removal on a
// series held in a SharedArrayBuffer (see parallel.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { denoiseSlices, seriesSliceSource, type NoiseEstimator, type SliceSource } from './denoise.js';
import { removeGibbsSlices, type GibbsParams } from './gibbs.js';

export type WorkerTask =
  | {
      task: 'denoise';
      data: SharedArrayBuffer;
      noise: SharedArrayBuffer;
      shape: number[];
      zStart: number;
      zEnd: number;
      extent: [number, number, number];
      estimator: NoiseEstimator;
      apply: boolean;
      /** Original slices outside [zStart, zEnd) that the windows need, voxel-major, copied before any worker wrote. */
      halos: { z: number; buffer: SharedArrayBuffer }[];
    }
  | { task: 'gibbs'; data: SharedArrayBuffer; shape: number[]; first: number; last: number; params: GibbsParams };

function run(task: WorkerTask): unknown {
  const data = new Float32Array(task.data);
  const progress = () => parentPort!.postMessage({ type: 'progress' });
  if (task.task === 'gibbs') {
    removeGibbsSlices(data, task.shape, task.first, task.last, task.params, progress);
    return {};
  }
  const own = seriesSliceSource(data, task.shape);
  const halos = new Map(task.halos.map((h) => [h.z, new Float32Array(h.buffer)]));
  const source: SliceSource = {
    load(z, target) {
      const halo = halos.get(z);
      if (halo) target.set(halo);
      else own.load(z, target);
    },
  };
  return denoiseSlices(data, task.shape, task.zStart, task.zEnd, source, new Float32Array(task.noise), {
    extent: task.extent,
    estimator: task.estimator,
    apply: task.apply,
    onSlice: progress,
  });
}

parentPort!.postMessage({ type: 'done', result: run(workerData as WorkerTask) });
