// Queries on `sessions`: the sessions of each participant ('' when a dataset has none).
import type { DB } from '../database.js';

const BATCH = 500;

/** Register sessions (one statement per 500); those already there are kept as they are. */
export async function addSessions(db: DB, datasetId: string, sessions: Iterable<{ subjectId: string; sessionId: string }>): Promise<void> {
  const rows = [...sessions].map((s) => ({ dataset_id: datasetId, subject_id: s.subjectId, session_id: s.sessionId, metadata: null }));
  for (let i = 0; i < rows.length; i += BATCH) await db.insertInto('sessions').values(rows.slice(i, i + BATCH)).onConflict((c) => c.doNothing()).execute();
}
