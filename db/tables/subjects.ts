import type { Insertable, Selectable } from 'kysely';
import type { Json } from './json.js';

/** A participant of a dataset; `metadata` holds harmonized values with provenance. */
export interface SubjectsTable {
  dataset_id: string;
  subject_id: string;
  metadata: Json | null;
}
export type Subject = Selectable<SubjectsTable>;
export type NewSubject = Insertable<SubjectsTable>;
