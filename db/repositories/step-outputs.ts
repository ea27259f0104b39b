// Queries on `step_outputs`, the idempotency ledger (see activities/ledger.ts).
import { sql } from 'kysely';
import type { DB } from '../database.js';
import type { NewStepOutput } from '../tables/step-outputs.js';

export async function findStepOutput(db: DB, stepKey: string) {
  return db.selectFrom('step_outputs').selectAll().where('step_key', '=', stepKey).executeTakeFirst();
}

/** Record a step's outputs, replacing a stale entry under the same key. */
export async function recordStepOutput(db: DB, row: NewStepOutput): Promise<void> {
  await db
    .insertInto('step_outputs')
    .values(row)
    .onConflict((c) => c.column('step_key').doUpdateSet({ output_hash: row.output_hash, result: row.result, created_at: sql`now()` } as never))
    .execute();
}

/** A scan's ledger entries, oldest first (`openmind history`). */
export async function stepOutputsOfScan(db: DB, scanId: string) {
  return db.selectFrom('step_outputs').selectAll().where('scan_id', '=', scanId).orderBy('created_at').execute();
}

/** Bytes downloaded so far for these datasets (crawl progress). */
export async function bytesFetched(db: DB, datasetIds: string[]): Promise<number> {
  if (datasetIds.length === 0) return 0;
  const row = await db
    .selectFrom('step_outputs')
    .select(sql<number>`sum((result->>'bytes')::bigint)`.as('b'))
    .where('dataset_id', 'in', datasetIds)
    .where('step', '=', 'fetchScan')
    .executeTakeFirst();
  return Number(row?.b ?? 0);
}

/** Every ledger entry's key, step and output hash (run comparisons). */
export async function ledgerEntries(db: DB) {
  return db.selectFrom('step_outputs').select(['step_key', 'step', 'output_hash']).orderBy('step_key').execute();
}
