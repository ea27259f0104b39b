import type { Insertable, Selectable } from 'kysely';
import type { Json } from './json.js';

/** A session of a participant ('' when the dataset has no sessions). */
export interface SessionsTable {
  dataset_id: string;
  subject_id: string;
  session_id: string;
  metadata: Json | null;
}
export type Session = Selectable<SessionsTable>;
export type NewSession = Insertable<SessionsTable>;
