// Queries on `rating_tasks` (a dataset × modality to rate, with the pictures shown) and `ratings`
// (append-only rating versions). Functions that must run together take the transaction as `db`.
import { sql } from 'kysely';
import type { DB } from '../database.js';
import type { NewRating } from '../tables/ratings.js';
import type { RatingRecord, RatingTaskInput, TaskScan } from '../../lib/rating/ratings.js';

// ---------------------------------------------------------------------------------------------
// Tasks

/** Register (or refresh) a task; metrics keep finite numbers only. */
export async function upsertRatingTask(db: DB, task: RatingTaskInput): Promise<void> {
  const scans = JSON.stringify(
    task.scans.map((s) => ({
      scanId: s.scanId,
      mosaicPath: s.mosaicPath,
      metrics: Object.fromEntries(Object.entries(s.metrics ?? {}).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))),
    })),
  );
  await db
    .insertInto('rating_tasks')
    .values({ dataset_id: task.datasetId, modality: task.modality, montage_path: task.montagePath, scans })
    .onConflict((oc) => oc.columns(['dataset_id', 'modality']).doUpdateSet({ montage_path: task.montagePath, scans, updated_at: new Date() }))
    .execute();
}

/** The task, or null. `lock`: hold its row until the transaction ends (submissions to it queue). */
export async function getRatingTask(db: DB, datasetId: string, modality: string, opts: { lock?: boolean } = {}): Promise<RatingTaskInput | null> {
  const row = await db
    .selectFrom('rating_tasks')
    .selectAll()
    .where('dataset_id', '=', datasetId)
    .where('modality', '=', modality)
    .$if(!!opts.lock, (q) => q.forUpdate())
    .executeTakeFirst();
  return row ? { datasetId: row.dataset_id, modality: row.modality, montagePath: row.montage_path, scans: row.scans as TaskScan[] } : null;
}

/** Every task with this rater's current score (null when not rated yet). */
export async function tasksForRater(db: DB, raterId: number): Promise<{ datasetId: string; modality: string; myScore: number | null; myVersion: number | null }[]> {
  const rows = await db
    .selectFrom('rating_tasks as t')
    .leftJoin(
      (eb) =>
        eb
          .selectFrom('ratings')
          .distinctOn(['dataset_id', 'modality'])
          .select(['dataset_id', 'modality', 'score', 'version'])
          .where('rater_id', '=', raterId)
          .orderBy('dataset_id')
          .orderBy('modality')
          .orderBy('version', 'desc')
          .as('r'),
      (join) => join.onRef('r.dataset_id', '=', 't.dataset_id').onRef('r.modality', '=', 't.modality'),
    )
    .select(['t.dataset_id', 't.modality', 'r.score', 'r.version'])
    .orderBy('t.dataset_id')
    .orderBy('t.modality')
    .execute();
  return rows.map((r) => ({ datasetId: r.dataset_id, modality: r.modality, myScore: r.score ?? null, myVersion: r.version ?? null }));
}

// ---------------------------------------------------------------------------------------------
// Ratings

type RatingRow = {
  id: number;
  submission_id: string;
  rater_id: number;
  name: string;
  dataset_id: string;
  modality: string;
  version: number;
  score: number;
  artifacts: any;
  comment: string;
  images_shown: any;
  source: 'web' | 'import';
  created_at: Date;
};

function recordOf(r: RatingRow): RatingRecord {
  return {
    id: Number(r.id),
    submissionId: r.submission_id,
    raterId: r.rater_id,
    rater: r.name,
    datasetId: r.dataset_id,
    modality: r.modality,
    version: r.version,
    score: r.score,
    artifacts: r.artifacts,
    comment: r.comment,
    imagesShown: r.images_shown,
    source: r.source,
    createdAt: new Date(r.created_at).toISOString(),
  };
}

function ratingsQuery(db: DB) {
  return db
    .selectFrom('ratings')
    .innerJoin('raters', 'raters.id', 'ratings.rater_id')
    .select([
      'ratings.id',
      'ratings.submission_id',
      'ratings.rater_id',
      'raters.name',
      'ratings.dataset_id',
      'ratings.modality',
      'ratings.version',
      'ratings.score',
      'ratings.artifacts',
      'ratings.comment',
      'ratings.images_shown',
      'ratings.source',
      'ratings.created_at',
    ]);
}

/** A unique constraint refused the write (e.g. `ratings_submission_uq`). */
export function isUniqueViolation(err: unknown): err is { code: string; constraint?: string } {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === '23505';
}

export async function insertRating(db: DB, row: NewRating): Promise<number> {
  return Number((await db.insertInto('ratings').values(row).returning('id').executeTakeFirstOrThrow()).id);
}

export async function getRating(db: DB, ratingId: number): Promise<RatingRecord> {
  return recordOf((await ratingsQuery(db).where('ratings.id', '=', ratingId).executeTakeFirstOrThrow()) as RatingRow);
}

/** Who rated what in rating `ratingId` (undefined: no such rating). */
export async function ratingTarget(db: DB, ratingId: number) {
  return db.selectFrom('ratings').select(['rater_id', 'dataset_id', 'modality']).where('id', '=', ratingId).executeTakeFirst();
}

export async function ratingWithSubmission(db: DB, submissionId: string) {
  return db
    .selectFrom('ratings')
    .select(['id', 'rater_id', 'dataset_id', 'modality', 'content_hash'])
    .where('submission_id', '=', submissionId)
    .executeTakeFirst();
}

/** A rater's latest version of a dataset × modality. */
export async function latestRatingOf(db: DB, raterId: number, datasetId: string, modality: string) {
  return db
    .selectFrom('ratings')
    .select(['id', 'version', 'content_hash'])
    .where('rater_id', '=', raterId)
    .where('dataset_id', '=', datasetId)
    .where('modality', '=', modality)
    .orderBy('version', 'desc')
    .executeTakeFirst();
}

/** Stored ratings with this submission id, or with this rater × dataset × modality × version. */
export async function ratingsClashingWith(db: DB, r: { submissionId: string; raterId: number; datasetId: string; modality: string; version: number }) {
  return db
    .selectFrom('ratings')
    .select(['submission_id', 'rater_id', 'dataset_id', 'modality', 'version', 'content_hash'])
    .where((eb) =>
      eb.or([
        eb('submission_id', '=', r.submissionId),
        eb.and([eb('rater_id', '=', r.raterId), eb('dataset_id', '=', r.datasetId), eb('modality', '=', r.modality), eb('version', '=', r.version)]),
      ]),
    )
    .execute();
}

/** Every version of one rater's ratings of a dataset × modality, oldest first. */
export async function ratingHistory(db: DB, raterId: number, datasetId: string, modality: string): Promise<RatingRecord[]> {
  const rows = await ratingsQuery(db)
    .where('ratings.rater_id', '=', raterId)
    .where('ratings.dataset_id', '=', datasetId)
    .where('ratings.modality', '=', modality)
    .orderBy('ratings.version')
    .execute();
  return rows.map((r) => recordOf(r as RatingRow));
}

/** Each rater's latest version for a dataset × modality, with when that rater first rated it. */
export async function currentRatings(db: DB, datasetId: string, modality: string): Promise<(RatingRecord & { firstRatedAt: string })[]> {
  const rows = await ratingsQuery(db)
    .select(sql<Date>`min(ratings.created_at) over (partition by ratings.rater_id)`.as('first_rated_at'))
    .select(sql<number>`row_number() over (partition by ratings.rater_id order by ratings.version desc)`.as('recency'))
    .where('ratings.dataset_id', '=', datasetId)
    .where('ratings.modality', '=', modality)
    .execute();
  return rows
    .filter((r) => Number(r.recency) === 1)
    .map((r) => ({ ...recordOf(r as unknown as RatingRow), firstRatedAt: new Date(r.first_rated_at).toISOString() }))
    .sort((a, b) => a.firstRatedAt.localeCompare(b.firstRatedAt) || a.rater.localeCompare(b.rater));
}

/** All rating versions (`raterId`: only that rater's), ordered by dataset, modality, rater, version. */
export async function allRatings(db: DB, opts: { raterId?: number } = {}): Promise<RatingRecord[]> {
  const rows = await ratingsQuery(db)
    .$if(opts.raterId !== undefined, (q) => q.where('ratings.rater_id', '=', opts.raterId!))
    .orderBy('ratings.dataset_id').orderBy('ratings.modality').orderBy('raters.name').orderBy('ratings.version').execute();
  return rows.map((r) => recordOf(r as RatingRow));
}
