import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';
import type { Json } from './json.js';
import type { Timestamps } from './common.js';

/** One image file. id = `<dataset id>:<BIDS path without extension>`, stable across reruns. */
export interface ScansTable extends Timestamps {
  id: string;
  dataset_id: string;
  subject_id: string;
  session_id: string;
  path: string;
  datatype: string;
  suffix: string;
  modality: string;
  kind: '3d' | 'dwi';
  file_path: string;
  bytes: number | null;
  annex_key: string | null;
  content_hash: string | null;
  dims: Json | null;
  voxel_size: Json | null;
  datatype_name: string | null;
  status: 'registered' | 'valid' | 'completed' | 'failed';
  failure_step: string | null;
  failure_reason: string | null;
  failure_message: string | null;
  metadata: Json | null;
  /** Source scan id for maps derived from a DWI series (T2w, ADC, FA). */
  derived_from: ColumnType<string | null, string | null | undefined, string | null>;
}
export type Scan = Selectable<ScansTable>;
export type NewScan = Insertable<ScansTable>;
export type ScanUpdate = Updateable<ScansTable>;
