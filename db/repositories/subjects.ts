// Queries on `subjects`: the participants of a dataset, with harmonized metadata.
import type { DB } from '../database.js';

const BATCH = 500;

/** Register participants (one statement per 500); those already there are kept as they are. */
export async function addSubjects(db: DB, datasetId: string, subjectIds: Iterable<string>): Promise<void> {
  const rows = [...subjectIds].map((subject_id) => ({ dataset_id: datasetId, subject_id, metadata: null }));
  for (let i = 0; i < rows.length; i += BATCH) await db.insertInto('subjects').values(rows.slice(i, i + BATCH)).onConflict((c) => c.doNothing()).execute();
}

export async function upsertSubjectMetadata(db: DB, datasetId: string, subjectId: string, metadata: unknown): Promise<void> {
  const json = JSON.stringify(metadata);
  await db
    .insertInto('subjects')
    .values({ dataset_id: datasetId, subject_id: subjectId, metadata: json })
    .onConflict((c) => c.columns(['dataset_id', 'subject_id']).doUpdateSet({ metadata: json }))
    .execute();
}
