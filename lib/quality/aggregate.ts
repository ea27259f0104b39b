// The OpenMind rating rule: one score per dataset × modality from the raters' current ratings.
import { QualityError } from './errors.js';

export interface CurrentRating {
  rater: string;
  /** 1 (best) .. 5 (worst). */
  score: number;
  /** When this rater first rated the item; orders the raters (earliest two form the pair). */
  firstRatedAt?: Date | string;
}

export interface Aggregate {
  status: 'waiting' | 'needs_third' | 'final';
  /** Present when final: the mean of two agreeing raters, or the median of three. */
  score?: number;
  /** Raters whose ratings decide the score (or are waited on), in rating order. */
  raters: string[];
  /** |first - second| of the pair, once there is a pair. */
  disagreement?: number;
}

/** Two raters whose scores differ by this much or more need a third rating. */
export const DISAGREEMENT_THRESHOLD = 2;

export function isValidScore(score: unknown): score is number {
  return typeof score === 'number' && Number.isInteger(score) && score >= 1 && score <= 5;
}

/**
 * With two raters: their mean. When they differ by 2 or more, a third rating is needed and the
 * median of the three decides. Raters are taken in the order they first rated (input order
 * when no times are given); later raters beyond those the rule needs are ignored, so an extra
 * opinion never changes a final score silently. Revisions change a rater's score, not their place.
 */
export function aggregateRatings(ratings: readonly CurrentRating[]): Aggregate {
  const seen = new Set<string>();
  for (const r of ratings) {
    if (!isValidScore(r.score)) throw new QualityError('invalid_score', `rater ${r.rater}: score ${r.score} is not an integer from 1 to 5`);
    if (seen.has(r.rater)) throw new QualityError('duplicate_rater', `rater ${r.rater} appears twice; pass only each rater's current rating`);
    seen.add(r.rater);
  }
  const ordered = ratings
    .map((r, i) => ({ ...r, i, t: r.firstRatedAt === undefined ? NaN : new Date(r.firstRatedAt).getTime() }))
    .sort((a, b) => (Number.isNaN(a.t) || Number.isNaN(b.t) || a.t === b.t ? a.i - b.i : a.t - b.t));
  if (ordered.length < 2) return { status: 'waiting', raters: ordered.map((r) => r.rater) };
  const [a, b, c] = ordered;
  const disagreement = Math.abs(a.score - b.score);
  if (disagreement < DISAGREEMENT_THRESHOLD) {
    return { status: 'final', score: (a.score + b.score) / 2, raters: [a.rater, b.rater], disagreement };
  }
  if (!c) return { status: 'needs_third', raters: [a.rater, b.rater], disagreement };
  const median = [a.score, b.score, c.score].sort((x, y) => x - y)[1];
  return { status: 'final', score: median, raters: [a.rater, b.rater, c.rater], disagreement };
}
