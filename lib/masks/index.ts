// Anatomy and anonymization masks for one 3-D image. Pure domain code: reads a NIfTI file, writes
// outDir/fb_mask.nii.gz and outDir/deface_mask.nii.gz (uint8, exactly the input's geometry) and
// returns what was found, how, with which provider, and how long each stage took.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { affineOf, readNifti, writeNifti, NiftiValidationError, type NiftiHeader, type NiftiImage } from '../nifti/index.js';
import { ModelError } from '../models/errors.js';
import { modelPresent } from '../models/store.js';
import { requestedProvider, type ExecutionProvider } from '../models/session.js';
import { detectBlur, maxElsewhereShare, BLUR_PARAMS } from './blur.js';
import { networkBrainMask, NETWORK_GRID_MM } from './brain.js';
import { beyondPlanes, CUT_PARAMS, findCutPlanes, type Plane } from './cuts.js';
import { fitFaceBlock, loadFacePrior } from './face-prior.js';
import { headMask, HEAD_MASK_PARAMS, type HeadMask } from './head.js';
import { SKIN_EDGE_PARAMS } from './skin-edges.js';
import { dilate, erode, largestComponent, openCross, squaredDistance } from '../volume/morphology.js';
import { countSet as countOnes, voxelCount, type Dims, type Vec3 } from '../volume/shape.js';
import { downsampleMean, resampleLinear } from './resample.js';
import { fromRas, rasDims, rasSpacing, reorientationOf, toRas, type Reorientation, type Volume } from './volume.js';
import { wouldBeHead, WOULD_BE_HEAD_PARAMS } from './would-be-head.js';

import { MASKS_VERSION } from './version.js';

export { MASKS_VERSION };

export type AnonymizationType = 'none' | 'defaced' | 'blurred' | 'skull_stripped';

export interface MasksOptions {
  modelsDir?: string;
  /** Where a converted graph is cached when the models folder is read-only. */
  cacheDir?: string;
  /** Threads for the network's CPU inference (OPENMIND_ORT_THREADS; default every logical CPU). */
  cpuThreads?: number;
  executionProvider?: 'cuda' | 'cpu';
  /** Default: true when the model is available; the classical fallback otherwise. */
  useNetwork?: boolean;
  /** A dataset-shipped *_defacemask.nii.gz for this image. */
  defacemaskPath?: string;
  modality?: string;
  /** Isotropic grid the network runs on, mm (default NETWORK_GRID_MM, 1.05; 1 = as trained; tests use coarser grids). */
  networkGridMm?: number;
}

export interface MaskFile {
  path: string;
  sha256: string;
  voxels: number;
}

export interface MasksResult {
  anonymization: { type: AnonymizationType; confidence: number; source: 'computed' | 'dataset' };
  files: { defaceMask: MaskFile; fbMask: MaskFile };
  provenance: {
    method: string;
    version: string;
    modelSha256?: string;
    executionProvider?: ExecutionProvider;
    fellBackToCpu?: boolean;
    fallbackReason?: string;
    params: Record<string, unknown>;
  };
  /** ms per stage, including 'inference' (0 when the network did not run). */
  timings: Record<string, number>;
  warnings: string[];
}

export type MaskInputReason =
  | 'not_3d'
  | 'constant_image'
  | 'too_few_slices'
  | 'extreme_anisotropy'
  | 'bad_affine'
  | 'unreadable'
  | 'too_large'
  | 'defacemask_mismatch';

/** Input that no mask can be made for; `reason` is machine-readable. */
export class MaskInputError extends Error {
  readonly reason: MaskInputReason;
  readonly details?: Record<string, unknown>;
  constructor(reason: MaskInputReason, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'MaskInputError';
    this.reason = reason;
    this.details = details;
  }
}

/** Fewest voxels along any axis for an image that can hold a head (2-D multi-slice heads have 15 or more). */
export const MIN_SLICES = 8;
/**
 * Thick slices are never refused: an axis whose voxels are more than this many times the finest
 * voxel size (or over THICK_SLICE_MM) is interpolated onto a finer working grid, every stage runs
 * there, and the masks are brought back to the native grid by block majority.
 */
export const MAX_ANISOTROPY = 3;
export const THICK_SLICE_MM = 4;
/** Working-grid voxel size along a thick axis: this many times the finest voxel size (at least 1.6 mm). */
const WORK_GRID_RATIO = 1.6;

export const FB_MASK_NAME = 'fb_mask.nii.gz';
export const DEFACE_MASK_NAME = 'deface_mask.nii.gz';

interface Prepared {
  image: NiftiImage;
  dims: Dims;
  reo: Reorientation;
  /** The image on the working grid (RAS; the native RAS grid unless slices are thick). */
  vol: Volume;
  /** Voxel -> world of the working grid. */
  workAffine: number[][];
  /** Working-grid voxels per native voxel along each RAS axis (1 = native). */
  factor: Vec3;
  /** Native RAS voxel size, mm. */
  nativeSpacing: Vec3;
  nativeDims: Dims;
  warnings: string[];
}

/** Interpolate a RAS volume onto a grid `factor` times finer along each axis (same field of view). */
function refineGrid(vol: Volume, factor: Vec3): Volume {
  if (factor.every((f) => f === 1)) return vol;
  const dims = vol.dims.map((n, a) => n * factor[a]) as Dims;
  const scale = factor.map((f) => 1 / f) as Vec3;
  const offset = factor.map((f) => 0.5 / f - 0.5) as Vec3;
  return { data: resampleLinear(vol.data, vol.dims, dims, scale, offset, 0), dims, spacing: vol.spacing.map((s, a) => s / factor[a]) as Vec3 };
}

/** A working-grid mask back on the native RAS grid: a native voxel is set when most of its block is. */
export function toNativeGrid(mask: Uint8Array, prepared: Pick<Prepared, 'factor' | 'vol' | 'nativeDims'>): Uint8Array {
  if (prepared.factor.every((f) => f === 1)) return mask;
  const down = downsampleMean(Float32Array.from(mask), prepared.vol.dims, prepared.factor);
  return Uint8Array.from(down.data, (v) => (v >= 0.5 ? 1 : 0));
}

/** Working-grid factors: thick axes are split so their voxels are about WORK_GRID_RATIO times the finest. */
function workFactors(spacing: Vec3): Vec3 {
  const finest = Math.min(...spacing);
  const target = Math.max(WORK_GRID_RATIO * finest, 1.6);
  return spacing.map((s) => (s > MAX_ANISOTROPY * finest || s > THICK_SLICE_MM ? Math.max(1, Math.ceil(s / target)) : 1)) as Vec3;
}

/** The working grid's voxel -> world affine: voxel p' of the fine grid sits at native index (p' + 0.5) / f - 0.5. */
function refinedAffine(rasAffine: number[][], factor: Vec3): number[][] {
  return rasAffine.map((row, r) => {
    if (r === 3) return [...row];
    const out = [row[0] / factor[0], row[1] / factor[1], row[2] / factor[2], row[3]];
    for (let a = 0; a < 3; a++) out[3] += row[a] * (0.5 / factor[a] - 0.5);
    return out;
  });
}

async function readImage(imagePath: string): Promise<NiftiImage> {
  try {
    return await readNifti(imagePath);
  } catch (err) {
    if (err instanceof NiftiValidationError) {
      // An image over the read limit is a valid image we will not load, not a broken one.
      const reason: MaskInputReason = err.reason === 'too_large' ? 'too_large' : 'unreadable';
      throw new MaskInputError(reason, `${imagePath}: ${err.message}`, { niftiReason: err.reason });
    }
    throw err;
  }
}

/** Check the input and bring it into RAS index space. */
export function prepareInput(image: NiftiImage): Prepared {
  const warnings: string[] = [];
  const shape = image.shape;
  const extra = shape.slice(3).reduce((a, b) => a * b, 1);
  if (shape.length < 3 || extra > 1) {
    throw new MaskInputError('not_3d', `image has shape ${shape.join('x')}; masks need one 3-D volume`, { shape });
  }
  const dims = shape.slice(0, 3) as Dims;
  if (Math.min(...dims) < MIN_SLICES) {
    throw new MaskInputError('too_few_slices', `image has ${Math.min(...dims)} voxels along an axis, fewer than ${MIN_SLICES}`, { dims });
  }
  const affine = affineOf(image.header);
  const flat = affine.slice(0, 3).flatMap((r) => r);
  const det =
    affine[0][0] * (affine[1][1] * affine[2][2] - affine[1][2] * affine[2][1]) -
    affine[0][1] * (affine[1][0] * affine[2][2] - affine[1][2] * affine[2][0]) +
    affine[0][2] * (affine[1][0] * affine[2][1] - affine[1][1] * affine[2][0]);
  if (!flat.every(Number.isFinite) || Math.abs(det) < 1e-9) {
    throw new MaskInputError('bad_affine', 'the voxel-to-world affine is singular or not finite', { affine });
  }
  const reo = reorientationOf(affine, dims);
  const spacing = rasSpacing(reo);
  const factor = workFactors(spacing);
  const obliqueness = obliquenessDegrees(reo.rasAffine);
  if (obliqueness > 20) warnings.push(`oblique_affine: voxel axes are up to ${obliqueness.toFixed(0)} degrees from the world axes; masks use the nearest RAS orientation`);
  const data = image.data.subarray(0, voxelCount(dims));
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!(max > min)) throw new MaskInputError('constant_image', `every voxel holds ${min}`, { value: min });
  const ras = toRas(data, reo, (n) => new Float32Array(n));
  for (let i = 0; i < ras.length; i++) if (!Number.isFinite(ras[i])) ras[i] = min;
  const nativeDims = rasDims(reo);
  const vol = refineGrid({ data: ras, dims: nativeDims, spacing }, factor);
  if (factor.some((f) => f > 1)) {
    warnings.push(`thick_slices: voxel sizes ${spacing.map((s) => s.toFixed(2)).join(' x ')} mm; masks were made on a ${vol.spacing.map((s) => s.toFixed(2)).join(' x ')} mm interpolated grid and are less certain`);
  }
  return { image, dims, reo, vol, workAffine: refinedAffine(reo.rasAffine, factor), factor, nativeSpacing: spacing, nativeDims, warnings };
}

function obliquenessDegrees(rasAffine: number[][]): number {
  let worst = 0;
  for (let c = 0; c < 3; c++) {
    const col = [rasAffine[0][c], rasAffine[1][c], rasAffine[2][c]];
    const cos = Math.abs(col[c]) / (Math.hypot(...col) || 1);
    worst = Math.max(worst, (Math.acos(Math.min(1, cos)) * 180) / Math.PI);
  }
  return worst;
}

interface BrainEstimate {
  mask: Uint8Array;
  method: 'mindgrab' | 'classical';
  modelSha256?: string;
  executionProvider?: ExecutionProvider;
  fellBackToCpu?: boolean;
  fallbackReason?: string;
  inferenceMs: number;
}

/**
 * Classical brain estimate for when the network is off or unavailable: the head shrunk by the
 * scalp-and-skull thickness, its largest piece, grown back part of the way. Coarse, but enough to
 * place the face zone and to tell a brain-only image from a head.
 */
function classicalBrain(head: Uint8Array, vol: Volume): Uint8Array {
  const core = largestComponent(erode(head, vol.dims, vol.spacing, 18), vol.dims);
  const grown = dilate(core, vol.dims, vol.spacing, 12);
  for (let i = 0; i < grown.length; i++) grown[i] &= head[i];
  return grown;
}

async function estimateBrain(vol: Volume, head: HeadMask, opts: MasksOptions, warnings: string[]): Promise<BrainEstimate> {
  const available = await modelPresent('mindgrab', opts.modelsDir);
  const wanted = opts.useNetwork ?? true;
  if (wanted) {
    try {
      const net = await networkBrainMask(vol, {
        modelsDir: opts.modelsDir,
        cacheDir: opts.cacheDir,
        cpuThreads: opts.cpuThreads,
        executionProvider: requestedProvider(opts.executionProvider),
        gridMm: opts.networkGridMm,
      });
      return {
        mask: net.mask,
        method: 'mindgrab',
        modelSha256: net.modelSha256,
        executionProvider: net.executionProvider,
        fellBackToCpu: net.fellBackToCpu,
        fallbackReason: net.fallbackReason,
        inferenceMs: net.timings.inference,
      };
    } catch (err) {
      // No model (offline, checksum) or no runtime: the classical estimate still gives masks.
      if (!(err instanceof ModelError)) throw err;
      warnings.push(`network_unavailable: ${err.reason}: ${err.message}${available ? '' : ' (model not in the store)'}`);
    }
  }
  return { mask: classicalBrain(head.mask, vol), method: 'classical', inferenceMs: 0 };
}

interface Finding {
  type: AnonymizationType;
  confidence: number;
  mask: Uint8Array;
  evidence: Record<string, unknown>;
}

function volumeMl(mask: Uint8Array, vol: Volume): number {
  return (countOnes(mask) * vol.spacing[0] * vol.spacing[1] * vol.spacing[2]) / 1000;
}

function touchesGridEdge(mask: Uint8Array, dims: Dims): boolean {
  const [nx, ny, nz] = dims;
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++)
        if (mask[p] && (i === 0 || j === 0 || k === 0 || i === nx - 1 || j === ny - 1 || k === nz - 1)) return true;
  return false;
}

/**
 * Share of the anatomy's surface (grid-edge voxels aside) within `mm` of the brain: near 1 for a
 * brain-only image, low for a head, whose surface is scalp a centimetre or more from the brain.
 */
function surfaceNearBrainShare(anatomy: Uint8Array, brain: Uint8Array, vol: Volume, mm: number): number {
  const [nx, ny, nz] = vol.dims;
  const nxy = nx * ny;
  const d2 = squaredDistance(brain, vol.dims, vol.spacing);
  let surface = 0;
  let near = 0;
  for (let k = 1; k < nz - 1; k++)
    for (let j = 1; j < ny - 1; j++)
      for (let i = 1, p = 1 + nx * j + nxy * k; i < nx - 1; i++, p++) {
        if (!anatomy[p]) continue;
        if (anatomy[p - 1] && anatomy[p + 1] && anatomy[p - nx] && anatomy[p + nx] && anatomy[p - nxy] && anatomy[p + nxy]) continue;
        surface++;
        if (d2[p] <= mm * mm) near++;
      }
  return surface ? near / surface : 0;
}

/**
 * Brain-only image: the anatomy is (nearly) all brain. With the network, two signals must agree:
 * most of the anatomy lies in the brain mask, and much of the anatomy's surface lies next to the
 * brain (a plane cut or a face block raises the first on a head, never the second). Classically:
 * under 2.2 L of anatomy floating free in the field of view with the rest at the image minimum (a
 * slab acquisition touches the grid edges instead).
 */
function skullStrippedEvidence(head: HeadMask, brain: BrainEstimate, vol: Volume): { stripped: boolean; confidence: number; evidence: Record<string, unknown> } {
  const headMl = volumeMl(head.mask, vol);
  const brainMl = volumeMl(brain.mask, vol);
  let inside = 0;
  for (let i = 0; i < head.mask.length; i++) inside += head.mask[i] & brain.mask[i];
  const brainShareOfHead = countOnes(head.mask) ? inside / countOnes(head.mask) : 0;
  const edge = touchesGridEdge(head.mask, vol.dims);
  const evidence: Record<string, unknown> = { headMl: round(headMl), brainMl: round(brainMl), brainShareOfHead: round(brainShareOfHead, 3), touchesGridEdge: edge, exactMinFraction: round(head.intensity.exactMinFraction, 3) };
  if (brain.method === 'mindgrab') {
    const t = SKULL_STRIP_PARAMS;
    const candidate = brainShareOfHead > t.minBrainShare && headMl < t.maxAnatomyMl;
    // The distance transform is only worth computing where the first signal already holds.
    const surfaceNear = candidate ? surfaceNearBrainShare(head.mask, brain.mask, vol, t.surfaceNearMm) : 0;
    if (candidate) evidence.surfaceNearBrain = round(surfaceNear, 3);
    const stripped = candidate && surfaceNear > t.minSurfaceNear;
    const shareMargin = (brainShareOfHead - t.minBrainShare) / 0.15;
    const margin = candidate ? Math.min(shareMargin, (surfaceNear - t.minSurfaceNear) / 0.2) : shareMargin;
    const confidence = 0.5 + 0.5 * clamp01(stripped ? margin : -margin);
    return { stripped, confidence, evidence };
  }
  const stripped = headMl < 2200 && !edge && head.intensity.exactMinFraction > 0.3;
  return { stripped, confidence: 0.6, evidence };
}

/** Thresholds of the skull-stripping test with the network's brain. */
export const SKULL_STRIP_PARAMS = { minBrainShare: 0.7, surfaceNearMm: 5, minSurfaceNear: 0.35, maxAnatomyMl: 2600 };

function clamp01(v: number): number {
  return Math.max(0, Math.min(1, v));
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** The head's box: its extent in x and z, and from its back to the grid's front in y (the face side is open). */
function headBox(head: Uint8Array, dims: Dims): Uint8Array {
  const [nx, ny, nz] = dims;
  const lo = [nx, ny, nz];
  const hi = [-1, -1, -1];
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++)
        if (head[p]) {
          lo[0] = Math.min(lo[0], i); hi[0] = Math.max(hi[0], i);
          lo[1] = Math.min(lo[1], j); hi[1] = Math.max(hi[1], j);
          lo[2] = Math.min(lo[2], k); hi[2] = Math.max(hi[2], k);
        }
  const box = new Uint8Array(head.length);
  p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++)
        box[p] = i >= lo[0] && i <= hi[0] && j >= lo[1] && k >= lo[2] && k <= hi[2] ? 1 : 0;
  return box;
}

/** Field of view: the grid minus what lies beyond a truncating plane. */
function fieldOfView(dims: Dims, vol: Volume, fovPlanes: Plane[]): Uint8Array {
  const fov = new Uint8Array(voxelCount(dims)).fill(1);
  for (const plane of fovPlanes) {
    const beyond = beyondPlanes(dims, vol.spacing, [plane], -1);
    for (let i = 0; i < fov.length; i++) if (beyond[i]) fov[i] = 0;
  }
  return fov;
}

function describePlane(p: Plane): Record<string, unknown> {
  return { kind: p.kind, normal: p.normal.map((v) => round(v, 3)), areaCm2: round(p.areaMm2 / 100), rmsMm: round(p.rmsMm, 2), headBeyond: round(p.headBeyond, 4) };
}

/** Removed region of a defacing: a fitted face block when tissue remains beyond the cut, else the half-spaces beyond the cuts. */
async function removedRegion(vol: Volume, reo: Reorientation, head: HeadMask, cuts: Plane[], box: Uint8Array, opts: MasksOptions, warnings: string[], evidence: Record<string, unknown>): Promise<Uint8Array> {
  const primary = cuts.reduce((a, b) => (b.areaMm2 > a.areaMm2 ? b : a));
  if (primary.headBeyond > BLOCK_MIN_HEAD_BEYOND) {
    try {
      const prior = await loadFacePrior(opts.modelsDir);
      const block = fitFaceBlock(prior, vol, reo.rasAffine, head.mask, primary, box);
      if (block) {
        evidence.removalModel = { kind: 'face-block', priorSha256: prior.sha256, topZ: round(block.topZ), tissueOverlap: block.tissueOverlap };
        return block.region;
      }
    } catch (err) {
      if (!(err instanceof ModelError)) throw err;
      warnings.push(`face_prior_unavailable: ${err.reason}: ${err.message}`);
    }
  }
  evidence.removalModel = { kind: 'half-spaces', planes: cuts.length };
  return beyondPlanes(vol.dims, vol.spacing, cuts, 0.5);
}

/** Head share beyond a cut above which the removal is a bounded block rather than everything beyond a plane. */
const BLOCK_MIN_HEAD_BEYOND = 0.003;

/**
 * Cut detection on coarse grids and thick slices: a cut plane sampled at voxel centres is a
 * staircase whose RMS about the plane is about t/√12 for the coarsest voxel size t. Up to 2 mm the
 * flatness limit adds that staircase to the surface's own flatness in quadrature (the limit is
 * CUT_PARAMS' at 1 mm); over 2 mm (2-D multi-slice heads) the limits grow linearly and the normals
 * may disagree more.
 */
export function cutParamsFor(nativeSpacing: Vec3): typeof CUT_PARAMS {
  const thick = Math.max(...nativeSpacing);
  if (thick <= 1) return CUT_PARAMS;
  const staircase1mm = 1 / 12;
  const flatness = Math.sqrt(CUT_PARAMS.maxRmsMm ** 2 - staircase1mm);
  const maxRmsMm = Math.sqrt(flatness ** 2 + (thick * thick) / 12);
  if (thick <= 2) return { ...CUT_PARAMS, maxRmsMm };
  return {
    ...CUT_PARAMS,
    toleranceMm: Math.max(CUT_PARAMS.toleranceMm, 0.45 * thick),
    maxRmsMm: Math.max(maxRmsMm, 0.65 + 0.3 * (thick - 1)),
    normalAgreement: 0.8,
  };
}

/** How much thick slices lower every verdict's confidence: 1 up to 2 mm, 0.55 at 10 mm. */
export function sliceConfidence(nativeSpacing: Vec3): number {
  const thick = Math.max(...nativeSpacing);
  return Math.max(0.55, Math.min(1, 1 - 0.056 * (thick - 2)));
}

async function findAnonymization(vol: Volume, reo: Reorientation, head: HeadMask, brain: BrainEstimate, opts: MasksOptions, warnings: string[], cutParams = CUT_PARAMS): Promise<Finding> {
  const n = vol.data.length;
  const stripped = skullStrippedEvidence(head, brain, vol);
  if (stripped.stripped) {
    // The anatomy is the brain: the would-be head around it, minus the brain, is what was removed.
    const would = wouldBeHead(head.mask, vol);
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) mask[i] = would[i] && !head.mask[i] ? 1 : 0;
    return { type: 'skull_stripped', confidence: stripped.confidence, mask, evidence: stripped.evidence };
  }
  const atMin = new Uint8Array(n);
  for (let i = 0; i < n; i++) atMin[i] = vol.data[i] === head.intensity.min ? 1 : 0;
  const planes = findCutPlanes(vol, head.mask, atMin, cutParams);
  const cuts = planes.filter((p) => p.kind === 'anonymization');
  const fovPlanes = planes.filter((p) => p.kind === 'fov');
  const evidence: Record<string, unknown> = { ...stripped.evidence, planes: planes.map(describePlane) };
  if (cuts.length > 0) {
    const box = headBox(head.mask, vol.dims);
    const removed = await removedRegion(vol, reo, head, cuts, box, opts, warnings, evidence);
    const fov = fieldOfView(vol.dims, vol, fovPlanes);
    // Zeroed regions, not the scattered exact zeros that noisy air can hold: an opening by the
    // 6-neighbour cross drops single voxels and thin lines, keeping the tool's region.
    const zeroed = openCross(atMin, vol.dims);
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) mask[i] = removed[i] && box[i] && fov[i] && !head.mask[i] && zeroed[i] ? 1 : 0;
    const area = cuts.reduce((s, p) => s + p.areaMm2, 0);
    const confidence = clamp01(0.6 + 0.4 * Math.min(1, area / (4 * cutParams.minAreaMm2)));
    return { type: 'defaced', confidence, mask, evidence };
  }
  const blur = detectBlur(vol, head.mask, brain.mask, head.intensity.threshold, head.intensity.min);
  evidence.blur = {
    foundBy: blur.foundBy,
    faceShare: round(blur.faceShare, 3),
    elsewhereShare: round(blur.elsewhereShare, 3),
    faceWideSkinShare: round(blur.faceWideSkinShare, 3),
    elsewhereWideSkinShare: round(blur.elsewhereWideSkinShare, 3),
    volumeMl: round(blur.volumeMm3 / 1000),
  };
  if (blur.detected) {
    const confidence =
      blur.foundBy === 'skin_edge'
        ? clamp01(0.5 + (blur.faceWideSkinShare - blur.elsewhereWideSkinShare - SKIN_EDGE_PARAMS.minWideShareGain))
        : clamp01(0.5 + (blur.faceShare - BLUR_PARAMS.minFaceShare) + (maxElsewhereShare(blur.faceShare) - blur.elsewhereShare));
    return { type: 'blurred', confidence, mask: blur.mask, evidence };
  }
  if (planes.some((p) => p.kind === 'other')) warnings.push('flat_surface: a large flat facet that is neither a face-side cut nor the field of view edge');
  return { type: 'none', confidence: 0.8, mask: new Uint8Array(n), evidence };
}

async function writeMask(outDir: string, name: string, header: NiftiHeader, ras: Uint8Array, reo: Reorientation): Promise<MaskFile> {
  const file = path.join(outDir, name);
  const data = fromRas(ras, reo, (len) => new Uint8Array(len));
  const { sha256 } = await writeNifti(file, header, data, { datatype: 'uint8', description: 'openmind mask' });
  return { path: file, sha256, voxels: countOnes(ras) };
}

/** Compute both masks for one 3-D image and write them to outDir. */
export async function computeMasks(imagePath: string, outDir: string, opts: MasksOptions = {}): Promise<MasksResult> {
  if (opts.defacemaskPath) return fromDatasetDefacemask(imagePath, opts.defacemaskPath, outDir, opts);
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (stage: string) => {
    const now = performance.now();
    timings[stage] = Math.round(now - t);
    t = now;
  };
  const image = await readImage(imagePath);
  const prepared = prepareInput(image);
  const { vol, reo, warnings } = prepared;
  const workReo: Reorientation = { ...reo, rasAffine: prepared.workAffine };
  lap('read');
  const head = headMask(vol);
  lap('fbMask');
  if (countOnes(head.mask) === 0) warnings.push('no_anatomy: nothing above the background threshold');
  const brainStart = performance.now();
  const brain = await estimateBrain(vol, head, opts, warnings);
  timings.inference = Math.round(brain.inferenceMs);
  timings.brain = Math.round(performance.now() - brainStart - brain.inferenceMs);
  t = performance.now();
  const cutParams = cutParamsFor(prepared.nativeSpacing);
  const finding = await findAnonymization(vol, workReo, head, brain, opts, warnings, cutParams);
  finding.confidence *= sliceConfidence(prepared.nativeSpacing);
  lap('anonymization');
  await fs.mkdir(outDir, { recursive: true });
  const fbMask = await writeMask(outDir, FB_MASK_NAME, image.header, toNativeGrid(head.mask, prepared), reo);
  const defaceMask = await writeMask(outDir, DEFACE_MASK_NAME, image.header, toNativeGrid(finding.mask, prepared), reo);
  lap('write');
  return {
    anonymization: { type: finding.type, confidence: round(finding.confidence, 3), source: 'computed' },
    files: { defaceMask, fbMask },
    provenance: {
      method: `${brain.method === 'mindgrab' ? 'mindgrab-onnx' : 'classical'}+threshold-head+cut-planes+blur-texture+skin-edges`,
      version: MASKS_VERSION,
      modelSha256: brain.modelSha256,
      executionProvider: brain.executionProvider,
      fellBackToCpu: brain.fellBackToCpu,
      fallbackReason: brain.fallbackReason,
      params: {
        brainMethod: brain.method,
        networkGridMm: brain.method === 'mindgrab' ? (opts.networkGridMm ?? NETWORK_GRID_MM) : undefined,
        modality: opts.modality,
        head: HEAD_MASK_PARAMS,
        cuts: cutParams,
        workGridMm: prepared.factor.some((f) => f > 1) ? vol.spacing.map((v) => round(v, 3)) : undefined,
        blur: BLUR_PARAMS,
        skinEdges: SKIN_EDGE_PARAMS,
        skullStrip: SKULL_STRIP_PARAMS,
        wouldBeHead: WOULD_BE_HEAD_PARAMS,
        evidence: finding.evidence,
      },
    },
    timings,
    warnings,
  };
}

/** What a scan's mask files record about how they were made (stored with each derived file). */
export function maskProvenance(r: MasksResult, inputSha256: string | null) {
  return {
    GeneratedBy: { Name: 'openmind-masks', Version: MASKS_VERSION, Method: r.provenance.method },
    inputSha256,
    modelSha256: r.provenance.modelSha256 ?? null,
    executionProvider: r.provenance.executionProvider ?? null,
    fellBackToCpu: r.provenance.fellBackToCpu ?? false,
    fallbackReason: r.provenance.fallbackReason ?? null,
    anonymization: r.anonymization,
    params: r.provenance.params,
    timingsMs: r.timings,
    warnings: r.warnings,
  };
}

/**
 * Masks for an image whose dataset ships its defacing mask. The shipped mask is converted to our
 * convention (1 = removed): whichever label covers voxels the image holds at its minimum is the
 * removed side. The anatomy mask is computed as usual (no network needed).
 */
export async function fromDatasetDefacemask(imagePath: string, defacemaskPath: string, outDir: string, opts: MasksOptions = {}): Promise<MasksResult> {
  const t0 = performance.now();
  const image = await readImage(imagePath);
  const prepared = prepareInput(image);
  const shipped = await readImage(defacemaskPath);
  const shippedDims = shipped.shape.slice(0, 3);
  if (shippedDims.join('x') !== prepared.dims.join('x') || shipped.shape.slice(3).reduce((a, b) => a * b, 1) > 1) {
    throw new MaskInputError('defacemask_mismatch', `defacemask ${shipped.shape.join('x')} does not match image ${prepared.dims.join('x')}`, {
      image: prepared.dims,
      defacemask: shipped.shape,
    });
  }
  const { reo, warnings } = prepared;
  const labels = toRas(shipped.data.subarray(0, voxelCount(prepared.dims)), reo, (n) => new Float32Array(n));
  const work = headMask(prepared.vol);
  const head = { ...work, mask: toNativeGrid(work.mask, prepared) };
  const vol = { data: toRas(image.data.subarray(0, voxelCount(prepared.dims)), reo, (n) => new Float32Array(n)) };
  const min = head.intensity.min;
  // Share of each label's voxels that sit at the image minimum: the removed label is (nearly) all there.
  let onCount = 0, onAtMin = 0, offCount = 0, offAtMin = 0;
  for (let i = 0; i < labels.length; i++) {
    const atMin = vol.data[i] === min ? 1 : 0;
    if (labels[i] > 0.5) {
      onCount++;
      onAtMin += atMin;
    } else {
      offCount++;
      offAtMin += atMin;
    }
  }
  const onShare = onCount ? onAtMin / onCount : 0;
  const offShare = offCount ? offAtMin / offCount : 0;
  const removedIsOn = onShare >= offShare;
  const mask = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) mask[i] = (labels[i] > 0.5) === removedIsOn ? 1 : 0;
  const confidence = clamp01(Math.abs(onShare - offShare) * 2);
  if (confidence < 0.5) warnings.push('defacemask_polarity_uncertain: both labels hold similar shares of minimum-valued voxels');
  await fs.mkdir(outDir, { recursive: true });
  const fbMask = await writeMask(outDir, FB_MASK_NAME, image.header, head.mask, reo);
  const defaceMask = await writeMask(outDir, DEFACE_MASK_NAME, image.header, mask, reo);
  const total = Math.round(performance.now() - t0);
  return {
    anonymization: { type: countOnes(mask) > 0 ? 'defaced' : 'none', confidence: round(Math.max(confidence, 0.5), 3), source: 'dataset' },
    files: { defaceMask, fbMask },
    provenance: {
      method: 'dataset-defacemask+threshold-head',
      version: MASKS_VERSION,
      params: { defacemaskPath, shippedPolarity: removedIsOn ? '1=removed' : '1=kept', onShareAtMin: round(onShare, 3), offShareAtMin: round(offShare, 3), modality: opts.modality, head: HEAD_MASK_PARAMS },
    },
    timings: { total, inference: 0 },
    warnings,
  };
}
