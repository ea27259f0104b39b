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
