// Queries on `datasets`: a dataset, where it comes from and the version last ingested.
import type { DB } from '../database.js';
import type { Dataset, NewDataset } from '../tables/datasets.js';

export async function findDataset(db: DB, datasetId: string): Promise<Dataset | undefined> {
  return db.selectFrom('datasets').selectAll().where('id', '=', datasetId).executeTakeFirst();
}

export async function getDataset(db: DB, datasetId: string): Promise<Dataset> {
  return db.selectFrom('datasets').selectAll().where('id', '=', datasetId).executeTakeFirstOrThrow();
}

/** Insert the dataset, or update `columns` of the existing row from `row`. */
async function upsertDataset(db: DB, row: NewDataset, columns: (keyof NewDataset)[]): Promise<void> {
  await db
    .insertInto('datasets')
    .values(row)
    .onConflict((c) => c.column('id').doUpdateSet((eb) => ({ ...Object.fromEntries(columns.map((k) => [k, eb.ref(`excluded.${k}` as any)])), updated_at: new Date() }) as any))
    .execute();
}

type DatasetSource = Pick<NewDataset, 'id' | 'source_uri' | 'version' | 'doi' | 'name' | 'metadata'>;

/** A local folder, ingested: a rerun updates where and what it is, and keeps its status. */
export async function upsertLocalDataset(db: DB, d: DatasetSource): Promise<void> {
  await upsertDataset(db, { ...d, source_kind: 'local', hexsha: null, status: 'ingested', failure_reason: null }, ['source_uri', 'version', 'doi', 'name', 'metadata']);
}

/** An OpenNeuro snapshot being registered (status back to 'registered' until markDatasetIngested). */
export async function registerOpenNeuroDataset(db: DB, d: DatasetSource & { hexsha: string | null }): Promise<void> {
  await upsertDataset(db, { ...d, source_kind: 'openneuro', status: 'registered', failure_reason: null }, ['source_uri', 'version', 'hexsha', 'doi', 'name', 'status', 'failure_reason', 'metadata']);
}

export async function markDatasetIngested(db: DB, datasetId: string): Promise<void> {
  await db.updateTable('datasets').set({ status: 'ingested', updated_at: new Date() }).where('id', '=', datasetId).execute();
}

export async function setDatasetMetadata(db: DB, datasetId: string, metadata: unknown): Promise<void> {
  await db.updateTable('datasets').set({ metadata: JSON.stringify(metadata) }).where('id', '=', datasetId).execute();
}

/** The datasets of these ids, by id. */
export async function datasetsWithIds(db: DB, datasetIds: string[]): Promise<Dataset[]> {
  if (!datasetIds.length) return [];
  return db.selectFrom('datasets').selectAll().where('id', 'in', datasetIds).orderBy('id').execute();
}

export async function markDatasetFinished(db: DB, datasetId: string, status: 'completed' | 'failed', reason?: string): Promise<void> {
  await db.updateTable('datasets').set({ status, failure_reason: reason ?? null, updated_at: new Date() }).where('id', '=', datasetId).execute();
}

/** A dataset that failed before ingest could register it (missing folder), so its failure is visible. */
export async function recordDatasetFailure(db: DB, d: { datasetId: string; sourceUri: string; sourceKind: 'local' | 'openneuro'; reason: string }): Promise<void> {
  await db
    .insertInto('datasets')
    .values({ id: d.datasetId, source_kind: d.sourceKind, source_uri: d.sourceUri, status: 'failed', failure_reason: d.reason, version: null, hexsha: null, doi: null, name: null, metadata: null })
    .onConflict((c) => c.column('id').doUpdateSet({ status: 'failed', failure_reason: d.reason, updated_at: new Date() }))
    .execute();
}
