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

/** Every attempt of a scan's steps, oldest first (`openmind history`). */
export async function eventsOfScan(db: DB, scanId: string) {
  return db.selectFrom('scan_events').selectAll().where('scan_id', '=', scanId).orderBy('id').execute();
}

/** Attempts per scan and outcome in a dataset (the demo's table). */
export async function attemptCountsOfDataset(db: DB, datasetId: string) {
  return db
    .selectFrom('scan_events')
    .select((eb) => ['scan_id', 'status', eb.fn.countAll<number>().as('n')])
    .where('dataset_id', '=', datasetId)
    .groupBy(['scan_id', 'status'])
    .execute();
}

/** Attempts and their summed time per step and outcome (the metrics endpoint). */
export async function attemptTotals(db: DB) {
  return db
    .selectFrom('scan_events')
    .select((eb) => ['step', 'status', eb.fn.countAll<number>().as('n'), eb.fn.coalesce(eb.fn.sum<number>('duration_ms'), eb.lit(0)).as('ms')])
    .groupBy(['step', 'status'])
    .execute();
}

/** Attempts of one step and their summed time (benchmarks). */
export async function attemptStats(db: DB, step: string) {
  return db
    .selectFrom('scan_events')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('duration_ms').as('ms')])
    .where('step', '=', step)
    .executeTakeFirstOrThrow();
}
