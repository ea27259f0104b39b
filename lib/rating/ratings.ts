// The rating rules, pure: the score scale and artifact checklist, input checks, token hashes,
// what a task shows, and the export/import format (CSV or JSON). The rating service
// (services/rating/) stores them through db/repositories/{raters,ratings}.ts.
import { createHash, randomBytes } from 'node:crypto';
import type { Aggregate } from '../quality/aggregate.js';
import { formatCsv, parseCsv } from '../csv.js';
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
    throw new RatingError('invalid_score', `score must be an integer from 1 (best) to 5 (worst), got ${JSON.stringify(score)}`);
  }
  return score;
}

export function checkArtifacts(artifacts: unknown): ArtifactKind[] {
  if (artifacts === undefined || artifacts === null) return [];
  if (!Array.isArray(artifacts)) throw new RatingError('invalid_input', 'artifacts must be a list');
  for (const a of artifacts) {
    if (!ARTIFACT_KINDS.includes(a)) throw new RatingError('invalid_input', `unknown artifact ${JSON.stringify(a)}; one of ${ARTIFACT_KINDS.join(', ')}`);
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
      ...ratings.map((r) => [r.submission_id, r.rater, r.dataset_id, r.modality, String(r.version), String(r.score), r.artifacts.join(';'), r.comment, JSON.stringify(r.images_shown), r.source, r.created_at]),
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

/** Rows of an export (JSON object or array, or CSV text) as ratings. */
export function parseRatingsExport(input: string | object): ExportedRating[] {
  let raw: Record<string, unknown>[];
  if (typeof input === 'string' && !/^\s*[[{]/.test(input)) {
    raw = parseCsv(input).map((r) => ({
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
