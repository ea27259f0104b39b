// MindGrab (brainchop's skull-strip MeshNet) as an ONNX graph: converted from the pinned TF.js files
// once, cached next to them (or in the cache root when that folder is read-only) under the
// weights' key, and run with onnxruntime-node.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ModelError } from './errors.js';
import { createSession, runSingle, type ExecutionProvider, type SessionChoice } from './session.js';
import { cacheRoot, ensureModel, sha256Hex, type EnsureModelOptions } from './store.js';
import { writeFileAtomic } from '../files.js';
import { readTfjsModel } from './tfjs.js';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, tfjsToOnnxBytes, type ConvertOptions } from './tfjs-to-onnx.js';

/** Bumped whenever the conversion changes, so stale cached graphs are not reused. */
export const MINDGRAB_CONVERTER_VERSION = 2;

/** How brainchop runs MindGrab: InstanceNorm after every hidden conv, GELU (the fused opset-20 op: same values, about 10% faster on the CPU than the erf formula), softmax over 2 classes. */
export const MINDGRAB_CONVERT_OPTIONS: ConvertOptions = { gelu: 'op', output: 'softmax', epsilon: 1e-5 };

export interface MindgrabGraph {
  /** Path of the cached .onnx, when it could be written. */
  path?: string;
  bytes: Uint8Array;
  onnxSha256: string;
  /** SHA-256 of the pinned weights file (model.bin). */
  weightsSha256: string;
  /** True when this call converted (no cached graph was found). */
  converted: boolean;
}

function graphFileName(key: string): string {
  return `mindgrab-${key.slice(0, 16)}-c${MINDGRAB_CONVERTER_VERSION}.onnx`;
}

async function readIfPresent(file: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch {
    return undefined;
  }
}

async function folderMeantWritable(dir: string): Promise<boolean> {
  try {
    return ((await fs.stat(dir)).mode & 0o222) !== 0;
  } catch {
    return true; // not there yet: it will be created
  }
}

/** The ONNX graph of MindGrab: cached copy when present, else converted now (and cached where writable). */
export async function loadMindgrabGraph(opts: EnsureModelOptions = {}): Promise<MindgrabGraph> {
  const model = await ensureModel('mindgrab', opts);
  const name = graphFileName(model.key);
  const candidates = [path.join(model.dir, name), path.join(cacheRoot(opts.cacheDir), 'onnx', name)];
  const weightsSha256 = model.sha256['model.bin'];
  for (const candidate of candidates) {
    const bytes = await readIfPresent(candidate);
    if (bytes) return { path: candidate, bytes, onnxSha256: sha256Hex(bytes), weightsSha256, converted: false };
  }
  const tfjs = await readTfjsModel(model.files['model.json']);
  const bytes = tfjsToOnnxBytes(tfjs, MINDGRAB_CONVERT_OPTIONS);
  for (const candidate of candidates) {
    // A folder without write bits is read-only by intent (shared data), even for root.
    if (!(await folderMeantWritable(path.dirname(candidate)))) continue;
    try {
      await writeFileAtomic(candidate, bytes);
      return { path: candidate, bytes, onnxSha256: sha256Hex(bytes), weightsSha256, converted: true };
    } catch {
      // Read-only models folder (e.g. shared data): try the next place, else keep it in memory.
    }
  }
  return { bytes, onnxSha256: sha256Hex(bytes), weightsSha256, converted: true };
}

export interface MindgrabRun {
  /** Brain probability per voxel, same layout as the input. */
  brainProbability: Float32Array;
  executionProvider: ExecutionProvider;
  fellBackToCpu: boolean;
  fallbackReason?: string;
  timings: { sessionMs: number; inferenceMs: number };
}

/** Sessions are kept per graph and provider: a worker thread reuses them across images. */
const sessions = new Map<string, Promise<SessionChoice>>();

async function sessionFor(graph: MindgrabGraph, requested: ExecutionProvider, threads?: number): Promise<SessionChoice> {
  const key = `${graph.onnxSha256}:${requested}:${threads ?? ''}`;
  let pending = sessions.get(key);
  if (!pending) {
    pending = createSession(graph.path ?? graph.bytes, requested, threads);
    sessions.set(key, pending);
    pending.catch(() => sessions.delete(key));
  }
  return pending;
}

/** Release cached sessions (tests, worker shutdown). */
export async function releaseMindgrabSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const pending of all) {
    const choice = await pending.catch(() => undefined);
    await choice?.session.release().catch(() => undefined);
  }
}

/**
 * Run MindGrab on a volume already prepared as the network expects (intensities in [0, 1]),
 * dims = [D, H, W] in row-major order (last axis fastest).
 */
export async function runMindgrab(graph: MindgrabGraph, volume: Float32Array, dims: [number, number, number], requested: ExecutionProvider, cpuThreads?: number): Promise<MindgrabRun> {
  if (volume.length !== dims[0] * dims[1] * dims[2]) throw new ModelError('inference_failed', `volume has ${volume.length} voxels, dims ${dims.join('x')}`);
  const t0 = performance.now();
  const choice = await sessionFor(graph, requested, cpuThreads);
  const t1 = performance.now();
  const { output, choice: used } = await runSingle(choice, graph.path ?? graph.bytes, { name: ONNX_INPUT_NAME, data: volume, dims: [1, 1, ...dims] }, ONNX_OUTPUT_NAME);
  const t2 = performance.now();
  const n = volume.length;
  const probs = output.data as Float32Array;
  // Channel 1 (brain) of the [1, 2, D, H, W] softmax.
  const brainProbability = probs.slice(n, 2 * n);
  output.dispose?.();
  return {
    brainProbability,
    executionProvider: used.executionProvider,
    fellBackToCpu: used.fellBackToCpu,
    fallbackReason: used.fallbackReason,
    timings: { sessionMs: t1 - t0, inferenceMs: t2 - t1 },
  };
}
