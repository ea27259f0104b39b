// A predicted quality score for dataset × modality pairs that no human has rated yet.
//
// The model is deliberately simple and monotone: each of four IQMs is mapped linearly between a
// "good" anchor (score 1) and a "bad" anchor (score 5) and clipped; the scan's prediction is the
// mean of the available sub-scores, and a dataset × modality gets the median over its scans.
// Anchors are priors from typical MRIQC T1w/T2w ranges, not fitted to OpenMind ratings: the
// result is stored apart from human scores and always marked predicted.
import { QualityError } from './errors.js';
import { median } from './stats.js';

export const PREDICT_MODEL_VERSION = 'openmind-predict/1';

interface Anchor {
  metric: string;
  /** Value that maps to score 1 (best). */
  good: number;
  /** Value that maps to score 5 (worst). */
  bad: number;
  /** Compare in log space (ratios spanning decades). */
  log?: boolean;
}

/** Which IQMs the prediction uses, and their anchors. */
export const PREDICT_ANCHORS: readonly Anchor[] = [
  // More entropy = ghosting/blurring energy spread through the grid.
  { metric: 'efc', good: 0.4, bad: 0.8 },
  // Tissue SNR (MRIQC's snr_total): ~10+ is a clean 3T scan, ~3 is noisy.
  { metric: 'snr_total', good: 10, bad: 3 },
  // Fraction of air voxels carrying artifact signal (Mortamet's QI1).
  { metric: 'qi_1', good: 0, bad: 0.05 },
  // Grey/white separation against their spread (lower is better).
  { metric: 'cjv', good: 0.45, bad: 1.0 },
];

export interface Prediction {
  score: number;
  predicted: true;
  model: string;
  /** The sub-score of each metric used. */
  parts: Record<string, number>;
}

function subScore(value: number, a: Anchor): number {
  const f = a.log ? (Math.log(value) - Math.log(a.good)) / (Math.log(a.bad) - Math.log(a.good)) : (value - a.good) / (a.bad - a.good);
  return 1 + 4 * Math.min(1, Math.max(0, f));
}

/** Predicted score (1 best .. 5 worst) of one scan from its IQMs; rounded to 0.1. */
export function predictScanScore(metrics: Record<string, number>): Prediction {
  const parts: Record<string, number> = {};
  for (const a of PREDICT_ANCHORS) {
    const v = metrics[a.metric];
    if (typeof v === 'number' && Number.isFinite(v)) parts[a.metric] = subScore(v, a);
  }
  const values = Object.values(parts);
  if (!values.length) throw new QualityError('no_scans', `none of ${PREDICT_ANCHORS.map((a) => a.metric).join(', ')} is available to predict a score`);
  const score = Math.round(10 * (values.reduce((s, v) => s + v, 0) / values.length)) / 10;
  return { score, predicted: true, model: PREDICT_MODEL_VERSION, parts };
}

/** Predicted score of a dataset × modality: the median of its scans' predictions. */
export function predictTaskScore(scans: Record<string, number>[]): { score: number; predicted: true; model: string; scans: number } {
  const scores = scans.map((m) => predictScanScore(m).score);
  if (!scores.length) throw new QualityError('no_scans', 'no scans to predict from');
  return { score: Math.round(10 * median(scores)) / 10, predicted: true, model: PREDICT_MODEL_VERSION, scans: scores.length };
}
