import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { Json } from './json.js';
import type { OfDatasetModality, Timestamps } from './common.js';

/** A dataset × modality to rate: its montage and the scans shown (mosaic + automatic metrics). */
export interface RatingTasksTable extends Timestamps, OfDatasetModality {
  montage_path: string;
  /** [{ scanId, mosaicPath, metrics }] */
  scans: Json;
}
export type RatingTask = Selectable<RatingTasksTable>;
export type NewRatingTask = Insertable<RatingTasksTable>;

/**
 * One version of one rater's rating of a dataset × modality. Append-only: a revision is a new
 * row with version + 1; the current rating is the highest version per rater × dataset × modality.
 */
export interface RatingsTable {
  id: Generated<number>;
  /** Idempotency key of the submission (unique): a replayed submission is refused, never counted twice. */
  submission_id: string;
  rater_id: number;
  dataset_id: string;
  modality: string;
  version: number;
  /** OpenMind scale: 1 (best) .. 5 (worst). */
  score: number;
  /** Checked artifact kinds: noise, motion, ghosting, ringing, bias_field, wrap_around, defacing_damage, other. */
  artifacts: Json;
  comment: string;
  /** The pictures the rater was shown (montage and mosaics, relative to the assets folder). */
  images_shown: Json;
  /** sha256 of score + artifacts + comment: the same content submitted twice is refused. */
  content_hash: string;
  /** 'web': rated on the page; 'import': a correction imported by the rater (stored at server time as their next version). */
  source: 'web' | 'import';
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type Rating = Selectable<RatingsTable>;
export type NewRating = Insertable<RatingsTable>;
