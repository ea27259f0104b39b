// Automatic image-quality metrics (IQMs) of one 3D scan, after MRIQC's anatomical IQMs
// (Esteban et al. 2017): EFC, FBER, SNR, SNR (Dietrich), CNR, CJV, QI1, FWHM, WM2MAX and
// foreground/background summaries. Metric names follow MRIQC's (snr_total, qi_1, fwhm_avg...).
//
// Deviations from MRIQC, on purpose:
// - tissue classes come from a 3-component Gaussian mixture of intensities in the anatomy's core
//   (deeper than 10 mm: mostly brain), not FSL FAST; named by the contrast's intensity order
//   (T1w: csf < gm < wm). SNR, CNR and CJV use the mixture's means and spreads;
// - MRIQC's QI1 looks at positive air voxels only; here a mostly zero-filled air counts any
//   signal above ten times the quantization noise as artifact;
// - the anonymization (defacing) mask is removed from both foreground and background, so a
//   zeroed face is neither anatomy nor air;
// - background noise is floored at the quantization noise of the stored values, so a zero-filled
//   background gives large but finite FBER / SNRd instead of infinity or MRIQC's -1;
// - FWHM is the classic AFNI estimate (first-difference variance, no detrending) inside the anatomy mask.
import { QualityError } from './errors.js';
import { summarize, type Summary } from './stats.js';
import {
  countSet,
  fillHoles,
  fillHolesSlices,
  largestComponent,
  mad,
  mean,
  median,
  openCross,
  otsuThreshold,
  percentiles,
  squaredDistance,
  stdev,
  valuesIn,
  voxelCount,
  type Dims,
  type Vec3,
} from '../volume/index.js';

import { IQM_VERSION } from './version.js';

export { IQM_VERSION };

export interface IqmImage {
  /** Voxel values in NIfTI order (x fastest); a 4D image uses its first volume. */
  data: ArrayLike<number>;
  shape: number[];
  /** Voxel size in mm per axis (at least three entries). */
  voxelSize: number[];
}

export interface IqmMasks {
  /** 1 = anatomy (the head). Estimated by threshold + largest component when absent. */
  anatomy?: Uint8Array;
  /** 1 = voxels altered by anonymization (the defaced face); neither anatomy nor background. */
  anonymization?: Uint8Array;
}

export interface IqmExtra {
  /** DWI derivatives: the derivation's noise estimate, stored as `dwi_noise_level`. */
  noiseLevel?: number;
  /** DWI derivatives: the derivation's motion estimate (e.g. mean displacement, mm), stored as `dwi_motion`. */
  motion?: number;
  /** Modality/contrast (T1w, T2w, FLAIR, PDw...): orders the three tissue classes. Default T1w. */
  contrast?: string;
}

export interface IqmResult {
  metrics: Record<string, number>;
  warnings: string[];
  version: string;
}

/** Direction in which each metric gets better; metrics not listed have no quality direction. */
export const METRIC_DIRECTION: Record<string, 'higher' | 'lower'> = {
  efc: 'lower',
  fber: 'higher',
  snr_total: 'higher',
  snr_csf: 'higher',
  snr_gm: 'higher',
  snr_wm: 'higher',
  snrd_total: 'higher',
  snrd_csf: 'higher',
  snrd_gm: 'higher',
  snrd_wm: 'higher',
  cnr: 'higher',
  cjv: 'lower',
  qi_1: 'lower',
  fwhm_avg: 'lower',
  fwhm_x: 'lower',
  fwhm_y: 'lower',
  fwhm_z: 'lower',
};

/** Air smaller than this fraction of the grid makes background metrics unreliable. */
const SMALL_AIR_FRACTION = 0.25;
/** Air voxels closer than this to the anatomy are partial-volume, not artifact, for QI1. */
const QI1_MARGIN_MM = 10;
/** Tissue classes come from the anatomy at least this deep inside its edge. */
const TISSUE_DEPTH_MM = 10;
/** Robust z-score above which an air voxel counts as artifact (MRIQC's default). */
const QI1_ZSCORE = 10;
/** sqrt(2 / (4 - pi)): Rayleigh-distributed air std -> the Gaussian noise sigma (Dietrich 2007). */
const RAYLEIGH_TO_SIGMA = Math.sqrt(2 / (4 - Math.PI));

type TissueName = 'csf' | 'gm' | 'wm';

/** All IQMs of one scan. Throws QualityError('shape_mismatch' | 'mask_shape_mismatch' | 'empty_image' | 'empty_mask'). */
export function computeIqms(image: IqmImage, masks: IqmMasks = {}, extra: IqmExtra = {}): IqmResult {
  const warnings: string[] = [];
  const { shape, spacing, data } = firstVolume(image, warnings);
  const n = data.length;
  const anon = anonymizationMask(masks.anonymization, n, warnings);
  const estimated = !masks.anatomy;
  const anatomy = masks.anatomy ? binarize(masks.anatomy, n, 'anatomy') : estimateAnatomyMask(data, shape, anon);
  for (let i = 0; i < n; i++) if (anon[i]) anatomy[i] = 0;
  if (countSet(anatomy) === 0) throw new QualityError('empty_mask', 'the anatomy mask is empty (after removing the anonymization mask)');
  const air = new Uint8Array(n);
  for (let i = 0; i < n; i++) air[i] = anatomy[i] || anon[i] ? 0 : 1;

  const fgValues = valuesIn(data, anatomy);
  const bgValues = valuesIn(data, air);
  const fg = summarize(fgValues);
  const bg = bgValues.length ? summarize(bgValues) : emptySummary();
  // Anonymized voxels carry no acquisition: they neither set the value range nor the quantization.
  const measured = valuesIn(data, anon.map((v) => (v ? 0 : 1)));
  const floor = noiseFloor(measured, fg.median);
  const sigmaAir = Math.max(bg.n ? bg.stdv : 0, floor);
  const tissues = tissueClasses(valuesIn(data, tissueRegion(anatomy, shape, spacing)), extra.contrast, warnings);
  const airFraction = bg.n / n;
  noteBackground(bg, bgValues, airFraction, warnings);

  const metrics: Record<string, number> = {
    efc: entropyFocusCriterion(data, anon),
    fber: foregroundBackgroundEnergyRatio(fgValues, bgValues, floor),
    ...snrMetrics(tissues, sigmaAir),
    cnr: Math.abs(tissues.model.gm.mean - tissues.model.wm.mean) / Math.sqrt(sigmaAir ** 2 + tissues.model.gm.sd ** 2 + tissues.model.wm.sd ** 2),
    cjv: (tissues.model.wm.sd + tissues.model.gm.sd) / Math.max(Math.abs(tissues.model.wm.mean - tissues.model.gm.mean), floor),
    qi_1: artifactIndexQi1(data, shape, spacing, anatomy, air, floor),
    ...smoothnessFwhm(data, shape, spacing, anatomy),
    wm2max: tissues.wm.median / Math.max(percentiles(measured, [99.95])[0], floor),
    ...prefixed('summary_fg', fg),
    ...prefixed('summary_bg', bg),
    ...prefixed('summary_csf', tissues.csf),
    ...prefixed('summary_gm', tissues.gm),
    ...prefixed('summary_wm', tissues.wm),
    air_fraction: airFraction,
    anat_fraction: fg.n / n,
    anon_fraction: countSet(anon) / n,
    anat_mask_estimated: estimated ? 1 : 0,
  };
  if (extra.noiseLevel !== undefined) metrics.dwi_noise_level = extra.noiseLevel;
  if (extra.motion !== undefined) metrics.dwi_motion = extra.motion;
  return { metrics, warnings, version: IQM_VERSION };
}

/** The first 3D volume as Float32 with non-finite values zeroed, plus its shape and spacing. */
function firstVolume(image: IqmImage, warnings: string[]): { shape: Dims; spacing: Vec3; data: Float32Array } {
  if (image.shape.length < 3) throw new QualityError('shape_mismatch', `need a 3D image, got shape [${image.shape.join(', ')}]`);
  const shape: Dims = [image.shape[0], image.shape[1], image.shape[2]];
  const n = voxelCount(shape);
  if (!(n > 0) || image.data.length < n) {
    throw new QualityError('shape_mismatch', `shape [${image.shape.join(', ')}] needs ${n} voxels, data has ${image.data.length}`);
  }
  if (image.data.length > n) warnings.push(`first volume only: a ${image.shape.length}D image was given; metrics use its first 3D volume`);
  const spacing = [0, 1, 2].map((a) => (image.voxelSize[a] > 0 ? image.voxelSize[a] : 1)) as Vec3;
  const data = new Float32Array(n);
  let nonFinite = 0;
  let constant = true;
  const first = Number.isFinite(image.data[0]) ? image.data[0] : 0;
  for (let i = 0; i < n; i++) {
    const v = image.data[i];
    if (Number.isFinite(v)) data[i] = v;
    else nonFinite++;
    if (data[i] !== first) constant = false;
  }
  if (nonFinite) warnings.push(`non-finite values: ${nonFinite} NaN/Inf voxels were read as 0`);
  if (constant) throw new QualityError('empty_image', `every voxel is ${first}: no image to measure`);
  return { shape, spacing, data };
}

function binarize(mask: Uint8Array, n: number, what: string): Uint8Array {
  if (mask.length !== n) throw new QualityError('mask_shape_mismatch', `the ${what} mask has ${mask.length} voxels, the image ${n}`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = mask[i] ? 1 : 0;
  return out;
}

/**
 * The anonymization mask as 1 = altered. A mask covering most of the grid is a keep-mask
 * (pydeface's convention, 1 = keep) and is inverted, with a warning.
 */
function anonymizationMask(mask: Uint8Array | undefined, n: number, warnings: string[]): Uint8Array {
  if (!mask) return new Uint8Array(n);
  const out = binarize(mask, n, 'anonymization');
  if (countSet(out) > n / 2) {
    for (let i = 0; i < n; i++) out[i] = out[i] ? 0 : 1;
    warnings.push('anonymization mask inverted: it covered more than half the grid, so it was read as a keep-mask (1 = kept)');
  }
  return out;
}

/**
 * The head when no anatomy mask is given: Otsu threshold, the largest connected component,
 * then its holes filled in 3D and slice by slice (dark CSF, skull and sinuses belong to the head).
 */
export function estimateAnatomyMask(data: ArrayLike<number>, shape: Dims, exclude?: Uint8Array): Uint8Array {
  const n = voxelCount(shape);
  const kept = exclude ? valuesIn(data, exclude.map((v) => (v ? 0 : 1))) : data;
  const [lo, hi] = percentiles(kept, [0, 99.9]);
  const threshold = otsuThreshold(kept, { range: [lo, hi] });
  const above = new Uint8Array(n);
  for (let i = 0; i < n; i++) above[i] = data[i] > threshold && !(exclude && exclude[i]) ? 1 : 0;
  let head = fillHoles(largestComponent(above, shape), shape);
  for (const axis of [0, 1, 2] as const) head = fillHolesSlices(head, shape, axis);
  return head;
}

/**
 * Quantization noise of the stored values: integers carry at least 1/sqrt(12) of rounding noise.
 * Float data gets 0.1% of the foreground median. Keeps noise-based ratios finite on a zero background.
 */
export function noiseFloor(data: ArrayLike<number>, foregroundMedian: number): number {
  let integers = true;
  for (let i = 0; i < data.length && integers; i++) if (!Number.isInteger(data[i])) integers = false;
  if (integers) return Math.sqrt(1 / 12);
  return Math.max(1e-3 * Math.abs(foregroundMedian), 1e-12);
}

function noteBackground(bg: Summary, bgValues: Float32Array, airFraction: number, warnings: string[]): void {
  if (airFraction < SMALL_AIR_FRACTION) {
    warnings.push(
      `small air mask: only ${(100 * airFraction).toFixed(1)}% of the grid is air (often defacing or tight cropping); ` +
        'background metrics (FBER, QI1, SNRd, CNR) are less reliable',
    );
  }
  if (bg.n > 0 && bgValues.every((v) => v === 0)) {
    warnings.push('zero background: every air voxel is exactly 0 (zero-filled or masked); noise is floored at the quantization noise');
  }
}

/**
 * Entropy focus criterion (Atkinson 1997) over the whole grid except anonymized voxels:
 * the Shannon entropy of voxel intensities relative to sqrt(sum x^2), normalised by its
 * maximum (all voxels equal). 0 = all energy in one voxel; 1 = uniform. Lower is better.
 */
export function entropyFocusCriterion(data: ArrayLike<number>, exclude?: Uint8Array): number {
  let energy = 0;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (exclude && exclude[i]) continue;
    energy += data[i] * data[i];
    count++;
  }
  if (count === 0 || energy === 0) return NaN;
  const bmax = Math.sqrt(energy);
  let entropy = 0;
  for (let i = 0; i < data.length; i++) {
    if (exclude && exclude[i]) continue;
    const r = Math.abs(data[i]) / bmax;
    if (r > 0) entropy += r * Math.log(r);
  }
  const maxEntropy = Math.sqrt(count) * Math.log(1 / Math.sqrt(count));
  return count === 1 || entropy === 0 ? 0 : entropy / maxEntropy;
}

/**
 * Foreground-background energy ratio: median |x|^2 in the anatomy over median |x|^2 in the air.
 * The air energy is at least `floor`^2 (quantization noise). Higher is better.
 */
export function foregroundBackgroundEnergyRatio(fgValues: ArrayLike<number>, bgValues: ArrayLike<number>, floor = 0): number {
  const medianEnergy = (values: ArrayLike<number>) => {
    const e = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) e[i] = values[i] * values[i];
    return median(e);
  };
  const fgEnergy = medianEnergy(fgValues);
  const bgEnergy = Math.max(bgValues.length ? medianEnergy(bgValues) : 0, floor * floor);
  return bgEnergy > 0 ? fgEnergy / bgEnergy : NaN;
}

interface TissueModel {
  weight: number;
  mean: number;
  sd: number;
}

interface Tissues {
  /** Intensity summaries of the voxels assigned to each class. */
  csf: Summary;
  gm: Summary;
  wm: Summary;
  /** The fitted mixture components: what SNR, CNR and CJV use. */
  model: Record<TissueName, TissueModel>;
}

/**
 * Where tissue classes are estimated: the anatomy deeper than 10 mm from its edge, which drops
 * scalp, skull and face so that the classes are mostly brain. Falls back to the whole anatomy
 * when that core is under a fifth of it (small or tightly cropped anatomy).
 */
export function tissueRegion(anatomy: Uint8Array, shape: Dims, spacing: Vec3): Uint8Array {
  const outside = new Uint8Array(anatomy.length);
  for (let i = 0; i < anatomy.length; i++) outside[i] = anatomy[i] ? 0 : 1;
  const depth2 = squaredDistance(outside, shape, spacing, { float64: true });
  const core = new Uint8Array(anatomy.length);
  for (let i = 0; i < anatomy.length; i++) core[i] = anatomy[i] && depth2[i] > TISSUE_DEPTH_MM ** 2 ? 1 : 0;
  return countSet(core) >= 0.2 * countSet(anatomy) ? core : anatomy;
}

/** Tissue names in ascending intensity order for a contrast. */
export function tissueOrder(contrast?: string): [TissueName, TissueName, TissueName] {
  const c = (contrast ?? '').toLowerCase();
  if (c.includes('flair')) return ['csf', 'wm', 'gm'];
  if (/^(t2|pd)/.test(c)) return ['wm', 'gm', 'csf'];
  return ['csf', 'gm', 'wm'];
}

/**
 * Three tissue classes: a 1D Gaussian mixture of the core anatomy's intensities (started from
 * k-means). Class means and spreads come from the mixture, so overlapping classes (noise, a bias
 * field) widen the spreads instead of being cut off at hard intensity thresholds; voxels are
 * assigned to their most likely class for the summaries.
 */
function tissueClasses(values: Float32Array, contrast: string | undefined, warnings: string[]): Tissues {
  const components = gaussianMixture1d(values, 3);
  const cuts = decisionPoints(components);
  const classOf = (v: number) => (v < cuts[0] ? 0 : v < cuts[1] ? 1 : 2);
  const sizes = [0, 0, 0];
  for (const v of values) sizes[classOf(v)]++;
  const groups = sizes.map((size) => new Float32Array(size));
  const filled = [0, 0, 0];
  for (const v of values) {
    const c = classOf(v);
    groups[c][filled[c]++] = v;
  }
  if (Math.min(...components.map((c) => c.weight)) < 0.005) {
    warnings.push('degenerate tissue classes: one intensity class holds under 0.5% of the anatomy; SNR/CNR/CJV are unreliable');
  }
  const order = tissueOrder(contrast);
  const out = { model: {} } as Tissues;
  order.forEach((name, k) => {
    out[name] = groups[k].length ? summarize(groups[k]) : emptySummary();
    out.model[name] = components[k];
  });
  return out;
}

/** Intensities where the most likely class changes from k to k+1 (between adjacent means). */
function decisionPoints(components: TissueModel[]): number[] {
  const logDensity = (c: TissueModel, x: number) => Math.log(c.weight) - Math.log(c.sd) - ((x - c.mean) / c.sd) ** 2 / 2;
  return components.slice(0, -1).map((a, k) => {
    const b = components[k + 1];
    let lo = a.mean;
    let hi = b.mean;
    for (let it = 0; it < 60; it++) {
      const mid = (lo + hi) / 2;
      if (logDensity(a, mid) > logDensity(b, mid)) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  });
}

/**
 * A k-component 1D Gaussian mixture fitted by EM on a 1024-bin histogram (between the 0.1st
 * and 99.9th percentiles), started from k-means. Components ascending by mean.
 */
export function gaussianMixture1d(values: Float32Array, k: number, iterations = 200): TissueModel[] {
  const [lo, hi] = percentiles(values, [0.1, 99.9]);
  if (!(hi > lo)) return Array.from({ length: k }, () => ({ weight: 1 / k, mean: lo, sd: 1 }));
  const bins = 1024;
  const width = (hi - lo) / bins;
  const counts = new Float64Array(bins);
  for (const v of values) if (v >= lo && v <= hi) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  const x = Float64Array.from({ length: bins }, (_, b) => lo + (b + 0.5) * width);
  const total = counts.reduce((s, c) => s + c, 0);
  const centres = kmeans1d(values, k);
  const minSd = width;
  let comps: TissueModel[] = centres.map((mean, j) => {
    const gap = Math.min(j > 0 ? mean - centres[j - 1] : Infinity, j < k - 1 ? centres[j + 1] - mean : Infinity);
    return { weight: 1 / k, mean, sd: Math.max(Number.isFinite(gap) ? gap / 2 : (hi - lo) / (2 * k), minSd) };
  });
  const resp = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    const w = new Float64Array(k);
    const m1 = new Float64Array(k);
    const m2 = new Float64Array(k);
    for (let b = 0; b < bins; b++) {
      if (!counts[b]) continue;
      let sum = 0;
      for (let j = 0; j < k; j++) {
        const c = comps[j];
        resp[j] = (c.weight / c.sd) * Math.exp(-(((x[b] - c.mean) / c.sd) ** 2) / 2);
        sum += resp[j];
      }
      if (!(sum > 0)) continue;
      for (let j = 0; j < k; j++) {
        const r = (counts[b] * resp[j]) / sum;
        w[j] += r;
        m1[j] += r * x[b];
        m2[j] += r * x[b] * x[b];
      }
    }
    const next = comps.map((c, j) => {
      if (w[j] < 1e-9 * total) return c;
      const mean = m1[j] / w[j];
      return { weight: w[j] / total, mean, sd: Math.max(Math.sqrt(Math.max(m2[j] / w[j] - mean * mean, 0)), minSd) };
    });
    const moved = next.some((c, j) => Math.abs(c.mean - comps[j].mean) > 1e-7 * (hi - lo) || Math.abs(c.sd - comps[j].sd) > 1e-7 * (hi - lo));
    comps = next;
    if (!moved) break;
  }
  return comps.sort((a, b) => a.mean - b.mean);
}

/**
 * k-means of scalar values on a 1024-bin histogram between the 0.5th and 99.5th percentiles,
 * started at evenly spaced percentiles; returns the ascending centres.
 */
export function kmeans1d(values: Float32Array, k: number, iterations = 100): number[] {
  const starts = Array.from({ length: k }, (_, j) => (100 * (j + 0.5)) / k);
  const [lo, hi, ...initial] = percentiles(values, [0.5, 99.5, ...starts]);
  if (!(hi > lo)) return Array.from({ length: k }, () => lo);
  const bins = 1024;
  const width = (hi - lo) / bins;
  const counts = new Float64Array(bins);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]++;
  const centreOf = (b: number) => lo + (b + 0.5) * width;
  let centres = initial;
  for (let it = 0; it < iterations; it++) {
    const sum = new Float64Array(k);
    const cnt = new Float64Array(k);
    for (let b = 0; b < bins; b++) {
      if (!counts[b]) continue;
      const x = centreOf(b);
      let best = 0;
      for (let j = 1; j < k; j++) if (Math.abs(x - centres[j]) < Math.abs(x - centres[best])) best = j;
      sum[best] += x * counts[b];
      cnt[best] += counts[b];
    }
    const next = centres.map((c, j) => (cnt[j] ? sum[j] / cnt[j] : c));
    const moved = next.some((c, j) => Math.abs(c - centres[j]) > 1e-6 * (hi - lo));
    centres = next;
    if (!moved) break;
  }
  return centres.sort((a, b) => a - b);
}

/** MRIQC's SNR per tissue (class mean over class spread) and Dietrich's SNR against the air noise. */
function snrMetrics(t: Tissues, sigmaAir: number): Record<string, number> {
  const out: Record<string, number> = {};
  const names: TissueName[] = ['csf', 'gm', 'wm'];
  for (const name of names) {
    const c = t.model[name];
    out[`snr_${name}`] = c.mean / c.sd;
    out[`snrd_${name}`] = c.mean / (RAYLEIGH_TO_SIGMA * sigmaAir);
  }
  out.snr_total = mean(names.map((n) => out[`snr_${n}`]));
  out.snrd_total = mean(names.map((n) => out[`snrd_${n}`]));
  return out;
}

/**
 * Mortamet's QI1: the fraction of air voxels (farther than 10 mm from the anatomy) whose
 * intensity is an outlier of the air's own distribution (robust z > 10 against the median and
 * MAD), after an opening that drops isolated voxels. Ghosts and motion streaks land there.
 * A mostly zero-filled air has no noise distribution: there any signal above ten times the
 * quantization noise is artifact. Lower is better.
 */
export function artifactIndexQi1(data: Float32Array, shape: Dims, spacing: Vec3, anatomy: Uint8Array, air: Uint8Array, floor: number): number {
  const dist2 = squaredDistance(anatomy, shape, spacing, { float64: true });
  const far = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) far[i] = air[i] && dist2[i] > QI1_MARGIN_MM ** 2 ? 1 : 0;
  const values = valuesIn(data, far);
  if (values.length < 100) return 0;
  const location = median(values);
  const spread = Math.max(mad(values, location), floor);
  const artifacts = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) artifacts[i] = far[i] && (data[i] - location) / spread > QI1_ZSCORE ? 1 : 0;
  return countSet(openCross(artifacts, shape, { flatAxisEdges: [true, true, false] })) / values.length;
}

/**
 * Smoothness as AFNI's classic 3dFWHMx estimate, per axis, inside the anatomy: with s^2 the
 * intensity variance and v the variance of first differences along the axis, the lag-1
 * autocorrelation is r = 1 - v / (2 s^2) and a Gaussian kernel of that autocorrelation has
 * FWHM = dx * sqrt(-2 ln 2 / ln r) mm. Higher means blurrier.
 */
export function smoothnessFwhm(data: Float32Array, shape: Dims, spacing: Vec3, mask: Uint8Array): Record<string, number> {
  const inMask = valuesIn(data, mask);
  const variance = stdev(inMask) ** 2;
  const strides = [1, shape[0], shape[0] * shape[1]];
  const out: Record<string, number> = {};
  const used: number[] = [];
  (['x', 'y', 'z'] as const).forEach((name, axis) => {
    if (shape[axis] < 2) return;
    const stride = strides[axis];
    let sum = 0;
    let sum2 = 0;
    let count = 0;
    for (let v = 0; v < data.length; v++) {
      const coord = Math.floor(v / stride) % shape[axis];
      if (coord === shape[axis] - 1 || !mask[v] || !mask[v + stride]) continue;
      const d = data[v + stride] - data[v];
      sum += d;
      sum2 += d * d;
      count++;
    }
    if (count < 2 || !(variance > 0)) return;
    const diffVariance = sum2 / count - (sum / count) ** 2;
    const r = Math.min(Math.max(1 - diffVariance / (2 * variance), 1e-6), 1 - 1e-9);
    out[`fwhm_${name}`] = spacing[axis] * Math.sqrt((-2 * Math.LN2) / Math.log(r));
    used.push(out[`fwhm_${name}`]);
  });
  if (used.length) out.fwhm_avg = mean(used);
  return out;
}

function prefixed(prefix: string, s: Summary): Record<string, number> {
  return {
    [`${prefix}_mean`]: s.mean,
    [`${prefix}_median`]: s.median,
    [`${prefix}_stdv`]: s.stdv,
    [`${prefix}_mad`]: s.mad,
    [`${prefix}_p05`]: s.p05,
    [`${prefix}_p95`]: s.p95,
    [`${prefix}_n`]: s.n,
  };
}

/** Summary of an empty set: zeros, so that metrics stay finite (a warning says why). */
function emptySummary(): Summary {
  return { mean: 0, median: 0, stdv: 0, mad: 0, p05: 0, p95: 0, n: 0 };
}
