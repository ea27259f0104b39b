import type { ColumnType, Insertable, Selectable } from 'kysely';
import type { Json } from './json.js';
import type { OfDatasetModality } from './common.js';

/** When the row was (re)computed. */
interface Computed extends OfDatasetModality {
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** Automatic image-quality metrics of one scan (lib/quality computeIqms). */
export interface QualityMetricsTable extends Computed {
  scan_id: string;
  metrics: Json;
  warnings: Json;
  /** IQM_VERSION of the code that computed them. */
  version: string;
}
export type QualityMetrics = Selectable<QualityMetricsTable>;
export type NewQualityMetrics = Insertable<QualityMetricsTable>;

/** A model's predicted score for a dataset × modality, kept apart from human ratings. */
export interface PredictedScoresTable extends Computed {
  score: number;
  model: string;
  details: Json;
}
export type PredictedScore = Selectable<PredictedScoresTable>;
export type NewPredictedScore = Insertable<PredictedScoresTable>;
