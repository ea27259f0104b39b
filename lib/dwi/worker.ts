// Worker-thread entry for slab-parallel denoising, Gibbs removal and tensor
// fitting on a series held in a SharedArrayBuffer (see parallel.ts). A worker
// stays alive and runs one task per message.
import { parentPort } from 'node:worker_threads';
import { denoiseSlices, seriesSliceSource, type NoiseEstimator, type SliceSource } from './denoise.js';
import { removeGibbsSlices, type GibbsParams } from './gibbs.js';
import { fitTensorVoxels, type TensorProblem } from './tensor.js';

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
  | { task: 'gibbs'; data: SharedArrayBuffer; shape: number[]; first: number; last: number; params: GibbsParams }
  | {
      task: 'tensor';
      data: SharedArrayBuffer;
      mask: SharedArrayBuffer;
      tensor: SharedArrayBuffer;
      s0: SharedArrayBuffer;
      problem: TensorProblem;
      first: number;
      last: number;
      /** Progress messages to send over the range. */
      units: number;
    };

export type WorkerReply =
  | { id: number; type: 'progress' }
  | { id: number; type: 'done'; result: unknown }
  | { id: number; type: 'error'; message: string };

function run(task: WorkerTask, progress: () => void): unknown {
  const data = new Float32Array(task.data);
  if (task.task === 'tensor') {
    let reported = 0;
    fitTensorVoxels(data, task.problem, new Uint8Array(task.mask), task.first, task.last, new Float32Array(task.tensor), new Float32Array(task.s0), (f) => {
      while (reported < Math.floor(f * task.units)) {
        reported++;
        progress();
      }
    });
    return {};
  }
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

parentPort!.on('message', ({ id, task }: { id: number; task: WorkerTask }) => {
  const reply = (m: WorkerReply) => parentPort!.postMessage(m);
  try {
    const result = run(task, () => reply({ id, type: 'progress' }));
    reply({ id, type: 'done', result });
  } catch (err) {
    reply({ id, type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
});
