// The rating rules, pure: the score scale and artifact checklist, input checks, token hashes,
// what a task shows, and the export/import format (CSV or JSON). The rating service
// (services/rating/) stores them through db/repositories/{raters,ratings}.ts.
import { createHash, randomBytes } from 'node:crypto';
import type { Aggregate } from '../quality/aggregate.js';
import { formatCsv, parseCsv } from '../csv.js';
import { RatingError } from './errors.js';
import { checkJsonDepth, checkPositiveInteger, MAX_VERSION, shownValue } from './json.js';

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

/** One row of a rater's import: a correction of their own rating (server time, next version, source 'import'). */
export interface RatingCorrection {
  submission_id: string;
  /** The rater the row names, when it names one (it must be the importing rater). */
  rater?: string;
  dataset_id: string;
  modality: string;
  score: number;
  artifacts: ArtifactKind[];
  comment: string;
  images_shown: string[];
}

// ---------------------------------------------------------------------------------------------
// Raters and tokens

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

/** sha256 of a token: tokens are 256-bit random strings, so a fast hash is enough (no dictionary to guess from). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): string {
  return `om_${randomBytes(32).toString('base64url')}`;
}

export function checkName(name: string): string {
  const trimmed = String(name ?? '').trim();
  if (!NAME_PATTERN.test(trimmed)) throw new RatingError('invalid_name', 'a rater name is 1-64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit');
  return trimmed;
}

// ---------------------------------------------------------------------------------------------
// Tasks and ratings

/** Every picture path a task shows (montage first). */
export function imagesOfTask(task: RatingTaskInput): string[] {
  return [task.montagePath, ...task.scans.map((s) => s.mosaicPath)].filter(Boolean);
}

export function contentHash(score: number, artifacts: string[], comment: string): string {
  return createHash('sha256').update(JSON.stringify({ score, artifacts, comment })).digest('hex');
}

export function checkScore(score: unknown): number {
  if (typeof score !== 'number' || !Number.isInteger(score) || score < 1 || score > 5) {
    throw new RatingError('invalid_score', `score must be an integer from 1 (best) to 5 (worst), got ${shownValue(score)}`);
  }
  return score;
}

export function checkArtifacts(artifacts: unknown): ArtifactKind[] {
  if (artifacts === undefined || artifacts === null) return [];
  if (!Array.isArray(artifacts)) throw new RatingError('invalid_input', 'artifacts must be a list');
  for (const a of artifacts) {
    if (!ARTIFACT_KINDS.includes(a)) throw new RatingError('invalid_input', `unknown artifact ${shownValue(a)}; one of ${ARTIFACT_KINDS.join(', ')}`);
  }
  return ARTIFACT_KINDS.filter((k) => artifacts.includes(k));
}

export function checkComment(comment: unknown): string {
  if (comment === undefined || comment === null) return '';
  if (typeof comment !== 'string') throw new RatingError('invalid_input', 'comment must be text');
  if (comment.length > MAX_COMMENT) throw new RatingError('invalid_input', `comment is longer than ${MAX_COMMENT} characters`);
  return comment.trim();
}

export function checkSubmissionId(id: unknown): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_.:-]{8,128}$/.test(id)) {
    throw new RatingError('invalid_input', 'submissionId must be 8-128 letters, digits or _.:- (one per intended submission)');
  }
  return id;
}

/** The id of the rating a submission revises (a positive integer; a bigint column). */
export function checkRevises(revises: unknown): number | undefined {
  if (revises === undefined || revises === null) return undefined;
  return checkPositiveInteger(revises, 'revises');
}

/** The dataset id or modality a rating names: non-empty text, at most 200 characters. */
export function checkTaskKey(value: unknown, what: 'datasetId' | 'modality'): string {
  if (typeof value !== 'string' || !value || value.length > 200) throw new RatingError('invalid_input', `a rating names its ${what} (text, 1-200 characters)`);
  return value;
}

/** The pictures a rater says they were shown: a list of text. */
export function checkImagesShown(images: unknown): string[] | undefined {
  if (images === undefined || images === null) return undefined;
  if (!Array.isArray(images) || images.length > 1000 || !images.every((p) => typeof p === 'string' && p.length <= 4096)) {
    throw new RatingError('invalid_input', 'imagesShown must be a list of picture paths');
  }
  return images;
}

// ---------------------------------------------------------------------------------------------
// Export / import

const CSV_COLUMNS = ['submission_id', 'rater', 'dataset_id', 'modality', 'version', 'score', 'artifacts', 'comment', 'images_shown', 'source', 'created_at'] as const;

/**
 * Text a spreadsheet would run as a formula: it starts (after spaces or quotes) with = + - @,
 * or with a tab or carriage return.
 */
const FORMULA_START = /^[\s']*[=+\-@\t\r]/;

/**
 * A CSV text cell a spreadsheet opens as text, not as a formula: cells that could start one get
 * a leading `'` (which spreadsheets show as "text follows"). `restoreCsvText` undoes it exactly:
 * a cell that already starts with `'` before such a start gets one more.
 */
export function neutraliseCsvText(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

export function restoreCsvText(cell: string): string {
  return cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell;
}

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

/** A stored rating as an export row. */
export function exportedRating(r: RatingRecord): ExportedRating {
  return {
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
  };
}

/** Only each rater's latest version per dataset × modality. */
export function currentVersionsOnly<T extends { raterId: number; datasetId: string; modality: string; version: number }>(rows: T[]): T[] {
  const key = (r: T) => `${r.raterId}|${r.datasetId}|${r.modality}`;
  const latest = new Map<string, number>();
  for (const r of rows) latest.set(key(r), Math.max(latest.get(key(r)) ?? 0, r.version));
  return rows.filter((r) => latest.get(key(r)) === r.version);
}

/** Ratings as export text: JSON with the format tag, or CSV. */
export function formatRatingsExport(ratings: ExportedRating[], opts: { format: 'csv' | 'json'; current?: boolean }): string {
  if (opts.format === 'json') return JSON.stringify({ format: EXPORT_FORMAT, current: !!opts.current, ratings }, null, 2) + '\n';
  return formatCsv(
    [
      [...CSV_COLUMNS],
      // images_shown as a JSON list: paths may hold any character; artifacts are fixed words.
      // Text cells are neutralised against formula injection; numbers and times are positive / digits first.
      ...ratings.map((r) => [
        neutraliseCsvText(r.submission_id),
        neutraliseCsvText(r.rater),
        neutraliseCsvText(r.dataset_id),
        neutraliseCsvText(r.modality),
        String(r.version),
        String(r.score),
        neutraliseCsvText(r.artifacts.join(';')),
        neutraliseCsvText(r.comment),
        neutraliseCsvText(JSON.stringify(r.images_shown)),
        neutraliseCsvText(r.source),
        r.created_at,
      ]),
    ],
    { eol: '\r\n', quoteEdgeSpaces: true },
  );
}

export type QualityScore = { score: number | null; source: 'raters' | 'predicted' | 'none'; aggregate: Aggregate; model?: string };

/**
 * The score OpenMind reports for a dataset × modality: the raters' when final, else the stored
 * prediction (marked predicted), else none.
 */
export function qualityScoreFrom(aggregate: Aggregate, predicted: { score: number; model: string } | null): QualityScore {
  if (aggregate.status === 'final' && aggregate.score !== undefined) return { score: aggregate.score, source: 'raters', aggregate };
  if (predicted) return { score: predicted.score, source: 'predicted', aggregate, model: predicted.model };
  return { score: null, source: 'none', aggregate };
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

/** The raw rows of an export: a JSON object or list (depth-checked), or CSV text (cells restored). */
function rawRowsOf(input: string | object): Record<string, unknown>[] {
  if (typeof input === 'string' && !/^\s*[[{]/.test(input)) {
    return parseCsv(input).map((row) => {
      const r = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, restoreCsvText(v)]));
      return {
        ...r,
        version: r.version === undefined || r.version === '' ? undefined : Number(r.version),
        score: Number(r.score),
        artifacts: r.artifacts ? r.artifacts.split(';') : [],
        images_shown: parseImageList(r.images_shown ?? ''),
      };
    });
  }
  let parsed: unknown;
  if (typeof input === 'string') {
    checkJsonDepth(input);
    try {
      parsed = JSON.parse(input);
    } catch {
      throw new RatingError('invalid_input', 'the import is neither CSV nor valid JSON');
    }
  } else parsed = input;
  const list = Array.isArray(parsed) ? parsed : (parsed as { ratings?: unknown })?.ratings;
  if (!Array.isArray(list)) throw new RatingError('invalid_input', 'a JSON import is a list of ratings or {"ratings": [...]}');
  if (!list.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) throw new RatingError('invalid_input', 'each imported rating is an object');
  return list as Record<string, unknown>[];
}

function rowsOf<T>(input: string | object, check: (r: Record<string, unknown>, where: string) => T): T[] {
  return rawRowsOf(input).map((r, i) => {
    const where = `row ${i + 1}`;
    try {
      return check(r, where);
    } catch (err) {
      if (err instanceof RatingError && !err.message.startsWith(where)) throw new RatingError(err.reason, `${where}: ${err.message}`);
      throw err;
    }
  });
}

function textField(r: Record<string, unknown>, k: string, where: string): string {
  if (typeof r[k] !== 'string' || !(r[k] as string).length) throw new RatingError('invalid_input', `${where}: ${k} is missing`);
  return r[k] as string;
}

function imagesField(r: Record<string, unknown>): string[] {
  return Array.isArray(r.images_shown) ? r.images_shown.filter((p): p is string => typeof p === 'string') : [];
}

/**
 * Rows of an export (JSON object or array, or CSV text) as ratings, verbatim: versions, sources
 * and times as written. For restoring a backup by the operator (`importRatings` without a rater),
 * never for what a rater sends (see `parseRatingCorrections`).
 */
export function parseRatingsExport(input: string | object): ExportedRating[] {
  return rowsOf(input, (r, where) => {
    const createdAt = new Date(textField(r, 'created_at', where));
    if (Number.isNaN(createdAt.getTime())) throw new RatingError('invalid_input', `${where}: created_at is not a date`);
    return {
      submission_id: checkSubmissionId(r.submission_id),
      rater: checkName(textField(r, 'rater', where)),
      dataset_id: checkTaskKey(textField(r, 'dataset_id', where), 'datasetId'),
      modality: checkTaskKey(textField(r, 'modality', where), 'modality'),
      version: checkPositiveInteger(r.version, 'version', MAX_VERSION),
      score: checkScore(r.score),
      artifacts: checkArtifacts(r.artifacts),
      comment: checkComment(r.comment),
      images_shown: imagesField(r),
      source: r.source === 'web' ? 'web' : 'import',
      created_at: createdAt.toISOString(),
    };
  });
}

/**
 * Rows a rater imports, as corrections of their own ratings. What the server decides is not
 * read: `version`, `source` and `created_at` in the rows are ignored (the server stores each
 * correction as the rater's next version, at its own time, with source 'import').
 */
export function parseRatingCorrections(input: string | object): RatingCorrection[] {
  return rowsOf(input, (r, where) => ({
    submission_id: checkSubmissionId(r.submission_id),
    rater: r.rater === undefined || r.rater === null || r.rater === '' ? undefined : checkName(textField(r, 'rater', where)),
    dataset_id: checkTaskKey(textField(r, 'dataset_id', where), 'datasetId'),
    modality: checkTaskKey(textField(r, 'modality', where), 'modality'),
    score: checkScore(r.score),
    artifacts: checkArtifacts(r.artifacts),
    comment: checkComment(r.comment),
    images_shown: imagesField(r),
  }));
}
