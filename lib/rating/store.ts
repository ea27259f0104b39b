// The rating store: raters (token hashes only), rating tasks (dataset × modality with the pictures
// to show), and append-only rating versions, with export/import as CSV or JSON.
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { DB } from '../../db/database.js';
import type { Rater } from '../../db/tables/raters.js';
import { aggregateRatings, type Aggregate } from '../quality/aggregate.js';
import { predictedScoreOf } from '../quality/store.js';
import { parseCsvRecords, toCsvText } from './csv.js';
import { RatingError } from './errors.js';

/** The artifact checklist, in the order the page shows it. */
export const ARTIFACT_KINDS = ['noise', 'motion', 'ghosting', 'ringing', 'bias_field', 'wrap_around', 'defacing_damage', 'other'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export const SCORE_LABELS: Record<number, string> = { 1: 'excellent', 2: 'good', 3: 'acceptable', 4: 'poor', 5: 'unusable' };

export const EXPORT_FORMAT = 'openmind-ratings/1';
const MAX_COMMENT = 4000;

export interface TaskScan {
  scanId: string;
  mosaicPath: string;
  metrics: Record<string, number>;
}

export interface RatingTaskInput {
  datasetId: string;
  modality: string;
  montagePath: string;
  scans: TaskScan[];
}

/** One stored rating version, as the hook, the API and the export see it. */
export interface RatingRecord {
  id: number;
  submissionId: string;
  raterId: number;
  rater: string;
  datasetId: string;
  modality: string;
  version: number;
  score: number;
  artifacts: ArtifactKind[];
  comment: string;
  imagesShown: string[];
  source: 'web' | 'import';
  createdAt: string;
}

export interface SubmitRatingInput {
  raterId: number;
  datasetId: string;
  modality: string;
  score: unknown;
  artifacts?: unknown;
  comment?: unknown;
  /** Idempotency key chosen by the client, one per intended submission. */
  submissionId: unknown;
  imagesShown?: string[];
  /** The rating id this submission revises: it must be the rater's own. */
  revises?: unknown;
}

// ---------------------------------------------------------------------------------------------
// Raters and tokens

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

/** sha256 of a token: tokens are 256-bit random strings, so a fast hash is enough (no dictionary to guess from). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function newToken(): string {
  return `om_${randomBytes(32).toString('base64url')}`;
}

function checkName(name: string): string {
  const trimmed = String(name ?? '').trim();
  if (!NAME_PATTERN.test(trimmed)) throw new RatingError('invalid_name', 'a rater name is 1-64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit');
  return trimmed;
}

/**
 * Create a rater (or give a token to a loopback-only rater of that name) and return the new token.
 * The token is shown once; only its hash is stored. `rotate` replaces an existing token.
 */
export async function addRater(db: DB, name: string, opts: { rotate?: boolean } = {}): Promise<string> {
  const clean = checkName(name);
  const token = newToken();
  const hash = hashToken(token);
  const existing = await db.selectFrom('raters').selectAll().where('name', '=', clean).executeTakeFirst();
  if (existing?.token_hash && !opts.rotate) throw new RatingError('rater_exists', `rater ${clean} already has a token (rotate it to issue a new one)`);
  if (existing) await db.updateTable('raters').set({ token_hash: hash }).where('id', '=', existing.id).execute();
  else await db.insertInto('raters').values({ name: clean, token_hash: hash }).execute();
  return token;
}

export async function raterByToken(db: DB, token: string): Promise<Rater | null> {
  if (typeof token !== 'string' || token.length < 16 || token.length > 200) return null;
  return (await db.selectFrom('raters').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirst()) ?? null;
}

/** A rater who names themself (loopback mode). A name that has a token must sign in with it. */
export async function namedRater(db: DB, name: string): Promise<Rater> {
  const clean = checkName(name);
  await db.insertInto('raters').values({ name: clean, token_hash: null }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const rater = await db.selectFrom('raters').selectAll().where('name', '=', clean).executeTakeFirstOrThrow();
  if (rater.token_hash) throw new RatingError('token_required', `rater ${clean} has a token: sign in with it`);
  return rater;
}

export async function listRaters(db: DB): Promise<{ id: number; name: string; hasToken: boolean }[]> {
  const rows = await db.selectFrom('raters').select(['id', 'name', 'token_hash']).orderBy('name').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, hasToken: !!r.token_hash }));
}

// ---------------------------------------------------------------------------------------------
// Tasks

/** Register (or refresh) a dataset × modality to rate with the pictures and metrics to show. */
export async function registerRatingTask(db: DB, input: RatingTaskInput): Promise<void> {
  if (!input.datasetId || !input.modality) throw new RatingError('invalid_input', 'a rating task needs a datasetId and a modality');
  const scans = JSON.stringify(
    input.scans.map((s) => ({
      scanId: s.scanId,
      mosaicPath: s.mosaicPath,
      metrics: Object.fromEntries(Object.entries(s.metrics ?? {}).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))),
    })),
  );
  await db
    .insertInto('rating_tasks')
    .values({ dataset_id: input.datasetId, modality: input.modality, montage_path: input.montagePath, scans })
    .onConflict((oc) => oc.columns(['dataset_id', 'modality']).doUpdateSet({ montage_path: input.montagePath, scans, updated_at: new Date() }))
    .execute();
}

export async function getRatingTask(db: DB, datasetId: string, modality: string): Promise<RatingTaskInput | null> {
  const row = await db.selectFrom('rating_tasks').selectAll().where('dataset_id', '=', datasetId).where('modality', '=', modality).executeTakeFirst();
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

/** The first dataset × modality (by id) that this rater has not rated, and how many are left. */
export async function nextTaskFor(db: DB, raterId: number): Promise<{ task: RatingTaskInput | null; remaining: number; total: number }> {
  const tasks = await tasksForRater(db, raterId);
  const open = tasks.filter((t) => t.myScore === null);
  const task = open.length ? await getRatingTask(db, open[0].datasetId, open[0].modality) : null;
  return { task, remaining: open.length, total: tasks.length };
}

/** Every picture path a task shows (montage first). */
export function imagesOfTask(task: RatingTaskInput): string[] {
  return [task.montagePath, ...task.scans.map((s) => s.mosaicPath)].filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// Ratings

function contentHash(score: number, artifacts: string[], comment: string): string {
  return createHash('sha256').update(JSON.stringify({ score, artifacts, comment })).digest('hex');
}

function checkScore(score: unknown): number {
  if (typeof score !== 'number' || !Number.isInteger(score) || score < 1 || score > 5) {
    throw new RatingError('invalid_score', `score must be an integer from 1 (best) to 5 (worst), got ${JSON.stringify(score)}`);
  }
  return score;
}

function checkArtifacts(artifacts: unknown): ArtifactKind[] {
  if (artifacts === undefined || artifacts === null) return [];
  if (!Array.isArray(artifacts)) throw new RatingError('invalid_input', 'artifacts must be a list');
  for (const a of artifacts) {
    if (!ARTIFACT_KINDS.includes(a)) throw new RatingError('invalid_input', `unknown artifact ${JSON.stringify(a)}; one of ${ARTIFACT_KINDS.join(', ')}`);
  }
  return ARTIFACT_KINDS.filter((k) => artifacts.includes(k));
}

function checkComment(comment: unknown): string {
  if (comment === undefined || comment === null) return '';
  if (typeof comment !== 'string') throw new RatingError('invalid_input', 'comment must be text');
  if (comment.length > MAX_COMMENT) throw new RatingError('invalid_input', `comment is longer than ${MAX_COMMENT} characters`);
  return comment.trim();
}

function checkSubmissionId(id: unknown): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_.:-]{8,128}$/.test(id)) {
    throw new RatingError('invalid_input', 'submissionId must be 8-128 letters, digits or _.:- (one per intended submission)');
  }
  return id;
}

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

function isUniqueViolation(err: unknown): err is { code: string; constraint?: string } {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === '23505';
}

/**
 * Store a rating as the rater's next version for the dataset × modality. In one transaction that
 * locks the task row, so concurrent submissions queue: a replayed submission id is
 * `duplicate_submission`, the same content as the current version `duplicate_content`; the unique
 * constraints catch anything that slips past (`concurrent_submission`). Nothing is counted twice.
 */
export async function submitRating(db: DB, input: SubmitRatingInput): Promise<RatingRecord> {
  const score = checkScore(input.score);
  const artifacts = checkArtifacts(input.artifacts);
  const comment = checkComment(input.comment);
  const submissionId = checkSubmissionId(input.submissionId);
  if (typeof input.datasetId !== 'string' || !input.datasetId || typeof input.modality !== 'string' || !input.modality) {
    throw new RatingError('invalid_input', 'a rating names its datasetId and modality');
  }
  const hash = contentHash(score, artifacts, comment);
  try {
    const id = await db.transaction().execute(async (trx) => {
      const task = await trx
        .selectFrom('rating_tasks')
        .select(['montage_path', 'scans'])
        .where('dataset_id', '=', input.datasetId)
        .where('modality', '=', input.modality)
        .forUpdate()
        .executeTakeFirst();
      if (!task) throw new RatingError('unknown_task', `no rating task for dataset ${input.datasetId} × ${input.modality}`);
      const replay = await trx.selectFrom('ratings').select(['id', 'rater_id']).where('submission_id', '=', submissionId).executeTakeFirst();
      if (replay) {
        throw new RatingError('duplicate_submission', 'this submission was already stored (same submissionId); it is not counted again', {
          ratingId: replay.rater_id === input.raterId ? Number(replay.id) : undefined,
        });
      }
      const latest = await trx
        .selectFrom('ratings')
        .select(['id', 'version', 'content_hash'])
        .where('rater_id', '=', input.raterId)
        .where('dataset_id', '=', input.datasetId)
        .where('modality', '=', input.modality)
        .orderBy('version', 'desc')
        .executeTakeFirst();
      if (input.revises !== undefined && input.revises !== null) await checkRevisable(trx as unknown as DB, input, Number(input.revises));
      if (latest && latest.content_hash === hash) {
        throw new RatingError('duplicate_content', 'your current rating already has this score, checklist and comment; nothing new to store', { ratingId: Number(latest.id) });
      }
      const shownOfTask = imagesOfTask({ datasetId: input.datasetId, modality: input.modality, montagePath: task.montage_path, scans: task.scans as TaskScan[] });
      const imagesShown = input.imagesShown?.length ? input.imagesShown.filter((p) => shownOfTask.includes(p)) : shownOfTask;
      const inserted = await trx
        .insertInto('ratings')
        .values({
          submission_id: submissionId,
          rater_id: input.raterId,
          dataset_id: input.datasetId,
          modality: input.modality,
          version: (latest?.version ?? 0) + 1,
          score,
          artifacts: JSON.stringify(artifacts),
          comment,
          images_shown: JSON.stringify(imagesShown),
          content_hash: hash,
          source: 'web',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(inserted.id);
    });
    return recordOf((await ratingsQuery(db).where('ratings.id', '=', id).executeTakeFirstOrThrow()) as RatingRow);
  } catch (err) {
    if (isUniqueViolation(err)) {
      if (err.constraint === 'ratings_submission_uq') throw new RatingError('duplicate_submission', 'this submission was already stored (same submissionId); it is not counted again');
      throw new RatingError('concurrent_submission', 'another submission for this rating was stored at the same moment; reload and try again');
    }
    throw err;
  }
}

/** A revision must name one of the rater's own ratings of the same dataset × modality. */
async function checkRevisable(db: DB, input: SubmitRatingInput, ratingId: number): Promise<void> {
  const target = Number.isInteger(ratingId)
    ? await db.selectFrom('ratings').select(['rater_id', 'dataset_id', 'modality']).where('id', '=', ratingId).executeTakeFirst()
    : undefined;
  if (!target) throw new RatingError('not_found', `no rating ${ratingId} to revise`);
  if (target.rater_id !== input.raterId) throw new RatingError('not_your_rating', 'you can revise only your own ratings');
  if (target.dataset_id !== input.datasetId || target.modality !== input.modality) {
    throw new RatingError('invalid_input', `rating ${ratingId} is for another dataset × modality`);
  }
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

/** The aggregation rule over the current ratings of a dataset × modality. */
export async function aggregateTask(db: DB, datasetId: string, modality: string): Promise<Aggregate> {
  const current = await currentRatings(db, datasetId, modality);
  return aggregateRatings(current.map((r) => ({ rater: r.rater, score: r.score, firstRatedAt: r.firstRatedAt })));
}

/**
 * The score OpenMind reports for a dataset × modality: the raters' when final, else the stored
 * prediction (marked predicted), else none.
 */
export async function qualityScoreOf(
  db: DB,
  datasetId: string,
  modality: string,
): Promise<{ score: number | null; source: 'raters' | 'predicted' | 'none'; aggregate: Aggregate; model?: string }> {
  const aggregate = await aggregateTask(db, datasetId, modality);
  if (aggregate.status === 'final' && aggregate.score !== undefined) return { score: aggregate.score, source: 'raters', aggregate };
  const predicted = await predictedScoreOf(db, datasetId, modality);
  if (predicted) return { score: predicted.score, source: 'predicted', aggregate, model: predicted.model };
  return { score: null, source: 'none', aggregate };
}

// ---------------------------------------------------------------------------------------------
// Export / import

const CSV_COLUMNS = ['submission_id', 'rater', 'dataset_id', 'modality', 'version', 'score', 'artifacts', 'comment', 'images_shown', 'source', 'created_at'] as const;

export interface ExportedRating {
  submission_id: string;
  rater: string;
  dataset_id: string;
  modality: string;
  version: number;
  score: number;
  artifacts: string[];
  comment: string;
  images_shown: string[];
  source: 'web' | 'import';
  created_at: string;
}

/** All rating versions (or only the current ones), ordered by dataset, modality, rater, version. */
export async function listRatings(db: DB, opts: { current?: boolean } = {}): Promise<ExportedRating[]> {
  const rows = (await ratingsQuery(db).orderBy('ratings.dataset_id').orderBy('ratings.modality').orderBy('raters.name').orderBy('ratings.version').execute()).map((r) =>
    recordOf(r as RatingRow),
  );
  const latest = new Map<string, number>();
  for (const r of rows) latest.set(`${r.raterId}|${r.datasetId}|${r.modality}`, Math.max(latest.get(`${r.raterId}|${r.datasetId}|${r.modality}`) ?? 0, r.version));
  return rows
    .filter((r) => !opts.current || latest.get(`${r.raterId}|${r.datasetId}|${r.modality}`) === r.version)
    .map((r) => ({
      submission_id: r.submissionId,
      rater: r.rater,
      dataset_id: r.datasetId,
      modality: r.modality,
      version: r.version,
      score: r.score,
      artifacts: r.artifacts,
      comment: r.comment,
      images_shown: r.imagesShown,
      source: r.source,
      created_at: r.createdAt,
    }));
}

export async function exportRatings(db: DB, opts: { format: 'csv' | 'json'; current?: boolean }): Promise<string> {
  const ratings = await listRatings(db, { current: opts.current });
  if (opts.format === 'json') return JSON.stringify({ format: EXPORT_FORMAT, current: !!opts.current, ratings }, null, 2) + '\n';
  return toCsvText(
    [...CSV_COLUMNS],
    // images_shown as a JSON list: paths may hold any character; artifacts are fixed words.
    ratings.map((r) => [r.submission_id, r.rater, r.dataset_id, r.modality, String(r.version), String(r.score), r.artifacts.join(';'), r.comment, JSON.stringify(r.images_shown), r.source, r.created_at]),
  );
}

function parseImageList(text: string): string[] {
  if (!text) return [];
  if (text.startsWith('[')) {
    try {
      const list = JSON.parse(text);
      if (Array.isArray(list)) return list.map(String);
    } catch {
      /* not JSON: a ;-separated list */
    }
  }
  return text.split(';');
}

/** Rows of an export (JSON object or array, or CSV text) as ratings. */
export function parseRatingsExport(input: string | object): ExportedRating[] {
  let raw: Record<string, unknown>[];
  if (typeof input === 'string' && !/^\s*[[{]/.test(input)) {
    raw = parseCsvRecords(input).map((r) => ({
      ...r,
      version: Number(r.version),
      score: Number(r.score),
      artifacts: r.artifacts ? r.artifacts.split(';') : [],
      images_shown: parseImageList(r.images_shown),
    }));
  } else {
    let parsed: unknown;
    try {
      parsed = typeof input === 'string' ? JSON.parse(input) : input;
    } catch {
      throw new RatingError('invalid_input', 'the import is neither CSV nor valid JSON');
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { ratings?: unknown })?.ratings;
    if (!Array.isArray(list)) throw new RatingError('invalid_input', 'a JSON import is a list of ratings or {"ratings": [...]}');
    raw = list as Record<string, unknown>[];
  }
  return raw.map((r, i) => {
    const where = `row ${i + 1}`;
    const text = (k: string) => {
      if (typeof r[k] !== 'string' || !(r[k] as string).length) throw new RatingError('invalid_input', `${where}: ${k} is missing`);
      return r[k] as string;
    };
    try {
      const createdAt = new Date(text('created_at'));
      if (Number.isNaN(createdAt.getTime())) throw new RatingError('invalid_input', `${where}: created_at is not a date`);
      const version = Number(r.version);
      if (!Number.isInteger(version) || version < 1) throw new RatingError('invalid_input', `${where}: version must be a positive integer`);
      return {
        submission_id: checkSubmissionId(r.submission_id),
        rater: checkName(text('rater')),
        dataset_id: text('dataset_id'),
        modality: text('modality'),
        version,
        score: checkScore(r.score),
        artifacts: checkArtifacts(r.artifacts),
        comment: checkComment(r.comment),
        images_shown: Array.isArray(r.images_shown) ? r.images_shown.map(String) : [],
        source: r.source === 'web' ? 'web' : 'import',
        created_at: createdAt.toISOString(),
      };
    } catch (err) {
      if (err instanceof RatingError && !err.message.startsWith(where)) throw new RatingError(err.reason, `${where}: ${err.message}`);
      throw err;
    }
  });
}

/**
 * Import exported ratings, all or nothing. A row whose submission is already stored with the
 * same content is skipped (so importing twice changes nothing); a row that contradicts a stored
 * one is an `import_conflict`. Raters are matched by name and created (without token) when
 * missing. `onlyRaterId` restricts the import to that rater's own rows (the web tool).
 */
export async function importRatings(db: DB, input: string | object, opts: { onlyRaterId?: number } = {}): Promise<{ inserted: number; unchanged: number }> {
  const rows = parseRatingsExport(input);
  return db.transaction().execute(async (trx) => {
    let inserted = 0;
    let unchanged = 0;
    const raterIds = new Map<string, number>();
    for (const [i, r] of rows.entries()) {
      const where = `row ${i + 1}`;
      let raterId = raterIds.get(r.rater);
      if (raterId === undefined) {
        const found = await trx.selectFrom('raters').select('id').where('name', '=', r.rater).executeTakeFirst();
        if (opts.onlyRaterId !== undefined && found?.id !== opts.onlyRaterId) throw new RatingError('not_your_rating', `${where}: you can import only your own ratings (this one is ${r.rater}'s)`);
        raterId = found?.id ?? Number((await trx.insertInto('raters').values({ name: r.rater, token_hash: null }).returning('id').executeTakeFirstOrThrow()).id);
        raterIds.set(r.rater, raterId);
      }
      const task = await trx.selectFrom('rating_tasks').select('dataset_id').where('dataset_id', '=', r.dataset_id).where('modality', '=', r.modality).executeTakeFirst();
      if (!task) throw new RatingError('unknown_task', `${where}: no rating task for dataset ${r.dataset_id} × ${r.modality}`);
      const hash = contentHash(r.score, r.artifacts, r.comment);
      const same = await trx
        .selectFrom('ratings')
        .select(['submission_id', 'rater_id', 'dataset_id', 'modality', 'version', 'content_hash'])
        .where((eb) =>
          eb.or([
            eb('submission_id', '=', r.submission_id),
            eb.and([eb('rater_id', '=', raterId!), eb('dataset_id', '=', r.dataset_id), eb('modality', '=', r.modality), eb('version', '=', r.version)]),
          ]),
        )
        .execute();
      const identical = (s: (typeof same)[number]) =>
        s.submission_id === r.submission_id && s.rater_id === raterId && s.dataset_id === r.dataset_id && s.modality === r.modality && s.version === r.version && s.content_hash === hash;
      if (same.length === 1 && identical(same[0])) {
        unchanged++;
        continue;
      }
      if (same.length) throw new RatingError('import_conflict', `${where}: submission ${r.submission_id} (${r.rater}, ${r.dataset_id} × ${r.modality} v${r.version}) contradicts a stored rating`);
      await trx
        .insertInto('ratings')
        .values({
          submission_id: r.submission_id,
          rater_id: raterId,
          dataset_id: r.dataset_id,
          modality: r.modality,
          version: r.version,
          score: r.score,
          artifacts: JSON.stringify(r.artifacts),
          comment: r.comment,
          images_shown: JSON.stringify(r.images_shown),
          content_hash: hash,
          source: r.source,
          created_at: r.created_at,
        })
        .execute();
      inserted++;
    }
    return { inserted, unchanged };
  });
}
