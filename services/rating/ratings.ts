// The rating service: the rating rules (lib/rating) applied to the stored raters, tasks and
// ratings (db/repositories), and the steps that build a task from measured scans.
import type { DB } from '../../db/database.js';
import type { Rater } from '../../db/tables/raters.js';
import { ensureRaterNamed, insertRater, raterById, raterNamed, raterWithTokenHash, setRaterTokenHash } from '../../db/repositories/raters.js';
import {
  allRatings,
  currentRatings,
  getRating,
  getRatingTask,
  insertRating,
  isUniqueViolation,
  latestRatingOf,
  ratingsClashingWith,
  ratingTarget,
  ratingWithSubmission,
  tasksForRater,
  upsertRatingTask,
} from '../../db/repositories/ratings.js';
import { iqmsOfTask, predictedScoreOf, upsertPredictedScore } from '../../db/repositories/quality-metrics.js';
import { aggregateRatings, type Aggregate } from '../../lib/quality/aggregate.js';
import { predictTaskScore } from '../../lib/quality/predict.js';
import { writeMontage } from '../../lib/quality/mosaic.js';
import { QualityError } from '../../lib/quality/errors.js';
import { RatingError } from '../../lib/rating/errors.js';
import {
  checkArtifacts,
  checkComment,
  checkImagesShown,
  checkName,
  checkRevises,
  checkScore,
  checkSubmissionId,
  checkTaskKey,
  contentHash,
  currentVersionsOnly,
  exportedRating,
  formatRatingsExport,
  hashToken,
  imagesOfTask,
  newToken,
  parseRatingCorrections,
  parseRatingsExport,
  qualityScoreFrom,
  type ExportedRating,
  type QualityScore,
  type RatingRecord,
  type RatingTaskInput,
  type SubmitRatingInput,
} from '../../lib/rating/ratings.js';

export { currentRatings, getRatingTask, ratingHistory, tasksForRater } from '../../db/repositories/ratings.js';
export { listRaters } from '../../db/repositories/raters.js';

// ---------------------------------------------------------------------------------------------
// Raters

/**
 * Create a rater (or give a token to a loopback-only rater of that name) and return the new token.
 * The token is shown once; only its hash is stored. `rotate` replaces an existing token: sessions
 * opened with the old one end at their next request. `admin` makes the rater an admin (may export
 * every rater's ratings); rotating without it keeps an admin an admin.
 */
export async function addRater(db: DB, name: string, opts: { rotate?: boolean; admin?: boolean } = {}): Promise<string> {
  const clean = checkName(name);
  const token = newToken();
  const existing = await raterNamed(db, clean);
  if (existing?.token_hash && !opts.rotate) throw new RatingError('rater_exists', `rater ${clean} already has a token (rotate it to issue a new one)`);
  if (existing) await setRaterTokenHash(db, existing.id, hashToken(token), { admin: opts.admin });
  else await insertRater(db, clean, hashToken(token), { admin: opts.admin });
  return token;
}

export async function raterByToken(db: DB, token: string): Promise<Rater | null> {
  if (typeof token !== 'string' || token.length < 16 || token.length > 200) return null;
  return raterWithTokenHash(db, hashToken(token));
}

/**
 * The rater a session belongs to, while the session is still good: the rater's token hash must
 * be the one the session was opened with (null for a loopback name sign-in), so rotating a token
 * (or giving a loopback rater one) ends the sessions opened before.
 */
export async function raterOfSession(db: DB, raterId: number, openedWithTokenHash: string | null): Promise<Rater | null> {
  const rater = await raterById(db, raterId);
  return rater && (rater.token_hash ?? null) === openedWithTokenHash ? rater : null;
}

/** A rater who names themself (loopback mode). A name that has a token must sign in with it. */
export async function namedRater(db: DB, name: string): Promise<Rater> {
  const rater = await ensureRaterNamed(db, checkName(name));
  if (rater.token_hash) throw new RatingError('token_required', `rater ${rater.name} has a token: sign in with it`);
  return rater;
}

// ---------------------------------------------------------------------------------------------
// Tasks

/** Register (or refresh) a dataset × modality to rate with the pictures and metrics to show. */
export async function registerRatingTask(db: DB, input: RatingTaskInput): Promise<void> {
  if (!input.datasetId || !input.modality) throw new RatingError('invalid_input', 'a rating task needs a datasetId and a modality');
  await upsertRatingTask(db, input);
}

/** The first dataset × modality (by id) that this rater has not rated, and how many are left. */
export async function nextTaskFor(db: DB, raterId: number): Promise<{ task: RatingTaskInput | null; remaining: number; total: number }> {
  const tasks = await tasksForRater(db, raterId);
  const open = tasks.filter((t) => t.myScore === null);
  const task = open.length ? await getRatingTask(db, open[0].datasetId, open[0].modality) : null;
  return { task, remaining: open.length, total: tasks.length };
}

/** Predict a dataset × modality's score from its stored IQMs and keep it (marked predicted). */
export async function storePredictedScore(db: DB, datasetId: string, modality: string): Promise<{ score: number; model: string; scans: number } | null> {
  const iqms = Object.values(await iqmsOfTask(db, datasetId, modality));
  if (!iqms.length) return null;
  const p = predictTaskScore(iqms.map((r) => r.metrics));
  await upsertPredictedScore(db, { datasetId, modality, score: p.score, model: p.model, scans: p.scans });
  return { score: p.score, model: p.model, scans: p.scans };
}

export interface FinishTaskInput {
  datasetId: string;
  modality: string;
  /** Scans whose mosaics exist, in dataset order. */
  scans: { scanId: string; mosaicPath: string }[];
  montagePath: string;
  /** Scans in the montage (default 6), drawn with the seed "<dataset>/<modality>". */
  montageScans?: number;
}

/**
 * The montage, the predicted score (from the stored IQMs) and the rating task of a
 * dataset × modality. Re-running refreshes them; ratings already given stay.
 */
export async function finishRatingTask(db: DB, input: FinishTaskInput): Promise<{ montagePath: string; chosen: string[]; predicted: { score: number; model: string } | null }> {
  if (!input.scans.length) throw new QualityError('no_scans', `no scans to rate for ${input.datasetId} × ${input.modality}`);
  const montage = await writeMontage(
    input.montagePath,
    input.scans.map((s) => s.mosaicPath),
    { n: input.montageScans ?? 6, seed: `${input.datasetId}/${input.modality}` },
  );
  const iqms = await iqmsOfTask(db, input.datasetId, input.modality);
  const predicted = await storePredictedScore(db, input.datasetId, input.modality);
  await registerRatingTask(db, {
    datasetId: input.datasetId,
    modality: input.modality,
    montagePath: input.montagePath,
    scans: input.scans.map((s) => ({ scanId: s.scanId, mosaicPath: s.mosaicPath, metrics: iqms[s.scanId]?.metrics ?? {} })),
  });
  return { montagePath: montage.path, chosen: montage.chosen, predicted: predicted && { score: predicted.score, model: predicted.model } };
}

// ---------------------------------------------------------------------------------------------
// Ratings

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
  checkTaskKey(input.datasetId, 'datasetId');
  checkTaskKey(input.modality, 'modality');
  const revises = checkRevises(input.revises);
  const imagesShownGiven = checkImagesShown(input.imagesShown);
  const hash = contentHash(score, artifacts, comment);
  try {
    const id = await db.transaction().execute(async (trx) => {
      const task = await getRatingTask(trx, input.datasetId, input.modality, { lock: true });
      if (!task) throw new RatingError('unknown_task', `no rating task for dataset ${input.datasetId} × ${input.modality}`);
      const replay = await ratingWithSubmission(trx, submissionId);
      if (replay) {
        throw new RatingError('duplicate_submission', 'this submission was already stored (same submissionId); it is not counted again', {
          ratingId: replay.rater_id === input.raterId ? Number(replay.id) : undefined,
        });
      }
      const latest = await latestRatingOf(trx, input.raterId, input.datasetId, input.modality);
      if (revises !== undefined) await checkRevisable(trx, input, revises);
      if (latest && latest.content_hash === hash) {
        throw new RatingError('duplicate_content', 'your current rating already has this score, checklist and comment; nothing new to store', { ratingId: Number(latest.id) });
      }
      const shownOfTask = imagesOfTask(task);
      const imagesShown = imagesShownGiven?.length ? imagesShownGiven.filter((p) => shownOfTask.includes(p)) : shownOfTask;
      return insertRating(trx, {
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
      });
    });
    return getRating(db, id);
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
  const target = await ratingTarget(db, ratingId);
  if (!target) throw new RatingError('not_found', `no rating ${ratingId} to revise`);
  if (target.rater_id !== input.raterId) throw new RatingError('not_your_rating', 'you can revise only your own ratings');
  if (target.dataset_id !== input.datasetId || target.modality !== input.modality) {
    throw new RatingError('invalid_input', `rating ${ratingId} is for another dataset × modality`);
  }
}

/** The aggregation rule over the current ratings of a dataset × modality. */
export async function aggregateTask(db: DB, datasetId: string, modality: string): Promise<Aggregate> {
  const current = await currentRatings(db, datasetId, modality);
  return aggregateRatings(current.map((r) => ({ rater: r.rater, score: r.score, firstRatedAt: r.firstRatedAt })));
}

/** The raters' score when final, else the stored prediction (marked predicted), else none. */
export async function qualityScoreOf(db: DB, datasetId: string, modality: string): Promise<QualityScore> {
  const aggregate = await aggregateTask(db, datasetId, modality);
  return qualityScoreFrom(aggregate, aggregate.status === 'final' ? null : await predictedScoreOf(db, datasetId, modality));
}

// ---------------------------------------------------------------------------------------------
// Export / import

/**
 * Rating versions (or only the current ones), ordered by dataset, modality, rater, version.
 * `raterId`: only that rater's (what a rater may see); without it every rater's (admins, operators).
 */
export async function listRatings(db: DB, opts: { current?: boolean; raterId?: number } = {}): Promise<ExportedRating[]> {
  const rows = await allRatings(db, { raterId: opts.raterId });
  return (opts.current ? currentVersionsOnly(rows) : rows).map(exportedRating);
}

/** The ratings export (CSV text cells neutralised against formula injection); `raterId` as in `listRatings`. */
export async function exportRatings(db: DB, opts: { format: 'csv' | 'json'; current?: boolean; raterId?: number }): Promise<string> {
  return formatRatingsExport(await listRatings(db, { current: opts.current, raterId: opts.raterId }), opts);
}

export interface ImportResult {
  inserted: number;
  unchanged: number;
}

/**
 * Import ratings, all or nothing.
 *
 * With `asRater` (what a rater sends, e.g. the web tool): each row is a correction of that
 * rater's own rating and must not name another rater. The server decides what it records: the
 * rater's next version of that dataset × modality, stored now, with source 'import'; the row's
 * `version`, `source` and `created_at` are ignored. So an import can never make a rater
 * "earlier" than they were, nor push another rater out of the pair that decides a score. A row
 * whose submission id is already stored as this rater's rating of that task with the same
 * content, or whose content is the rater's current rating, is unchanged (importing one's own
 * export again changes nothing); a submission id used for anything else is an `import_conflict`.
 * `records` collects the stored corrections (e.g. to wake the rating workflows).
 *
 * Without `asRater`: the operator restores a backup verbatim (versions, sources and times as
 * written; raters matched by name and created without token when missing). A row whose
 * submission is already stored with the same content is skipped; one that contradicts a stored
 * rating is an `import_conflict`. Never reachable over HTTP.
 */
export async function importRatings(
  db: DB,
  input: string | object,
  opts: { asRater?: { id: number; name: string }; records?: RatingRecord[] } = {},
): Promise<ImportResult> {
  if (opts.asRater) return importCorrections(db, input, opts.asRater, opts.records);
  return restoreRatings(db, input);
}

async function importCorrections(db: DB, input: string | object, rater: { id: number; name: string }, records?: RatingRecord[]): Promise<ImportResult> {
  const rows = parseRatingCorrections(input);
  const ids = await db.transaction().execute(async (trx) => {
    let unchanged = 0;
    const inserted: number[] = [];
    for (const [i, r] of rows.entries()) {
      const where = `row ${i + 1}`;
      if (r.rater !== undefined && r.rater !== rater.name) throw new RatingError('not_your_rating', `${where}: you can import only your own ratings (this one is ${r.rater}'s)`);
      const task = await getRatingTask(trx, r.dataset_id, r.modality, { lock: true });
      if (!task) throw new RatingError('unknown_task', `${where}: no rating task for dataset ${r.dataset_id} × ${r.modality}`);
      const hash = contentHash(r.score, r.artifacts, r.comment);
      const stored = await ratingWithSubmission(trx, r.submission_id);
      if (stored) {
        const same = stored.rater_id === rater.id && stored.dataset_id === r.dataset_id && stored.modality === r.modality && stored.content_hash === hash;
        if (same) {
          unchanged++;
          continue;
        }
        throw new RatingError('import_conflict', `${where}: submission ${r.submission_id} is already stored for another rating; give this correction a new submission_id`);
      }
      const latest = await latestRatingOf(trx, rater.id, r.dataset_id, r.modality);
      if (latest && latest.content_hash === hash) {
        unchanged++;
        continue;
      }
      const shownOfTask = imagesOfTask(task);
      const imagesShown = r.images_shown.filter((p) => shownOfTask.includes(p));
      inserted.push(
        await insertRating(trx, {
          submission_id: r.submission_id,
          rater_id: rater.id,
          dataset_id: r.dataset_id,
          modality: r.modality,
          version: (latest?.version ?? 0) + 1,
          score: r.score,
          artifacts: JSON.stringify(r.artifacts),
          comment: r.comment,
          images_shown: JSON.stringify(imagesShown),
          content_hash: hash,
          source: 'import',
          // created_at: the database's now(), never the row's.
        }),
      );
    }
    return { inserted, unchanged };
  }).catch((err: unknown) => {
    if (isUniqueViolation(err)) throw new RatingError('concurrent_submission', 'another submission for one of these ratings was stored at the same moment; try again');
    throw err;
  });
  if (records) for (const id of ids.inserted) records.push(await getRating(db, id));
  return { inserted: ids.inserted.length, unchanged: ids.unchanged };
}

async function restoreRatings(db: DB, input: string | object): Promise<ImportResult> {
  const rows = parseRatingsExport(input);
  return db.transaction().execute(async (trx) => {
    let inserted = 0;
    let unchanged = 0;
    const raterIds = new Map<string, number>();
    for (const [i, r] of rows.entries()) {
      const where = `row ${i + 1}`;
      let raterId = raterIds.get(r.rater);
      if (raterId === undefined) {
        const found = await raterNamed(trx, r.rater);
        raterId = found?.id ?? (await insertRater(trx, r.rater, null));
        raterIds.set(r.rater, raterId);
      }
      if (!(await getRatingTask(trx, r.dataset_id, r.modality))) throw new RatingError('unknown_task', `${where}: no rating task for dataset ${r.dataset_id} × ${r.modality}`);
      const hash = contentHash(r.score, r.artifacts, r.comment);
      const same = await ratingsClashingWith(trx, { submissionId: r.submission_id, raterId, datasetId: r.dataset_id, modality: r.modality, version: r.version });
      const identical = (s: (typeof same)[number]) =>
        s.submission_id === r.submission_id && s.rater_id === raterId && s.dataset_id === r.dataset_id && s.modality === r.modality && s.version === r.version && s.content_hash === hash;
      if (same.length === 1 && identical(same[0])) {
        unchanged++;
        continue;
      }
      if (same.length) throw new RatingError('import_conflict', `${where}: submission ${r.submission_id} (${r.rater}, ${r.dataset_id} × ${r.modality} v${r.version}) contradicts a stored rating`);
      await insertRating(trx, {
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
      });
      inserted++;
    }
    return { inserted, unchanged };
  });
}
