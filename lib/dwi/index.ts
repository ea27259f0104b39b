// DWI derivation: a 4D diffusion series (+ FSL .bval/.bvec) → T2-weighted,
// ADC and FA maps, a brain mask and a noise map, following the OpenMind
// appendix: MP-PCA denoising → Gibbs removal → rigid co-registration to the
// mean b0 (b-vectors rotated) → N4-type bias correction → brain mask →
// tensor fit (WLS + IWLS, shells b ≤ 1500) → maps.
//
// Pure domain code: no Temporal, no database. Resumable through `workDir`:
// every step writes its result and a JSON record keyed by the hash chain of
// the input file, the gradient table and the parameters of this and all
// earlier steps; a rerun loads the latest valid record and skips the steps
// before it.
//
// Memory: the series is held once as float32 (nx·ny·nz·nv·4 bytes) and every
// step works in place. On top of it: MP-PCA ≈ window-depth slices of the
// series + one row of window Gram matrices per thread (plus ≤ 2·(window-1)
// halo slices per extra thread), registration ≈ 3 volumes + 20k·nv samples,
// tensor fit ≈ 7 floats per voxel. 4D intermediates are streamed to disk
// (gzip level 1), never encoded in memory.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { affineOf, NiftiValidationError, readNiftiHeader, voxelSizes, writeNifti, type NiftiDatatypeName, type NiftiHeader } from '../nifti/index.js';
import { applyBiasField, n4BiasField, n4Params } from './bias.js';
import { mppcaDenoise, resolveExtent, type MppcaResult, type NoiseEstimator } from './denoise.js';
import { DwiInputError } from './errors.js';
import { gibbsParams, removeGibbs } from './gibbs.js';
import { GradientTableError, parseBval, parseBvec, validateDwiGradients, fslToVoxel, type DwiGradients } from './gradients.js';
import { readSeries, sha256File, writeSeries } from './io.js';
import { classicalBrainMask } from './mask.js';
import type { Vec3 } from '../volume/shape.js';
import { median } from '../volume/statistics.js';
import { isShared, parallelDenoise, parallelFitTensor, parallelGibbs } from './parallel.js';
import { applyMotion, estimateMotion, meanOfVolumes, motionResidual, rotateToReference, type RigidParams } from './register.js';
import { fitTensor, tensorMetrics, traceMaps, type TensorFit } from './tensor.js';
import { DWI_PIPELINE_VERSION } from './version.js';

export { DwiInputError, type DwiInputReason } from './errors.js';
export { mppcaDenoise, defaultExtent, marchenkoPasturCutoff, type MppcaOptions, type MppcaResult, type NoiseEstimator } from './denoise.js';
export { removeGibbs, type GibbsOptions } from './gibbs.js';
export { registerVolumes, estimateMotion, applyMotion, motionResidual, resampleVolume, rigidTransform, rotateToReference, type RigidParams } from './register.js';
export { n4BiasField, applyBiasField, type N4Options } from './bias.js';
export { classicalBrainMask } from './mask.js';
export { fitTensor, tensorMetrics, traceMaps, type TensorFit, type TensorMaps, type TraceMaps } from './tensor.js';
export { eigenSymmetric3 } from './eigen.js';
export { validateDwiGradients, B0_THRESHOLD, TENSOR_MAX_B, type DwiGradients, type DwiModel } from './gradients.js';

/** Smallest in-plane size that is registered. */
const MIN_REGISTER_SIZE = 16;

/** Bump when a step's algorithm changes, so that cached intermediates are not reused. */
export { DWI_PIPELINE_VERSION };

export const DWI_STEPS = ['denoise', 'gibbs', 'register', 'biasfield', 'brainmask', 'tensor'] as const;
export type DwiStep = (typeof DWI_STEPS)[number];
/** Steps that skipSteps may turn off (mask and tensor are always needed). */
export const OPTIONAL_STEPS: readonly DwiStep[] = ['denoise', 'gibbs', 'register', 'biasfield'];

/**
 * Steps to skip for `steps` (the steps to run; 'brainmask' and 'tensor' always
 * run, so `['denoise', 'gibbs', 'tensor']` is MRtrix3's dwidenoise → mrdegibbs
 * → dwi2tensor chain) together with `skipSteps`.
 */
export function resolveSkippedSteps(steps?: readonly string[], skipSteps?: readonly string[]): string[] {
  const skip = new Set(skipSteps ?? []);
  for (const s of skip) {
    if (!OPTIONAL_STEPS.includes(s as DwiStep)) throw new RangeError(`skipSteps: '${s}' cannot be skipped (optional: ${OPTIONAL_STEPS.join(', ')})`);
  }
  if (steps) {
    for (const s of steps) if (!DWI_STEPS.includes(s as DwiStep)) throw new RangeError(`steps: unknown step '${s}' (steps: ${DWI_STEPS.join(', ')})`);
    for (const s of OPTIONAL_STEPS) if (!steps.includes(s)) skip.add(s);
  }
  return OPTIONAL_STEPS.filter((s) => skip.has(s));
}

/** Modality names of the derived maps (OpenMind's table). */
export type DwiModality = 'T2w' | 'ADC' | 'FA' | 'MD' | 'TRACE';

/** One derived map and how it was made. */
export interface DerivedMap {
  key: 't2w' | 'adc' | 'fa' | 'md' | 'trace';
  modality: DwiModality;
  file: FileRef;
  /** How it was computed, in words. */
  method: string;
  /** Nominal b-values of the shells used (empty for T2w, which is the mean b0). */
  shells: number[];
  /** Distinct gradient directions used (0 for T2w). */
  directions: number;
  /** Volumes of the series that went into the map. */
  volumes: number[];
}

/** Co-registration outcome: the fit's residual with and without it decides whether it is kept. */
export interface RegistrationCheck {
  /** 'tensor' or 'isotropic' (trace series): the model whose log-signal residual is compared. */
  model: 'tensor' | 'isotropic';
  /** RMS of the log-signal residual at jittered points inside a brain mask of the mean b0, unregistered series (trilinear reads). */
  residualWithout: number;
  /** The same with every volume read through its motion and its b-vector rotated. */
  residualWith: number;
  /** Whether the registered series was kept. */
  applied: boolean;
  /** Why it was not (absent when applied). */
  reason?: string;
}

export interface FileRef {
  path: string;
  sha256: string;
}

export type BrainExtractor = (meanB0: { data: Float32Array; shape: number[]; header: NiftiHeader }) => Promise<Uint8Array | null>;

export interface DeriveDwiOptions {
  /** Folder for intermediates and step records; enables resuming. */
  workDir?: string;
  /** Brain extraction by a network; null (or no extractor) falls back to the classical mask. */
  brainExtractor?: BrainExtractor;
  denoise?: { window?: number; estimator?: NoiseEstimator };
  /** Steps to turn off: any of 'denoise' (the noise map is still estimated), 'gibbs', 'register', 'biasfield'. */
  skipSteps?: string[];
  /** Steps to run (the others of OPTIONAL_STEPS are skipped; 'brainmask' and 'tensor' always run), e.g. ['denoise', 'gibbs', 'tensor']. */
  steps?: string[];
  onProgress?: (step: string, fraction: number) => void;
  /** Worker threads for MP-PCA, Gibbs removal and the tensor fit (default 1: the caller may already run in a worker). */
  threads?: number;
}

export interface MotionEstimate {
  volume: number;
  /** mm along the image axes (voxel axes scaled by the voxel size), reference = mean b0. */
  translation: [number, number, number];
  /** Degrees about the image axes (R = Rz·Ry·Rx, about the image centre). */
  rotationDeg: [number, number, number];
}

export interface DeriveDwiResult {
  /** fa and md for a tensor fit, trace for a trace series (< 6 directions). */
  files: { t2w: FileRef; adc: FileRef; fa?: FileRef; md?: FileRef; trace?: FileRef; brainMask: FileRef; noiseMap: FileRef };
  /** The derived maps (T2w, ADC, then FA and MD or TRACE) with their provenance. */
  maps: DerivedMap[];
  model: 'tensor' | 'trace';
  /** Maps not derived, and why (e.g. FA of a 3-direction trace series). */
  notDerived: { modality: DwiModality; reason: string }[];
  /** Absent when registration was turned off or the image is too small. */
  registration?: RegistrationCheck;
  /** Median σ of the noise map inside the brain mask (signal units of the input). */
  noiseLevel: number;
  motion: MotionEstimate[];
  params: Record<string, unknown>;
  brainExtraction: 'network' | 'classical';
  stepsSkipped: string[];
  /** Milliseconds per step (steps loaded from the cache report their load time). */
  timings: Record<string, number>;
  warnings: string[];
  gradients: { volumes: number; b0Count: number; shells: number[]; shellsUsed: number[]; directions: number; model: 'tensor' | 'trace'; fitVolumes: number[] };
}

/** What a step leaves for the next ones; each record carries everything so far. */
interface PipelineState {
  /** Latest 4D intermediate (absent: the input file). */
  series?: FileRef;
  noiseMap?: FileRef;
  field?: FileRef;
  mask?: FileRef;
  motion?: RigidParams[];
  /** Gradient directions in the voxel frame after rotation by the motion. */
  bvecsVoxel?: Vec3[];
  brainExtraction?: 'network' | 'classical';
  outputs?: DeriveDwiResult['files'];
  maps?: DerivedMap[];
  registration?: RegistrationCheck;
  noiseLevel?: number;
  stepParams: Record<string, unknown>;
  warnings: string[];
}

interface StepRecord {
  version: number;
  step: DwiStep;
  key: string;
  state: PipelineState;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function toInputError(err: unknown): never {
  if (err instanceof DwiInputError) throw err;
  if (err instanceof NiftiValidationError) {
    const reason = err.reason === 'non_finite' ? 'non_finite' : 'unreadable';
    throw new DwiInputError(reason, err.message, { nifti: err.reason });
  }
  if (err instanceof GradientTableError) {
    const reason = err.reason === 'gradient_count_mismatch' ? 'gradient_count_mismatch' : err.reason === 'bad_bvec' ? 'bad_bvec' : 'bad_bval';
    throw new DwiInputError(reason, err.message);
  }
  throw err;
}

/** b-values: NaN/Inf tokens are 'non_finite', anything else unparsable 'bad_bval'. */
function parseBvals(text: string): number[] {
  try {
    return parseBval(text);
  } catch (err) {
    if (/\b(nan|inf|infinity)\b/i.test(text)) throw new DwiInputError('non_finite', 'the .bval file holds NaN or infinite values');
    return toInputError(err);
  }
}

function determinant3(a: number[][]): number {
  return (
    a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
    a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
    a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
  );
}

/** Volumes of the image, rejecting 3D images and extra dimensions. */
function volumesOf(header: NiftiHeader): { shape: number[]; volumes: number } {
  const ndim = header.dim[0];
  const dims = header.dim.slice(1, 1 + ndim);
  if (ndim < 4 || dims[3] <= 1) {
    throw new DwiInputError('single_volume', `a diffusion series needs several volumes; this image is ${dims.join('×')}`);
  }
  if (dims.slice(4).some((d) => d > 1)) throw new DwiInputError('not_4d', `expected a 4D series, got ${dims.join('×')}`);
  return { shape: dims.slice(0, 4), volumes: dims[3] };
}

function checkFinite(data: Float32Array): void {
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) bad++;
  if (bad > 0) throw new DwiInputError('non_finite', `the series holds ${bad} NaN or infinite voxel values`, { voxels: bad });
}

async function readRecord(workDir: string, step: DwiStep): Promise<StepRecord | undefined> {
  try {
    const rec = JSON.parse(await fs.readFile(path.join(workDir, `${step}.json`), 'utf8')) as StepRecord;
    return rec.version === DWI_PIPELINE_VERSION && rec.step === step ? rec : undefined;
  } catch {
    return undefined;
  }
}

async function writeRecord(workDir: string, record: StepRecord): Promise<void> {
  const file = path.join(workDir, `${record.step}.json`);
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, JSON.stringify(record, null, 1));
  await fs.rename(temp, file);
}

async function fileMatches(ref: FileRef | undefined): Promise<boolean> {
  if (!ref) return true;
  try {
    return (await sha256File(ref.path)) === ref.sha256;
  } catch {
    return false;
  }
}

async function write3d(file: string, header: NiftiHeader, data: ArrayLike<number>, datatype: NiftiDatatypeName): Promise<FileRef> {
  const { sha256: hash } = await writeNifti(file, header, data, { datatype });
  return { path: file, sha256: hash };
}

export async function deriveDwi(
  dwiPath: string,
  bvalPath: string,
  bvecPath: string,
  outDir: string,
  opts: DeriveDwiOptions = {},
): Promise<DeriveDwiResult> {
  const timings: Record<string, number> = {};
  const progress = (step: string, fraction: number) => opts.onProgress?.(step, Math.max(0, Math.min(1, fraction)));
  let clock = performance.now();
  const lap = (step: string) => {
    const now = performance.now();
    timings[step] = Math.round(now - clock);
    clock = now;
  };
  const threads = Math.max(1, Math.floor(opts.threads ?? 1));
  const skip = new Set(resolveSkippedSteps(opts.steps, opts.skipSteps));

  // --- load and validate -------------------------------------------------
  progress('load', 0);
  let header: NiftiHeader;
  try {
    header = await readNiftiHeader(dwiPath);
  } catch (err) {
    toInputError(err);
  }
  const { shape, volumes } = volumesOf(header!);
  const [bvalText, bvecText] = await Promise.all([fs.readFile(bvalPath, 'utf8'), fs.readFile(bvecPath, 'utf8')]);
  const bvals = parseBvals(bvalText);
  let bvecRows: number[][];
  try {
    bvecRows = parseBvec(bvecText, volumes);
  } catch (err) {
    toInputError(err);
  }
  const grads: DwiGradients = validateDwiGradients(bvals, bvecRows!, volumes);
  let series: Awaited<ReturnType<typeof readSeries>>;
  try {
    series = await readSeries(dwiPath, { shared: threads > 1 });
  } catch (err) {
    toInputError(err);
  }
  const data0 = series!.data;
  checkFinite(data0);
  const [nx, ny, nz, nv] = shape;
  const nvox = nx * ny * nz;
  const spatial = [nx, ny, nz];
  const voxel = voxelSizes(header!).slice(0, 3).map((v) => (Math.abs(v) > 0 ? Math.abs(v) : 1));
  const det = determinant3(affineOf(header!));
  const bvecsVoxel0 = grads.bvecs.map((g) => fslToVoxel(g, det));
  progress('load', 1);
  lap('load');

  // --- step keys -----------------------------------------------------------
  const extent = resolveExtent(opts.denoise?.window, shape);
  const estimator: NoiseEstimator = opts.denoise?.estimator ?? 'cordero-grande';
  const stepParams: Record<DwiStep, Record<string, unknown>> = {
    denoise: { method: 'mp-pca', window: extent, estimator, applied: !skip.has('denoise') },
    gibbs: { method: 'local-subvoxel-shifts', ...gibbsParams(), axes: [0, 1], enabled: !skip.has('gibbs') },
    register: {
      method: 'rigid: NMI to mean b0, then tensor-predicted targets (Gauss-Newton)', samples: 20000, modelRounds: 2, interpolation: 'trilinear', enabled: !skip.has('register'),
      check: 'kept only where it lowers the RMS log-signal residual of the fit inside the brain (50000 jittered points, trilinear reads with and without the motion)',
    },
    biasfield: { method: 'N4-type', ...n4Params({}, spatial), enabled: !skip.has('biasfield') },
    brainmask: { method: opts.brainExtractor ? 'network, classical fallback' : 'classical (Otsu, opening, largest component)' },
    tensor:
      grads.model === 'tensor'
        ? { model: 'tensor', method: 'WLS + IWLS', iterations: 2, shellsUsed: grads.shellsUsed, directions: grads.directions, volumesUsed: grads.fitVolumes.length, adcUnits: 'mm^2/s' }
        : { model: 'trace', method: 'direction-averaged log-signal ratio; TRACE = geometric mean of the DW volumes', shellsUsed: grads.shellsUsed, directions: grads.directions, volumesUsed: grads.fitVolumes.length, noTensorReason: grads.noTensorReason, adcUnits: 'mm^2/s' },
  };
  const keys: Record<string, string> = {};
  let chain = sha256(JSON.stringify({ version: DWI_PIPELINE_VERSION, dwi: series!.sha256, bvals: grads.bvals, bvecs: grads.bvecs }));
  for (const step of DWI_STEPS) {
    chain = sha256(`${chain}|${step}|${JSON.stringify(stepParams[step])}`);
    keys[step] = chain;
  }

  // --- resume --------------------------------------------------------------
  const stepsSkipped: string[] = [];
  let state: PipelineState = { stepParams: {}, warnings: [...grads.warnings] };
  let data = data0;
  let resumeAfter = -1;
  if (opts.workDir) {
    await fs.mkdir(opts.workDir, { recursive: true });
    for (let i = DWI_STEPS.length - 1; i >= 0 && resumeAfter < 0; i--) {
      const record = await readRecord(opts.workDir, DWI_STEPS[i]);
      if (!record || record.key !== keys[DWI_STEPS[i]]) continue;
      const s = record.state;
      // Final outputs count only where this call wants them.
      if (s.outputs && Object.values(s.outputs).some((f) => path.dirname(f.path) !== path.resolve(outDir))) continue;
      const files = [s.noiseMap, s.field, s.mask, ...(s.outputs ? Object.values(s.outputs) : [])];
      if (!(await Promise.all(files.map(fileMatches))).every(Boolean)) continue;
      if (s.series && i < DWI_STEPS.length - 1) {
        const loaded = await readSeries(s.series.path, { shared: threads > 1 }).catch(() => undefined);
        if (!loaded || loaded.sha256 !== s.series.sha256 || loaded.data.length !== data0.length) continue;
        data = loaded.data;
      }
      if (s.field && i < DWI_STEPS.length - 1) {
        const field = await readSeries(s.field.path);
        applyBiasField(data, field.data);
      }
      state = s;
      resumeAfter = i;
    }
    for (let i = 0; i <= resumeAfter; i++) stepsSkipped.push(DWI_STEPS[i]);
    if (resumeAfter >= 0) lap('resume');
  }
  const workFile = (name: string) => path.join(opts.workDir!, name);
  const record = async (step: DwiStep) => {
    state.stepParams[step] = stepParams[step];
    if (opts.workDir) await writeRecord(opts.workDir, { version: DWI_PIPELINE_VERSION, step, key: keys[step], state });
  };
  const shouldRun = (step: DwiStep) => DWI_STEPS.indexOf(step) > resumeAfter;
  let noiseMap: Float32Array | undefined;
  let mask: Uint8Array | undefined;

  // --- 1. denoising --------------------------------------------------------
  if (shouldRun('denoise')) {
    progress('denoise', 0);
    const apply = !skip.has('denoise');
    const dopts = { extent, estimator, apply, onProgress: (f: number) => progress('denoise', f) };
    let result: MppcaResult | undefined;
    if (threads > 1 && isShared(data)) {
      try {
        result = await parallelDenoise(data, shape, dopts, threads);
      } catch (err) {
        state.warnings.push(`parallel denoising failed (${(err as Error).message}); ran single-threaded`);
      }
    }
    result ??= mppcaDenoise(data, shape, dopts);
    noiseMap = result.noiseMap;
    stepParams.denoise.meanSignalComponents = Math.round(result.meanSignalComponents * 100) / 100;
    if (opts.workDir) {
      state.noiseMap = await write3d(workFile('noise_map.nii.gz'), header!, noiseMap, 'float32');
      if (apply) state.series = { path: workFile('denoise.nii.gz'), ...(await writeSeries(workFile('denoise.nii.gz'), header!, shape, data)) };
    }
    await record('denoise');
    progress('denoise', 1);
    lap('denoise');
  }

  // --- 2. Gibbs ringing ----------------------------------------------------
  if (shouldRun('gibbs')) {
    progress('gibbs', 0);
    if (!skip.has('gibbs')) {
      const params = gibbsParams();
      let done = false;
      if (threads > 1 && isShared(data)) {
        try {
          await parallelGibbs(data, shape, params, threads, (f) => progress('gibbs', f));
          done = true;
        } catch (err) {
          state.warnings.push(`parallel Gibbs removal failed (${(err as Error).message}); ran single-threaded`);
        }
      }
      if (!done) removeGibbs(data, shape, { ...params, onProgress: (f) => progress('gibbs', f) });
      if (opts.workDir) state.series = { path: workFile('gibbs.nii.gz'), ...(await writeSeries(workFile('gibbs.nii.gz'), header!, shape, data)) };
    }
    await record('gibbs');
    progress('gibbs', 1);
    lap('gibbs');
  }

  // --- 3. co-registration ----------------------------------------------------
  if (shouldRun('register')) {
    progress('register', 0);
    // A crop of a few voxels (test ROIs) has too little structure to register: spurious motion would do harm.
    const tooSmall = Math.min(nx, ny) < MIN_REGISTER_SIZE;
    if (tooSmall && !skip.has('register')) state.warnings.push(`registration skipped: the image is smaller than ${MIN_REGISTER_SIZE} voxels in-plane`);
    if (!skip.has('register') && !tooSmall) {
      const estimate = estimateMotion(data, shape, voxel, {
        referenceVolumes: grads.b0,
        bvals: grads.bvals,
        bvecs: bvecsVoxel0,
        onProgress: (f) => progress('register', 0.9 * f),
      });
      // Registration must earn its place: the fit's RMS log-signal residual inside the brain (mask of
      // the unregistered mean b0), read through the same trilinear interpolation with and without the
      // motion (see motionResidual), has to drop; otherwise the unregistered series is kept.
      const checkMask = classicalBrainMask(meanOfVolumes(data, nvox, grads.b0), spatial, voxel);
      const model = grads.model === 'tensor' ? 'tensor' : 'isotropic';
      const residual = (params: RigidParams[] | null) => motionResidual(data, shape, voxel, params, grads.bvals, bvecsVoxel0, grads.fitVolumes, checkMask, { model });
      const residualWithout = residual(null);
      const residualWith = residual(estimate.params);
      const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
      const check: RegistrationCheck = { model, residualWithout: round6(residualWithout), residualWith: round6(residualWith), applied: residualWith < residualWithout };
      state.motion = estimate.params;
      progress('register', 0.95);
      if (check.applied) {
        applyMotion(data, shape, voxel, estimate.params);
        state.bvecsVoxel = bvecsVoxel0.map((g, v) => (grads.bvals[v] <= 50 ? g : rotateToReference(g, estimate.params[v])));
        if (opts.workDir) state.series = { path: workFile('register.nii.gz'), ...(await writeSeries(workFile('register.nii.gz'), header!, shape, data)) };
      } else {
        state.bvecsVoxel = bvecsVoxel0;
        check.reason =
          `registration did not lower the ${model} fit's RMS log-signal residual inside the brain ` +
          `(${residualWith.toFixed(4)} registered vs ${residualWithout.toFixed(4)} unregistered, both read through trilinear interpolation): kept the unregistered series`;
        state.warnings.push(`registration_not_kept: ${check.reason}`);
      }
      state.registration = check;
    } else {
      state.motion = grads.bvals.map(() => [0, 0, 0, 0, 0, 0]);
      state.bvecsVoxel = bvecsVoxel0;
    }
    await record('register');
    progress('register', 1);
    lap('register');
  }

  // --- 4. bias field ---------------------------------------------------------
  if (shouldRun('biasfield')) {
    progress('biasfield', 0);
    if (!skip.has('biasfield')) {
      const meanB0 = meanOfVolumes(data, nvox, grads.b0);
      const n4 = n4BiasField(meanB0, spatial, { onProgress: (f) => progress('biasfield', 0.95 * f) });
      applyBiasField(data, n4.field);
      stepParams.biasfield.iterationsRun = n4.iterationsRun;
      if (opts.workDir) state.field = await write3d(workFile('biasfield.nii.gz'), header!, n4.field, 'float32');
    }
    await record('biasfield');
    progress('biasfield', 1);
    lap('biasfield');
  }

  // --- 5. brain mask -----------------------------------------------------------
  const meanB0 = meanOfVolumes(data, nvox, grads.b0);
  if (shouldRun('brainmask')) {
    progress('brainmask', 0);
    let method: 'network' | 'classical' = 'classical';
    if (opts.brainExtractor) {
      try {
        const m = await opts.brainExtractor({ data: meanB0, shape: spatial, header: header! });
        if (m && m.length === nvox && m.some((v) => v)) {
          mask = Uint8Array.from(m, (v) => (v ? 1 : 0));
          method = 'network';
        } else if (m) state.warnings.push('the brain extractor returned an empty or mis-sized mask; used the classical mask');
      } catch (err) {
        state.warnings.push(`the brain extractor failed (${(err as Error).message}); used the classical mask`);
      }
    }
    mask ??= classicalBrainMask(meanB0, spatial, voxel);
    state.brainExtraction = method;
    if (opts.workDir) state.mask = await write3d(workFile('brainmask.nii.gz'), header!, mask, 'uint8');
    await record('brainmask');
    progress('brainmask', 1);
    lap('brainmask');
  }

  // --- 6. tensor and maps --------------------------------------------------------
  if (shouldRun('tensor')) {
    progress('tensor', 0);
    if (!mask) mask = Uint8Array.from((await readSeries(state.mask!.path)).data, (v) => (v ? 1 : 0));
    if (!noiseMap) noiseMap = (await readSeries(state.noiseMap!.path)).data;
    const bvecsFit = state.bvecsVoxel ?? bvecsVoxel0;
    const out = path.resolve(outDir);
    await fs.mkdir(out, { recursive: true });
    const shells = grads.shellsUsed;
    const dwUsed = grads.dwVolumes;
    const outputs: DeriveDwiResult['files'] = {
      t2w: await write3d(path.join(out, 't2w.nii.gz'), header!, meanB0, 'float32'),
    } as DeriveDwiResult['files'];
    const maps: DerivedMap[] = [{ key: 't2w', modality: 'T2w', file: outputs.t2w, method: `mean of the ${grads.b0.length} b0 volume(s)`, shells: [], directions: 0, volumes: grads.b0 }];
    const fitDesc = `b=${shells.join('+')} s/mm², ${grads.directions} directions, ${grads.fitVolumes.length} volumes`;
    if (grads.model === 'tensor') {
      const fitOpts = { iterations: 2, onProgress: (f: number) => progress('tensor', 0.9 * f) };
      let fit: TensorFit | undefined;
      if (threads > 1 && isShared(data)) {
        try {
          fit = await parallelFitTensor(data, shape, grads.bvals, bvecsFit, grads.fitVolumes, mask, threads, fitOpts);
        } catch (err) {
          state.warnings.push(`parallel tensor fit failed (${(err as Error).message}); ran single-threaded`);
        }
      }
      fit ??= fitTensor(data, shape, grads.bvals, bvecsFit, grads.fitVolumes, mask, fitOpts);
      const tm = tensorMetrics(fit.tensor, mask);
      progress('tensor', 1);
      lap('tensor');
      progress('write', 0);
      outputs.adc = await write3d(path.join(out, 'adc.nii.gz'), header!, tm.adc, 'float32');
      outputs.fa = await write3d(path.join(out, 'fa.nii.gz'), header!, tm.fa, 'float32');
      outputs.md = await write3d(path.join(out, 'md.nii.gz'), header!, tm.adc, 'float32');
      const method = `tensor (WLS + 2 IWLS iterations) on ${fitDesc}`;
      maps.push(
        { key: 'adc', modality: 'ADC', file: outputs.adc, method: `${method}; ADC = mean diffusivity (trace/3), mm²/s`, shells, directions: grads.directions, volumes: grads.fitVolumes },
        { key: 'fa', modality: 'FA', file: outputs.fa, method: `${method}; fractional anisotropy`, shells, directions: grads.directions, volumes: grads.fitVolumes },
        { key: 'md', modality: 'MD', file: outputs.md, method: `${method}; mean diffusivity (trace/3), mm²/s`, shells, directions: grads.directions, volumes: grads.fitVolumes },
      );
    } else {
      const tm = traceMaps(data, nvox, grads.bvals, meanB0, dwUsed, mask);
      progress('tensor', 1);
      lap('tensor');
      progress('write', 0);
      outputs.adc = await write3d(path.join(out, 'adc.nii.gz'), header!, tm.adc, 'float32');
      outputs.trace = await write3d(path.join(out, 'trace.nii.gz'), header!, tm.trace, 'float32');
      maps.push(
        { key: 'adc', modality: 'ADC', file: outputs.adc, method: `trace: mean over directions of ln(mean b0 / S)/b on ${fitDesc}, mm²/s`, shells, directions: grads.directions, volumes: grads.fitVolumes },
        { key: 'trace', modality: 'TRACE', file: outputs.trace, method: `trace: geometric mean of the ${dwUsed.length} diffusion-weighted volumes at b=${shells.join('+')} s/mm² (${grads.directions} directions)`, shells, directions: grads.directions, volumes: dwUsed },
      );
    }
    outputs.brainMask = await write3d(path.join(out, 'brain_mask.nii.gz'), header!, mask, 'uint8');
    outputs.noiseMap = await write3d(path.join(out, 'noise_map.nii.gz'), header!, noiseMap, 'float32');
    const sigmas: number[] = [];
    for (let i = 0; i < nvox; i++) if (mask[i]) sigmas.push(noiseMap[i]);
    state.noiseLevel = median(sigmas, { method: 'midpoint', float64: true });
    state.outputs = outputs;
    state.maps = maps;
    await record('tensor');
    progress('write', 1);
    lap('write');
  }

  const motion = (state.motion ?? grads.bvals.map(() => [0, 0, 0, 0, 0, 0])).map((p, volume) => ({
    volume,
    translation: [p[0], p[1], p[2]] as [number, number, number],
    rotationDeg: [p[3], p[4], p[5]] as [number, number, number],
  }));
  const notDerived: DeriveDwiResult['notDerived'] =
    grads.model === 'trace' ? (['FA', 'MD'] as const).map((modality) => ({ modality, reason: grads.noTensorReason ?? 'no tensor' })) : [];
  return {
    files: state.outputs!,
    maps: state.maps ?? [],
    model: grads.model,
    notDerived,
    registration: state.registration,
    noiseLevel: state.noiseLevel ?? NaN,
    motion,
    params: { ...stepParams, ...state.stepParams, skipSteps: [...skip], threads, b0Threshold: 50, pipelineVersion: DWI_PIPELINE_VERSION },
    brainExtraction: state.brainExtraction ?? 'classical',
    stepsSkipped,
    timings,
    warnings: state.warnings,
    gradients: { volumes: nv, b0Count: grads.b0.length, shells: grads.shells, shellsUsed: grads.shellsUsed, directions: grads.directions, model: grads.model, fitVolumes: grads.fitVolumes },
  };
}
