import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { Json } from './json.js';

/** A file the pipeline made from a scan (mask, DWI map, noise map), with its provenance. */
export interface DerivedFilesTable {
  id: Generated<number>;
  scan_id: string;
  kind: string;
  path: string;
  content_hash: string;
  step_key: string;
  modality: string | null;
  provenance: Json;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type DerivedFile = Selectable<DerivedFilesTable>;
export type NewDerivedFile = Insertable<DerivedFilesTable>;
