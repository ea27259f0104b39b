// Queries on `derived_files`: files a step made from a scan (masks, DWI maps, noise map), with provenance.
import { sql } from 'kysely';
import type { DB } from '../database.js';

export interface DerivedFileRecord {
  kind: string;
  path: string;
  sha256: string;
  modality: string | null;
  stepKey: string;
  provenance: unknown;
}

/** One file per (scan, kind): a rerun replaces the row. */
export async function upsertDerivedFile(db: DB, scanId: string, f: DerivedFileRecord): Promise<void> {
  const provenance = JSON.stringify(f.provenance);
  await db
    .insertInto('derived_files')
    .values({ scan_id: scanId, kind: f.kind, path: f.path, content_hash: f.sha256, step_key: f.stepKey, modality: f.modality, provenance })
    .onConflict((c) => c.columns(['scan_id', 'kind']).doUpdateSet({ path: f.path, content_hash: f.sha256, step_key: f.stepKey, provenance }))
    .execute();
}

export async function derivedFilesOf(db: DB, scanId: string, kinds: string[]) {
  return db.selectFrom('derived_files').select(['kind', 'path', 'content_hash']).where('scan_id', '=', scanId).where('kind', 'in', kinds).execute();
}

/** Derived files of these scans and/or of these kinds (both optional), by scan and kind. */
export async function derivedFilesWhere(db: DB, where: { scanIds?: string[]; kinds?: string[] }) {
  return db
    .selectFrom('derived_files')
    .select(['scan_id', 'kind', 'path', 'content_hash'])
    .$if(where.scanIds !== undefined, (q) => q.where('scan_id', 'in', where.scanIds!.length ? where.scanIds! : ['']))
    .$if(where.kinds !== undefined, (q) => q.where('kind', 'in', where.kinds!.length ? where.kinds! : ['']))
    .orderBy('scan_id')
    .orderBy('kind')
    .execute();
}

/** Every derived file of a scan, with provenance, in the order made. */
export async function derivedFilesOfScan(db: DB, scanId: string) {
  return db.selectFrom('derived_files').selectAll().where('scan_id', '=', scanId).orderBy('id').execute();
}

/** How the anatomy masks of these datasets (all, when none given) were made: brain method → count. */
export async function maskMethodCounts(db: DB, datasetIds?: string[]): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('derived_files')
    .innerJoin('scans', 'scans.id', 'derived_files.scan_id')
    .select((eb) => [sql<string>`coalesce(derived_files.provenance->'params'->>'brainMethod', 'dataset')`.as('method'), eb.fn.countAll<number>().as('n')])
    .where('derived_files.kind', '=', 'fb_mask')
    .$if(!!datasetIds, (q) => q.where('scans.dataset_id', 'in', datasetIds!.length ? datasetIds! : ['']))
    .groupBy(sql`1`)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.method, Number(r.n)]));
}
