// Anatomy ("foreground") mask: every voxel that holds anatomy. A threshold between the background
// and the tissue on a lightly smoothed image, then the largest component, closing and hole filling,
// so dark tissue enclosed by the head (skull, sinuses, ventricles) counts as anatomy.
import { ALL_AXES_EDGED, bigComponents, close, fillHoles, fillHolesSlices, gaussianSmooth, largestComponent } from '../volume/morphology.js';
import { histogram, histogramQuantileBin, otsuBin } from '../volume/statistics.js';
import type { Volume } from './volume.js';

export interface HeadMaskParams {
  smoothMm: number;
  closeMm: number;
}

export const HEAD_MASK_PARAMS: HeadMaskParams = { smoothMm: 1, closeMm: 3 };

export interface IntensityModel {
  /** Smallest value: what anonymization tools write (0 for almost every image). */
  min: number;
  /** Background/tissue threshold on the smoothed image. */
  threshold: number;
  /** Otsu threshold between background and tissue. */
  otsu: number;
  /** Typical tissue level (median of the voxels above the threshold). */
  tissue: number;
  /** Fraction of voxels exactly at the minimum. */
  exactMinFraction: number;
}

/**
 * Background/tissue threshold: Otsu between background and everything else, lowered towards
 * the background's own spread, so dark tissue next to air (skin, bone marrow edges) is kept while
 * noise is not. Works on any contrast: it only assumes air is the darkest large class.
 */
export function intensityModel(smoothed: Float32Array, raw: Float32Array): IntensityModel {
  let min = Infinity;
  for (let i = 0; i < raw.length; i++) if (raw[i] < min) min = raw[i];
  let exact = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] === min) exact++;
  const bins = 1024;
  // Robust top: the 99.9th percentile, so a few hot voxels do not squash the histogram.
  const coarse = histogram(smoothed, min, maxOf(smoothed), 4096);
  const top = min + ((histogramQuantileBin(coarse, 0.999) + 1) / 4096) * (maxOf(smoothed) - min);
  const hist = histogram(smoothed, min, top, bins);
  const width = (top - min) / bins;
  const otsu = min + (otsuBin(hist) + 0.5) * width;
  // Background statistics: voxels well below Otsu.
  let n = 0;
  let sum = 0;
  let sum2 = 0;
  for (let i = 0; i < smoothed.length; i++) {
    const v = smoothed[i];
    if (v < min + 0.5 * (otsu - min)) {
      n++;
      sum += v;
      sum2 += v * v;
    }
  }
  const mean = n ? sum / n : min;
  const sd = n ? Math.sqrt(Math.max(0, sum2 / n - mean * mean)) : 0;
  const threshold = Math.min(min + 0.5 * (otsu - min), Math.max(mean + 4 * sd, min + 0.2 * (otsu - min)));
  const tissueHist = new Float64Array(bins);
  for (let b = 0; b < bins; b++) if (min + (b + 0.5) * width > threshold) tissueHist[b] = hist[b];
  const tissue = min + (histogramQuantileBin(tissueHist, 0.5) + 0.5) * width;
  return { min, threshold, otsu, tissue, exactMinFraction: exact / raw.length };
}

function maxOf(a: Float32Array): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}

export interface HeadMask {
  mask: Uint8Array;
  smoothed: Float32Array;
  intensity: IntensityModel;
}

/** Pieces at least this share of the largest are kept before hole filling (a scalp shell is 20-50% of the brain). */
const SHELL_MIN_FRACTION = 0.1;

/** The anatomy mask of a RAS volume. */
export function headMask(vol: Volume, params: HeadMaskParams = HEAD_MASK_PARAMS): HeadMask {
  const smoothed = gaussianSmooth(vol.data, vol.dims, vol.spacing, params.smoothMm);
  const intensity = intensityModel(smoothed, vol.data);
  let mask: Uint8Array = new Uint8Array(vol.data.length);
  for (let i = 0; i < mask.length; i++) mask[i] = smoothed[i] > intensity.threshold ? 1 : 0;
  // Every large piece, not only the largest: in a T1w with a dark skull the scalp is a shell cut off
  // from the brain; hole filling then joins the two (the skull between them is enclosed), and the
  // largest piece after it is the whole head.
  mask = bigComponents(mask, vol.dims, SHELL_MIN_FRACTION);
  mask = close(mask, vol.dims, vol.spacing, params.closeMm);
  mask = largestComponent(fillHoles(mask, vol.dims, ALL_AXES_EDGED), vol.dims);
  // Cavities open to the outside along one axis only (nasal cavity, ear canals) are anatomy too.
  // Note: with ALL_AXES_EDGED (what this module has always used) every voxel of a slice lies on
  // the slice's edge, so these two slice fills leave the mask unchanged.
  mask = fillHolesSlices(mask, vol.dims, 2, ALL_AXES_EDGED);
  mask = fillHolesSlices(mask, vol.dims, 0, ALL_AXES_EDGED);
  return { mask, smoothed, intensity };
}
