// Queries on `scan_events`, the audit trail: a row per step attempt, opened when it starts and closed once.
import type { DB } from '../database.js';
import type { ScanEventsTable } from '../tables/scan-events.js';
import type { Insertable, Updateable } from 'kysely';

export type AttemptStart = Omit<Insertable<ScanEventsTable>, 'status'>;
export type AttemptEnd = Pick<Updateable<ScanEventsTable>, 'status' | 'input_hash' | 'output_hash' | 'error_type' | 'error_message' | 'details'>;

/** Open an attempt's row; returns its id. */
export async function openAttempt(db: DB, row: AttemptStart): Promise<string | undefined> {
  const inserted = await db.insertInto('scan_events').values({ ...row, status: 'started' }).returning('id').executeTakeFirst();
  return inserted?.id;
}

/** Close an open attempt (a row already closed stays as it is). */
export async function closeAttempt(db: DB, id: string, startedAt: Date, end: AttemptEnd): Promise<void> {
  const finishedAt = new Date();
  await db
    .updateTable('scan_events')
    .set({ ...end, finished_at: finishedAt, duration_ms: finishedAt.getTime() - startedAt.getTime() })
    .where('id', '=', id)
    .where('status', '=', 'started')
    .execute();
}
