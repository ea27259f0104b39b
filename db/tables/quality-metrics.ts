import type { ColumnType, Insertable, Selectable } from 'kysely';
import type { Json } from './json.js';

/** Automatic image-quality metrics of one scan (lib/quality computeIqms). */
export interface QualityMetricsTable {
  scan_id: string;
  dataset_id: string;
  modality: string;
  metrics: Json;
  warnings: Json;
  /** IQM_VERSION of the code that computed them. */
  version: string;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
export type QualityMetrics = Selectable<QualityMetricsTable>;
export type NewQualityMetrics = Insertable<QualityMetricsTable>;

/** A model's predicted score for a dataset × modality, kept apart from human ratings. */
export interface PredictedScoresTable {
  dataset_id: string;
  modality: string;
  score: number;
  model: string;
  details: Json;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
export type PredictedScore = Selectable<PredictedScoresTable>;
export type NewPredictedScore = Insertable<PredictedScoresTable>;
