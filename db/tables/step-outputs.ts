import type { ColumnType, Insertable, Selectable } from 'kysely';
import type { Json } from './json.js';

/**
 * The idempotency ledger. step_key = hash(scan id, step, input hash, params hash, step version).
 * A step whose key is here, with its output files present and matching output_hash, is skipped.
 */
export interface StepOutputsTable {
  step_key: string;
  scan_id: string | null;
  dataset_id: string;
  step: string;
  step_version: string;
  input_hash: string;
  params_hash: string;
  output_hash: string;
  result: Json;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type StepOutput = Selectable<StepOutputsTable>;
export type NewStepOutput = Insertable<StepOutputsTable>;
