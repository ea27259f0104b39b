// Brain extraction with MindGrab, prepared the way brainchop feeds it: an isotropic grid, intensities
// scaled to [0, 1], cropped to the bright voxels' box with a 20-voxel margin, in FreeSurfer's
// conformed (LIA) axis order, transposed (brainchop's enableTranspose).
import { loadMindgrabGraph, runMindgrab, type MindgrabGraph } from '../models/mindgrab.js';
import type { ExecutionProvider } from '../models/session.js';
import { ALL_AXES_EDGED, fillHoles, largestComponent } from '../volume/morphology.js';
import { boundingBox, voxelCount, type Box, type Dims, type Vec3 } from '../volume/shape.js';
import { percentileAbove } from '../volume/statistics.js';
import { resampleLinear } from './resample.js';
import type { Volume } from './volume.js';

export interface NetworkBrainOptions {
  modelsDir?: string;
  /** Where a converted graph is cached when the models folder is read-only. */
  cacheDir?: string;
  /** Threads for CPU inference (default: every logical CPU). */
  cpuThreads?: number;
  executionProvider: ExecutionProvider;
  /** Isotropic grid the network runs on, mm (default NETWORK_GRID_MM; 1 = as trained; larger is faster, coarser). */
  gridMm?: number;
  /** Crop margin in mm around the bright voxels' box (brainchop: 20 voxels; default CROP_PADDING_MM). */
  cropPadding?: number;
  /** Height (mm) of the crop below the top of the head: the neck below it holds no brain (default MAX_HEIGHT_MM; 0 = no limit). */
  maxHeightMm?: number;
  /** Fraction of the scaled maximum that marks the crop box (brainchop autoThreshold: 0.5). */
  cropThreshold?: number;
}

export interface NetworkBrain {
  /** Brain mask on the RAS grid of the input volume. */
  mask: Uint8Array;
  modelSha256: string;
  onnxSha256: string;
  executionProvider: ExecutionProvider;
  fellBackToCpu: boolean;
  fallbackReason?: string;
  networkDims: Dims;
  timings: { prepare: number; session: number; inference: number; postprocess: number };
}

/** Intensity scaling to [0, 1]: 0 at the minimum, 1 at the 99.5th percentile of non-background voxels. */
export function scaleForNetwork(data: Float32Array): Float32Array {
  let min = Infinity;
  for (let i = 0; i < data.length; i++) if (data[i] < min) min = data[i];
  const hi = percentileAbove(data, min, 0.995);
  const range = hi - min || 1;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = (data[i] - min) / range;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/**
 * Crop margin around the bright voxels' box, mm (brainchop: 20 voxels). Every layer's instance
 * normalisation runs over the whole crop, so a tighter crop changes the mask everywhere, and on
 * brain-only (skull-stripped) images it leaves the network too little air to find the whole brain
 * (README: masks, CPU inference).
 */
export const CROP_PADDING_MM = 20;
/**
 * Default network grid, mm: 5% coarser than the 1 mm the network was trained on, a scale within the
 * spread of adult head sizes. It cuts the voxels, and so the CPU inference time, by about a tenth while
 * the brain mask stays within Dice 0.99 of the 1 mm one (README: masks, CPU inference).
 */
export const NETWORK_GRID_MM = 1.05;
/** Vertex to below the cerebellum is under 150 mm in adults; the crop keeps 170 mm below the top of the head. */
export const MAX_HEIGHT_MM = 170;

/** The box of the values above `threshold`, grown by `pad` voxels (the whole grid when none is above it), at most `maxHeight` voxels below its top. */
function brightBox(data: Float32Array, dims: Dims, threshold: number, pad: number, maxHeight = 0): Box {
  const box = boundingBox(data, dims, threshold, [pad, pad, pad]) ?? { lo: [0, 0, 0], hi: [dims[0] - 1, dims[1] - 1, dims[2] - 1] };
  if (maxHeight > 0 && box.hi[2] - box.lo[2] + 1 > maxHeight) box.lo[2] = box.hi[2] - maxHeight + 1;
  return box;
}

/**
 * RAS box -> network tensor. Conformed LIA has axes (i: L, j: I, k: A) with i fastest in memory;
 * brainchop's transpose reverses the axis order, so in the row-major [D][H][W] tensor the element
 * (i, j, k) sits at index k + nA · (j + nI · i): D runs along L, H along I, W (fastest) along A.
 */
function toNetworkLayout(src: Float32Array, dims: Dims, box: Box): { data: Float32Array; dims: Dims } {
  const nL = box.hi[0] - box.lo[0] + 1;
  const nA = box.hi[1] - box.lo[1] + 1;
  const nI = box.hi[2] - box.lo[2] + 1;
  const out = new Float32Array(nL * nA * nI);
  const [nx, ny] = dims;
  for (let iL = 0; iL < nL; iL++) {
    const x = box.hi[0] - iL;
    for (let jI = 0; jI < nI; jI++) {
      const z = box.hi[2] - jI;
      const rowOut = nA * (jI + nI * iL);
      const rowIn = x + nx * ny * z;
      for (let kA = 0; kA < nA; kA++) out[rowOut + kA] = src[rowIn + nx * (box.lo[1] + kA)];
    }
  }
  return { data: out, dims: [nL, nI, nA] };
}

function fromNetworkLayout(net: Float32Array, dims: Dims, box: Box): Float32Array {
  const out = new Float32Array(voxelCount(dims));
  const nL = box.hi[0] - box.lo[0] + 1;
  const nA = box.hi[1] - box.lo[1] + 1;
  const nI = box.hi[2] - box.lo[2] + 1;
  const [nx, ny] = dims;
  for (let iL = 0; iL < nL; iL++) {
    const x = box.hi[0] - iL;
    for (let jI = 0; jI < nI; jI++) {
      const z = box.hi[2] - jI;
      const rowNet = nA * (jI + nI * iL);
      const rowOut = x + nx * ny * z;
      for (let kA = 0; kA < nA; kA++) out[rowOut + nx * (box.lo[1] + kA)] = net[rowNet + kA];
    }
  }
  return out;
}

/** Isotropic grid over the same field of view: dims and the index maps both ways. */
export function isotropicGrid(dims: Dims, spacing: Vec3, gridMm: number): { dims: Dims; toSourceScale: Vec3; toSourceOffset: Vec3 } {
  const iso = dims.map((n, a) => Math.max(1, Math.round((n * spacing[a]) / gridMm))) as Dims;
  // Grid covers the same extent: voxel edges line up, centres are mapped through the scale.
  const scale = dims.map((n, a) => n / iso[a]) as Vec3;
  const offset = scale.map((s) => 0.5 * s - 0.5) as Vec3;
  return { dims: iso, toSourceScale: scale, toSourceOffset: offset };
}

let cachedGraph: { key: string; graph: Promise<MindgrabGraph> } | undefined;

function graphFor(modelsDir?: string, cacheDir?: string): Promise<MindgrabGraph> {
  const key = `${modelsDir ?? ''}\0${cacheDir ?? ''}`;
  if (!cachedGraph || cachedGraph.key !== key) {
    const graph = loadMindgrabGraph({ modelsDir, cacheDir });
    cachedGraph = { key, graph };
    graph.catch(() => (cachedGraph = undefined));
  }
  return cachedGraph.graph;
}

/** Brain mask of a RAS volume from MindGrab. */
export async function networkBrainMask(vol: Volume, opts: NetworkBrainOptions): Promise<NetworkBrain> {
  const t0 = performance.now();
  const gridMm = opts.gridMm ?? NETWORK_GRID_MM;
  const grid = isotropicGrid(vol.dims, vol.spacing, gridMm);
  const isoData = resampleLinear(vol.data, vol.dims, grid.dims, grid.toSourceScale, grid.toSourceOffset, 0);
  const scaled = scaleForNetwork(isoData);
  const pad = Math.round((opts.cropPadding ?? CROP_PADDING_MM) / gridMm);
  const maxHeight = Math.round((opts.maxHeightMm ?? MAX_HEIGHT_MM) / gridMm);
  const box = brightBox(scaled, grid.dims, opts.cropThreshold ?? 0.5, pad, maxHeight);
  const net = toNetworkLayout(scaled, grid.dims, box);
  const graph = await graphFor(opts.modelsDir, opts.cacheDir);
  const t1 = performance.now();
  const run = await runMindgrab(graph, net.data, net.dims, opts.executionProvider, opts.cpuThreads);
  const t2 = performance.now();
  const probIso = fromNetworkLayout(run.brainProbability, grid.dims, box);
  // Back to the native grid: source index p maps to iso index (p + 0.5) / scale - 0.5.
  const back = resampleLinear(
    probIso,
    grid.dims,
    vol.dims,
    grid.toSourceScale.map((s) => 1 / s) as Vec3,
    grid.toSourceScale.map((s) => 0.5 / s - 0.5) as Vec3,
    0,
  );
  let mask: Uint8Array = new Uint8Array(back.length);
  for (let i = 0; i < back.length; i++) mask[i] = back[i] > 0.5 ? 1 : 0;
  mask = fillHoles(largestComponent(mask, vol.dims), vol.dims, ALL_AXES_EDGED);
  const t3 = performance.now();
  return {
    mask,
    modelSha256: graph.weightsSha256,
    onnxSha256: graph.onnxSha256,
    executionProvider: run.executionProvider,
    fellBackToCpu: run.fellBackToCpu,
    fallbackReason: run.fallbackReason,
    networkDims: net.dims,
    timings: { prepare: t1 - t0, session: run.timings.sessionMs, inference: run.timings.inferenceMs, postprocess: t3 - t2 },
  };
}
