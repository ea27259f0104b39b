import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Json } from './json.js';
import type { Timestamps } from './common.js';

/** A dataset and the version last ingested (OpenNeuro snapshot tag + hexsha, or a listing hash). */
export interface DatasetsTable extends Timestamps {
  id: string;
  source_kind: 'local' | 'openneuro';
  source_uri: string;
  version: string | null;
  hexsha: string | null;
  doi: string | null;
  name: string | null;
  status: 'registered' | 'ingested' | 'completed' | 'failed';
  failure_reason: string | null;
  metadata: Json | null;
}
export type Dataset = Selectable<DatasetsTable>;
export type NewDataset = Insertable<DatasetsTable>;
export type DatasetUpdate = Updateable<DatasetsTable>;
