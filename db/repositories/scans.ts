// Queries on `scans`: one image (acquired or derived) and its status.
import type { DB } from '../database.js';
import type { NewScan, Scan } from '../tables/scans.js';

export async function getScan(db: DB, scanId: string): Promise<Scan> {
  return db.selectFrom('scans').selectAll().where('id', '=', scanId).executeTakeFirstOrThrow();
}

/** Insert a scan row, or replace every column of the existing one (derived maps are re-derived in place). */
export async function upsertScan(db: DB, row: NewScan): Promise<void> {
  const { id: _id, created_at: _created, ...columns } = row;
  await db
    .insertInto('scans')
    .values(row)
    .onConflict((c) => c.column('id').doUpdateSet({ ...columns, updated_at: new Date() }))
    .execute();
}

/** What validation learnt about the file; a completed scan keeps its status. */
export async function recordScanValidation(db: DB, scanId: string, v: { sha256: string; bytes: number; dims: number[]; voxelSize: number[]; datatype: string }): Promise<void> {
  await db
    .updateTable('scans')
    .set({ content_hash: v.sha256, bytes: v.bytes, dims: JSON.stringify(v.dims), voxel_size: JSON.stringify(v.voxelSize), datatype_name: v.datatype, status: 'valid', updated_at: new Date() })
    .where('id', '=', scanId)
    .where('status', 'in', ['registered', 'valid', 'failed'])
    .execute();
}

export async function markScanCompleted(db: DB, scanId: string): Promise<void> {
  await db
    .updateTable('scans')
    .set({ status: 'completed', failure_step: null, failure_reason: null, failure_message: null, updated_at: new Date() })
    .where('id', '=', scanId)
    .execute();
}

export async function markScanFailed(db: DB, scanId: string, failure: { step: string; reason: string; message: string }): Promise<void> {
  await db
    .updateTable('scans')
    .set({ status: 'failed', failure_step: failure.step, failure_reason: failure.reason, failure_message: failure.message.slice(0, 4000), updated_at: new Date() })
    .where('id', '=', scanId)
    .execute();
}

export async function scanStatusesOf(db: DB, datasetId: string) {
  return db.selectFrom('scans').select(['id', 'status', 'failure_step', 'failure_reason', 'failure_message']).where('dataset_id', '=', datasetId).execute();
}

// ---------------------------------------------------------------------------------------------
// Registration, listings and counts (ingest, export, quality, reports)

/** Annex key (or size:mtime for local files) of each scan of a dataset, by id. */
export async function annexKeysOf(db: DB, datasetId: string): Promise<Map<string, string | null>> {
  const rows = await db.selectFrom('scans').select(['id', 'annex_key']).where('dataset_id', '=', datasetId).execute();
  return new Map(rows.map((r) => [r.id, r.annex_key]));
}

/**
 * Register scans, one statement per 500 rows. A scan already there takes `columns` from the new
 * row (default: every column), so a changed file starts over.
 */
export async function registerScans(db: DB, rows: NewScan[], opts: { columns?: (keyof NewScan)[]; onBatch?: (done: number, total: number) => void } = {}): Promise<void> {
  const BATCH = 500;
  for (let i = 0; i < rows.length; i += BATCH) {
    const batch = rows.slice(i, i + BATCH);
    const columns = opts.columns ?? (Object.keys(batch[0]).filter((k) => k !== 'id') as (keyof NewScan)[]);
    await db
      .insertInto('scans')
      .values(batch)
      .onConflict((c) => c.column('id').doUpdateSet((eb) => ({ ...Object.fromEntries(columns.map((k) => [k, eb.ref(`excluded.${k}` as any)])), updated_at: new Date() }) as any))
      .execute();
    opts.onBatch?.(Math.min(i + BATCH, rows.length), rows.length);
  }
}

export async function countScansOf(db: DB, datasetId: string): Promise<number> {
  const r = await db.selectFrom('scans').select((eb) => eb.fn.countAll<number>().as('n')).where('dataset_id', '=', datasetId).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** A page of a dataset's acquired scans (not derived maps, not files the listing refused), in id order. */
export async function scanPage(db: DB, datasetId: string, page: { after?: string; limit: number }) {
  return db
    .selectFrom('scans')
    .select(['id', 'dataset_id', 'path', 'kind', 'modality'])
    .where('dataset_id', '=', datasetId)
    .where('derived_from', 'is', null)
    .where((eb) => eb.or([eb('failure_step', 'is', null), eb('failure_step', '!=', 'ingestDataset')]))
    .$if(!!page.after, (q) => q.where('id', '>', page.after!))
    .orderBy('id')
    .limit(page.limit)
    .execute();
}

/** Every scan of a dataset (of one modality when given), in id order. */
export async function scansOf(db: DB, datasetId: string, opts: { modality?: string } = {}): Promise<Scan[]> {
  return db
    .selectFrom('scans')
    .selectAll()
    .where('dataset_id', '=', datasetId)
    .$if(!!opts.modality, (q) => q.where('modality', '=', opts.modality!))
    .orderBy('id')
    .execute();
}

/** Completed 3D images (of one dataset, or all), in id order: what is exported and rated. */
export async function completed3dScans(db: DB, datasetId?: string) {
  return db
    .selectFrom('scans')
    .select(['id', 'dataset_id', 'path', 'file_path', 'content_hash', 'modality', 'metadata', 'derived_from'])
    .where('status', '=', 'completed')
    .where('kind', '=', '3d')
    .$if(datasetId !== undefined, (q) => q.where('dataset_id', '=', datasetId!))
    .orderBy('id')
    .execute();
}

export async function setScanMetadata(db: DB, scanId: string, metadata: unknown): Promise<void> {
  await db.updateTable('scans').set({ metadata: JSON.stringify(metadata) }).where('id', '=', scanId).execute();
}

/** Scans by status (of these datasets, or all). */
export async function scanStatusCounts(db: DB, datasetIds?: string[]): Promise<{ status: string; n: number }[]> {
  const rows = await db
    .selectFrom('scans')
    .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
    .$if(datasetIds !== undefined, (q) => q.where('dataset_id', 'in', datasetIds!.length ? datasetIds! : ['']))
    .groupBy('status')
    .execute();
  return rows.map((r) => ({ status: r.status, n: Number(r.n) }));
}

/** Failed scans by step and reason. */
export async function scanFailureCounts(db: DB): Promise<{ failure_step: string | null; failure_reason: string | null; n: number }[]> {
  const rows = await db
    .selectFrom('scans')
    .select((eb) => ['failure_step', 'failure_reason', eb.fn.countAll<number>().as('n')])
    .where('status', '=', 'failed')
    .groupBy(['failure_step', 'failure_reason'])
    .execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/** What a run leaves per scan (no timestamps): ids, statuses, hashes, in id order. */
export async function scanOutcomes(db: DB) {
  return db.selectFrom('scans').select(['id', 'status', 'content_hash', 'derived_from', 'failure_reason']).orderBy('id').execute();
}

export async function findScan(db: DB, scanId: string): Promise<Scan | null> {
  return (await db.selectFrom('scans').selectAll().where('id', '=', scanId).executeTakeFirst()) ?? null;
}
