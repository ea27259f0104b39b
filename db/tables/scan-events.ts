import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { Json } from './json.js';

/**
 * Audit trail: one row per step attempt, inserted when the attempt starts and closed once
 * when it ends. Rows are never deleted; an attempt whose worker died stays 'started'.
 */
export interface ScanEventsTable {
  id: Generated<string>;
  scan_id: string | null;
  dataset_id: string | null;
  crawl_id: string | null;
  step: string;
  status: 'started' | 'completed' | 'skipped' | 'failed';
  attempt: number;
  workflow_id: string;
  run_id: string;
  activity_id: string;
  task_queue: string;
  worker_identity: string;
  started_at: ColumnType<Date, Date | string, never>;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string>;
  duration_ms: number | null;
  input_hash: string | null;
  output_hash: string | null;
  error_type: string | null;
  error_message: string | null;
  details: Json | null;
}
export type ScanEvent = Selectable<ScanEventsTable>;
export type NewScanEvent = Insertable<ScanEventsTable>;
