// Column groups several tables share.
import type { ColumnType } from 'kysely';

/** When a row was made (set once) and last changed. */
export interface Timestamps {
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** A row about one dataset × modality (a rating task, a predicted score, a scan's metrics). */
export interface OfDatasetModality {
  dataset_id: string;
  modality: string;
}
