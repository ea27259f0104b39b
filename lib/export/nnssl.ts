// `pretrain_data.json` for the nnssl pre-training framework, built from the OpenMind table.
//
// Matched against MIC-DKFZ/nnssl:
//  - src/nnssl/dataset_conversion/Dataset001_OpenMind.py (also Dataset745_OpenMind.py): how the
//    converter turns `openneuro_metadata.csv` into a Collection — dataset and subject from the first two
//    path parts, session from the third part when it starts with "ses-" (else "ses-DEFAULT"), the image
//    name (DWI-derived maps `<dwi>__Data/FA.nii.gz` are named `<dwi>_FA.nii.gz`), which columns go to
//    subject_info and image_info (missing values dropped), the first row of a subject supplying its
//    subject_info, and dataset_info.image_quality_score: one entry per (modality, derived_from) group
//    holding the group's first known score, sorted like pandas' groupby (derived_from null last).
//  - src/nnssl/data/raw_dataset.py: the dict form of Collection/Dataset/Subject/Session/Image/
//    AssociatedMasks; `Image(**img)` takes exactly name, image_path, modality, image_info,
//    associated_masks; AssociatedMasks.from_dict reads both mask keys; paths are absolute, or begin with
//    a `$VAR` segment that `resolve_relative_paths` replaces with the environment variable's value.
//  - src/nnssl/data/nnsslFilter (OpenMindIQSFilter): looks every image's (dataset, modality,
//    image_info.derived_from or None) up in dataset_info.image_quality_score.
//  - The converter writes the file with save_json(indent=4, sort_keys=True); writePretrainData does too.
//    Python's json.dump writes a missing score (pandas' NaN) as the bare token `NaN`, which json.loads
//    reads back as float('nan'); `nan <= threshold` is False, so OpenMindIQSFilter drops unrated images
//    without crashing (a null would make it raise TypeError). We write `NaN` there too — not strict JSON,
//    but what nnssl's own conversion writes and reads; parsePretrainData reads it in JavaScript.
//
// Paths: nnssl's converter reads images from `<root>/OpenMind/<image_path>`; we write them as
// `$openmind/OpenMind/<image_path>` (ROOT_VARIABLE; the flat working export has no `OpenMind/` part), so
// the export can be moved or mounted anywhere: set the variable to its root. nnssl groups scores by
// `unique_id[:8]`; ours use ids like `ds000001:sub-01/anat/...`, so the dataset is taken from the image
// path's first part (the same thing for OpenNeuro's 8-character ids; the converter only agrees on
// datasets whose id has 8 characters).
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../files.js';
import { csvCell, imagesDirOf, normaliseRow, ROOT_VARIABLE, type ExportLayout, type OpenMindColumn, type OpenMindRow } from './table.js';

export const PRETRAIN_FILE = 'pretrain_data.json';
export const DEFAULT_SESSION = 'ses-DEFAULT';
export const DEFAULT_COLLECTION_NAME = 'Dataset001_OpenMind';
export const DEFAULT_COLLECTION_INDEX = 1;

export const SUBJECT_INFO_KEYS = ['age', 'sex', 'handedness', 'race', 'weight', 'bmi', 'health_status'] as const satisfies readonly OpenMindColumn[];
export const IMAGE_INFO_KEYS = [
  'derived_from', 'is_brain_extract', 'manufacturer', 'model_name', 'phase_encoding_direction',
  'magnetic_field_strength', 'repetition_time', 'echo_time',
] as const satisfies readonly OpenMindColumn[];

/** Image file endings nnssl accepts (Collection.get_file_ending); all images must share one. */
const IMAGE_ENDINGS = ['.nii.gz', '.nii', '.in.nrrd', '.nrrd', '.mha'];

export type InfoValue = string | number | boolean;
export type InfoDict = Record<string, InfoValue>;

export interface AssociatedMasksJson {
  anonymization_mask: string | null;
  anatomy_mask: string | null;
}
export interface ImageJson {
  name: string;
  image_path: string;
  modality: string;
  image_info: InfoDict | null;
  associated_masks: AssociatedMasksJson | null;
}
export interface SessionJson {
  session_id: string;
  session_info: Record<string, unknown> | null;
  images: ImageJson[];
}
export interface SubjectJson {
  subject_id: string;
  subject_info: InfoDict | null;
  sessions: Record<string, SessionJson>;
}
export interface QualityScoreEntry {
  modality: string;
  derived_from: string | null;
  /** null while unrated; written to the file as NaN (see above). */
  image_quality_score: number | null;
}
export interface DatasetJson {
  dataset_index: string;
  name: string | null;
  dataset_info: { image_quality_score?: QualityScoreEntry[]; [key: string]: unknown } | null;
  subjects: Record<string, SubjectJson>;
}
export interface PretrainData {
  collection_index: number | string;
  collection_name: string;
  datasets: Record<string, DatasetJson>;
}

export interface PretrainOptions {
  /** nnssl's collection name (it names preprocessed output folders). Default 'Dataset001_OpenMind'. */
  collectionName?: string;
  collectionIndex?: number | string;
  /** 'openmind' (default): images under `<root>/OpenMind/`; 'flat': directly under the root. */
  layout?: ExportLayout;
  /**
   * Paths start with `$<variable>/` (default ROOT_VARIABLE, 'openmind'), the variable naming the export's
   * root: nnssl replaces that segment with the environment variable at load time, so the file survives
   * moving the data. null: absolute paths under exportRoot.
   */
  variable?: string | null;
  /** The export's root (absolute); needed only for absolute paths (variable: null). */
  exportRoot?: string;
}

export class PretrainDataError extends Error {
  readonly reason = 'invalid_pretrain_options';
  constructor(message: string) {
    super(message);
    this.name = 'PretrainDataError';
  }
}

// ---------------------------------------------------------------------------------------------
// Cell values as pandas.read_csv would type them

/** Strings pandas.read_csv reads as missing by default. */
const PANDAS_NA = new Set(['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null']);

type ColumnKind = 'number' | 'boolean' | 'string';

function isMissing(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === 'number') return Number.isNaN(v);
  return typeof v === 'string' && PANDAS_NA.has(v.trim());
}

function looksBoolean(v: unknown): boolean {
  return typeof v === 'boolean' || (typeof v === 'string' && /^(true|false)$/i.test(v.trim()));
}

function looksNumeric(v: unknown): boolean {
  return typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v.trim())));
}

/**
 * A column's type the way pandas infers it from the CSV: all-boolean, all-numeric, else text.
 * This keeps e.g. age a number when every age is, and text ("25", "20-25") when one is a range.
 */
function columnKind(rows: OpenMindRow[], column: OpenMindColumn): ColumnKind {
  const present = rows.map((r) => r[column]).filter((v) => !isMissing(v));
  if (present.length && present.every(looksBoolean)) return 'boolean';
  if (present.every(looksNumeric)) return 'number';
  return 'string';
}

function typedValue(v: unknown, kind: ColumnKind): InfoValue {
  if (kind === 'boolean') return typeof v === 'boolean' ? v : String(v).trim().toLowerCase() === 'true';
  if (kind === 'number') return typeof v === 'number' ? v : Number(String(v).trim());
  return typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
}

function infoDict(row: OpenMindRow, keys: readonly OpenMindColumn[], kinds: Map<OpenMindColumn, ColumnKind>): InfoDict {
  const info: InfoDict = {};
  for (const k of keys) if (!isMissing(row[k])) info[k] = typedValue(row[k], kinds.get(k) ?? 'string');
  return info;
}

/** A cell as the CSV writes it, so types are inferred from exactly what pandas reads. */
function csvText(row: OpenMindRow, column: OpenMindColumn): string {
  return csvCell(column, row[column]);
}

function textCell(v: unknown): string {
  return isMissing(v) ? '' : String(v);
}

// ---------------------------------------------------------------------------------------------
// Building the collection

/** Where an image sits in the hierarchy, from its table path: dataset, subject, optional session, ..., file. */
export function imagePlace(imagePath: string, derived: boolean): { datasetId: string; subjectId: string; sessionId: string; name: string } {
  const parts = imagePath.split('/');
  if (parts.length < 3) throw new PretrainDataError(`image path ${JSON.stringify(imagePath)} is not <dataset>/<subject>/.../<file>`);
  const sessionId = parts[2].startsWith('ses-') ? parts[2] : DEFAULT_SESSION;
  // A derived map lives in its source's `<name>__Data/` folder; dropping '_Data' keeps one '_' as separator.
  const name = derived ? parts[parts.length - 2].slice(0, -5) + parts[parts.length - 1] : parts[parts.length - 1];
  return { datasetId: parts[0], subjectId: parts[1], sessionId, name };
}

/** `$<variable>/[OpenMind/]<rel>`, or the absolute path under exportRoot when there is no variable. */
function outputPath(rel: string, opts: PretrainOptions): string {
  const inRoot = [imagesDirOf(opts.layout ?? 'openmind'), rel].filter(Boolean).join('/');
  const variable = opts.variable === undefined ? ROOT_VARIABLE : opts.variable;
  if (variable !== null) return `$${variable}/${inRoot}`;
  return path.join(opts.exportRoot!, inRoot);
}

function maskPath(rel: unknown, opts: PretrainOptions): string | null {
  const text = textCell(rel);
  return text ? outputPath(text, opts) : null;
}

/** Sort like pandas' groupby: ascending, missing (null) last. */
function compareNullLast(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

/** dataset_info.image_quality_score: per (modality, derived_from) the first known score, in pandas groupby order. */
function qualityScores(rows: OpenMindRow[], kinds: Map<OpenMindColumn, ColumnKind>): Map<string, QualityScoreEntry[]> {
  const groups = new Map<string, Map<string, QualityScoreEntry>>();
  for (const row of rows) {
    const datasetId = textCell(row.image_path).split('/')[0];
    const modality = textCell(row.modality);
    const derived = isMissing(row.derived_from) ? null : String(typedValue(row.derived_from, kinds.get('derived_from') ?? 'string'));
    const key = JSON.stringify([modality, derived]);
    let byKey = groups.get(datasetId);
    if (!byKey) groups.set(datasetId, (byKey = new Map()));
    const entry = byKey.get(key) ?? { modality, derived_from: derived, image_quality_score: null };
    // pandas' GroupBy.first() takes the first non-missing value of the group.
    if (entry.image_quality_score === null && looksNumeric(row.image_quality_score)) entry.image_quality_score = Number(row.image_quality_score);
    byKey.set(key, entry);
  }
  const out = new Map<string, QualityScoreEntry[]>();
  for (const [datasetId, byKey] of groups) {
    const entries = [...byKey.values()].sort((a, b) => compareNullLast(a.modality, b.modality) || compareNullLast(a.derived_from, b.derived_from));
    out.set(datasetId, entries);
  }
  return out;
}

/**
 * The pretrain_data.json structure nnssl's OpenMind converter builds from the same table (as written by
 * toCsv: the cells are read as the CSV text pandas sees).
 */
export function buildPretrainData(tableRows: OpenMindRow[], opts: PretrainOptions = {}): PretrainData {
  const variable = opts.variable === undefined ? ROOT_VARIABLE : opts.variable;
  if (variable === null && !(opts.exportRoot && path.isAbsolute(opts.exportRoot))) {
    throw new PretrainDataError(`absolute paths need an absolute exportRoot, got ${JSON.stringify(opts.exportRoot)}`);
  }
  if (variable !== null && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) throw new PretrainDataError(`not an environment variable name: ${JSON.stringify(variable)}`);
  const rows: OpenMindRow[] = tableRows.map(normaliseRow).map((r) => Object.fromEntries(Object.keys(r).map((c) => [c, csvText(r, c as OpenMindColumn)])));
  const kinds = new Map<OpenMindColumn, ColumnKind>([...SUBJECT_INFO_KEYS, ...IMAGE_INFO_KEYS].map((c) => [c, columnKind(rows, c)]));
  const data: PretrainData = {
    collection_index: opts.collectionIndex ?? DEFAULT_COLLECTION_INDEX,
    collection_name: opts.collectionName ?? DEFAULT_COLLECTION_NAME,
    datasets: {},
  };
  for (const row of rows) {
    const imageInfo = infoDict(row, IMAGE_INFO_KEYS, kinds);
    const place = imagePlace(textCell(row.image_path), 'derived_from' in imageInfo);
    const dataset = (data.datasets[place.datasetId] ??= { dataset_index: place.datasetId, name: null, dataset_info: {}, subjects: {} });
    // The first row of a subject supplies its subject_info, as in the converter.
    const subject = (dataset.subjects[place.subjectId] ??= { subject_id: place.subjectId, subject_info: infoDict(row, SUBJECT_INFO_KEYS, kinds), sessions: {} });
    const session = (subject.sessions[place.sessionId] ??= { session_id: place.sessionId, session_info: null, images: [] });
    session.images.push({
      name: place.name,
      image_path: outputPath(textCell(row.image_path), opts),
      modality: textCell(row.modality),
      image_info: imageInfo,
      associated_masks: { anonymization_mask: maskPath(row.anon_mask_path, opts), anatomy_mask: maskPath(row.anat_mask_path, opts) },
    });
  }
  const scores = qualityScores(rows, kinds);
  for (const [id, dataset] of Object.entries(data.datasets)) dataset.dataset_info = { image_quality_score: scores.get(id) ?? [] };
  return data;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Escape non-ASCII as \uXXXX, as Python's json.dump does by default (ensure_ascii). */
export function asciiJson(text: string): string {
  return text.replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, sortKeysDeep(obj[k])]));
  }
  return value;
}

/** Stands for an unrated score while stringifying; replaced by the bare token NaN. */
const NAN_MARK = '@@openmind:NaN@@';
const SCORE_KEY = 'image_quality_score';

/**
 * The file text: keys sorted, 4-space indent, ASCII-only, and an unrated score as `NaN` — what nnssl's
 * converter writes with save_json (Python's json.dump) from a CSV with empty scores.
 */
export function formatPretrainData(data: PretrainData): string {
  const text = JSON.stringify(sortKeysDeep(data), (key, value) => (key === SCORE_KEY && (value === null || (typeof value === 'number' && Number.isNaN(value))) ? NAN_MARK : value), 4);
  return asciiJson(text.split(`"${SCORE_KEY}": "${NAN_MARK}"`).join(`"${SCORE_KEY}": NaN`));
}

/**
 * Read pretrain_data.json text in JavaScript: JSON.parse, with the `NaN` of an unrated score read as
 * null. (Python's json.loads reads that NaN as float('nan') itself.)
 */
export function parsePretrainData(text: string): PretrainData {
  return JSON.parse(text.split(`"${SCORE_KEY}": NaN`).join(`"${SCORE_KEY}": null`)) as PretrainData;
}

/** Write pretrain_data.json atomically (temp + rename). */
export async function writePretrainData(file: string, data: PretrainData): Promise<void> {
  await writeFileAtomic(file, formatPretrainData(data));
}

// ---------------------------------------------------------------------------------------------
// Validation

export interface ValidateOptions {
  /** Check that every image and mask path exists on disk. */
  checkFiles?: boolean;
  /** Variables for `$VAR/...` paths (none unless the caller passes them). */
  env?: Record<string, string | undefined>;
}

type Problems = string[];

/** Record a problem that stops checking below this point; no images come from there. */
function fail(problems: Problems, message: string): ImageJson[] {
  problems.push(message);
  return [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalarInfo(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function checkKeys(obj: Record<string, unknown>, where: string, required: string[], optional: string[], strict: boolean, problems: Problems): void {
  for (const k of required) if (!(k in obj)) problems.push(`${where}: missing key "${k}"`);
  if (!strict) return;
  const known = new Set([...required, ...optional]);
  for (const k of Object.keys(obj)) if (!known.has(k)) problems.push(`${where}: unexpected key "${k}" (nnssl would reject it)`);
}

function checkInfo(v: unknown, where: string, problems: Problems): void {
  if (v === null || v === undefined) return;
  if (!isObject(v)) return void problems.push(`${where}: must be an object or null`);
  for (const [k, val] of Object.entries(v)) if (!isScalarInfo(val)) problems.push(`${where}.${k}: must be a string, number or boolean`);
}

/** `$VAR/rest` -> `<env VAR>/rest`; absolute paths as they are; null (with a problem) otherwise. */
function resolvePath(p: string, where: string, opts: ValidateOptions, problems: Problems): string | null {
  const first = p.split('/')[0];
  if (first.startsWith('$')) {
    const value = opts.env?.[first.slice(1)];
    if (value === undefined) {
      if (opts.checkFiles) problems.push(`${where}: environment variable ${first.slice(1)} is not set`);
      return null;
    }
    return value.replace(/\/$/, '') + p.slice(first.length);
  }
  if (!path.isAbsolute(p)) {
    problems.push(`${where}: path must be absolute or start with $VARIABLE, got ${JSON.stringify(p)}`);
    return null;
  }
  return p;
}

function checkPath(v: unknown, where: string, opts: ValidateOptions, problems: Problems, nullable: boolean): void {
  if (v === null && nullable) return;
  if (typeof v !== 'string' || v === '') return void problems.push(`${where}: must be a non-empty string${nullable ? ' or null' : ''}`);
  const resolved = resolvePath(v, where, opts, problems);
  if (resolved !== null && opts.checkFiles && !fs.existsSync(resolved)) problems.push(`${where}: file not found (${resolved})`);
}

function checkImage(img: unknown, where: string, opts: ValidateOptions, problems: Problems): void {
  if (!isObject(img)) return void problems.push(`${where}: must be an object`);
  checkKeys(img, where, ['name', 'image_path', 'modality'], ['image_info', 'associated_masks'], true, problems);
  if ('name' in img && (typeof img.name !== 'string' || img.name === '')) problems.push(`${where}.name: must be a non-empty string`);
  if ('modality' in img && typeof img.modality !== 'string') problems.push(`${where}.modality: must be a string`);
  if ('image_path' in img) checkPath(img.image_path, `${where}.image_path`, opts, problems, false);
  checkInfo(img.image_info, `${where}.image_info`, problems);
  const masks = img.associated_masks;
  if (masks === null || masks === undefined) return;
  if (!isObject(masks)) return void problems.push(`${where}.associated_masks: must be an object or null`);
  checkKeys(masks, `${where}.associated_masks`, ['anonymization_mask', 'anatomy_mask'], [], false, problems);
  for (const k of ['anonymization_mask', 'anatomy_mask']) {
    if (k in masks) checkPath(masks[k], `${where}.associated_masks.${k}`, opts, problems, true);
  }
}

function checkSession(session: unknown, key: string, where: string, opts: ValidateOptions, problems: Problems): ImageJson[] {
  if (!isObject(session)) return fail(problems, `${where}: must be an object`);
  checkKeys(session, where, ['session_id', 'images'], ['session_info'], false, problems);
  if ('session_id' in session && String(session.session_id) !== key) problems.push(`${where}.session_id: ${JSON.stringify(session.session_id)} differs from its key`);
  if (session.session_info !== undefined && session.session_info !== null && !isObject(session.session_info)) problems.push(`${where}.session_info: must be an object or null`);
  if (!('images' in session)) return [];
  if (!Array.isArray(session.images)) return fail(problems, `${where}.images: must be a list`);
  const seen = new Set<string>();
  session.images.forEach((img, i) => {
    checkImage(img, `${where}.images[${i}]`, opts, problems);
    const name = isObject(img) && typeof img.name === 'string' ? img.name : null;
    if (name !== null && seen.has(name)) problems.push(`${where}.images[${i}].name: "${name}" appears twice in the session`);
    if (name !== null) seen.add(name);
  });
  return session.images.filter(isObject) as unknown as ImageJson[];
}

function checkSubject(subject: unknown, key: string, where: string, opts: ValidateOptions, problems: Problems): ImageJson[] {
  if (!isObject(subject)) return fail(problems, `${where}: must be an object`);
  checkKeys(subject, where, ['subject_id', 'sessions'], ['subject_info'], false, problems);
  if ('subject_id' in subject && subject.subject_id !== key) problems.push(`${where}.subject_id: ${JSON.stringify(subject.subject_id)} differs from its key`);
  checkInfo(subject.subject_info, `${where}.subject_info`, problems);
  if (!('sessions' in subject)) return [];
  if (!isObject(subject.sessions)) return fail(problems, `${where}.sessions: must be an object`);
  return Object.entries(subject.sessions).flatMap(([k, s]) => checkSession(s, k, `${where}.sessions.${k}`, opts, problems));
}

function checkQualityScores(info: Record<string, unknown>, images: ImageJson[], where: string, problems: Problems): void {
  const list = info.image_quality_score;
  if (list === undefined) return;
  if (!Array.isArray(list)) return void problems.push(`${where}: must be a list`);
  const known = new Set<string>();
  list.forEach((e, i) => {
    const at = `${where}[${i}]`;
    if (!isObject(e)) return void problems.push(`${at}: must be an object`);
    // Strict: the IQS filter keys its lookup on all the other fields of the entry.
    checkKeys(e, at, ['modality', 'derived_from', 'image_quality_score'], [], true, problems);
    if (typeof e.modality !== 'string') problems.push(`${at}.modality: must be a string`);
    if (e.derived_from !== null && typeof e.derived_from !== 'string') problems.push(`${at}.derived_from: must be a string or null`);
    // null (or NaN, as Python reads the file) = unrated: nnssl's IQS filter excludes it.
    if (e.image_quality_score !== null && typeof e.image_quality_score !== 'number') {
      problems.push(`${at}.image_quality_score: must be a number, or null/NaN while unrated`);
    }
    known.add(JSON.stringify([e.modality, e.derived_from ?? null]));
  });
  // nnssl's IQS filter looks every image up here; a missing group would crash it.
  for (const img of images) {
    const derived = isObject(img.image_info) ? (img.image_info.derived_from ?? null) : null;
    const key = JSON.stringify([img.modality, derived]);
    if (typeof img.modality === 'string' && !known.has(key)) {
      problems.push(`${where}: no entry for modality ${JSON.stringify(img.modality)}, derived_from ${JSON.stringify(derived)} (image ${JSON.stringify(img.name)})`);
    }
  }
}

function checkDataset(dataset: unknown, key: string, where: string, opts: ValidateOptions, problems: Problems): ImageJson[] {
  if (!isObject(dataset)) return fail(problems, `${where}: must be an object`);
  checkKeys(dataset, where, ['dataset_index', 'subjects'], ['name', 'dataset_info'], false, problems);
  if ('dataset_index' in dataset) {
    if (typeof dataset.dataset_index !== 'string' && typeof dataset.dataset_index !== 'number') problems.push(`${where}.dataset_index: must be a string or number`);
    else if (String(dataset.dataset_index) !== key) problems.push(`${where}.dataset_index: ${JSON.stringify(dataset.dataset_index)} differs from its key`);
  }
  if (dataset.name !== undefined && dataset.name !== null && typeof dataset.name !== 'string') problems.push(`${where}.name: must be a string or null`);
  const info = dataset.dataset_info;
  if (info !== undefined && info !== null && !isObject(info)) problems.push(`${where}.dataset_info: must be an object or null`);
  if (!('subjects' in dataset)) return [];
  if (!isObject(dataset.subjects)) return fail(problems, `${where}.subjects: must be an object`);
  const images = Object.entries(dataset.subjects).flatMap(([k, s]) => checkSubject(s, k, `${where}.subjects.${k}`, opts, problems));
  if (isObject(info)) checkQualityScores(info, images, `${where}.dataset_info.image_quality_score`, problems);
  return images;
}

function checkFileEndings(images: ImageJson[], problems: Problems): void {
  const endings = new Set<string>();
  for (const img of images) {
    if (typeof img.image_path !== 'string') continue;
    const ending = IMAGE_ENDINGS.find((e) => img.image_path.endsWith(e));
    if (!ending) problems.push(`image ${JSON.stringify(img.image_path)}: unsupported file ending (nnssl takes ${IMAGE_ENDINGS.join(', ')})`);
    else endings.add(ending);
  }
  if (endings.size > 1) problems.push(`images mix file endings (${[...endings].join(', ')}); nnssl needs one`);
}

/** Problems with a pretrain_data.json object (empty list = valid), each prefixed with where it is. */
export function validatePretrainData(obj: unknown, opts: ValidateOptions = {}): string[] {
  const problems: Problems = [];
  if (!isObject(obj)) return ['pretrain data: must be a JSON object'];
  checkKeys(obj, 'collection', ['collection_index', 'collection_name', 'datasets'], [], false, problems);
  if ('collection_index' in obj && typeof obj.collection_index !== 'number' && typeof obj.collection_index !== 'string') problems.push('collection_index: must be a number or string');
  if ('collection_name' in obj && (typeof obj.collection_name !== 'string' || obj.collection_name === '')) problems.push('collection_name: must be a non-empty string');
  if (!('datasets' in obj)) return problems;
  if (!isObject(obj.datasets)) return [...problems, 'datasets: must be an object'];
  const images = Object.entries(obj.datasets).flatMap(([k, d]) => checkDataset(d, k, `datasets.${k}`, opts, problems));
  checkFileEndings(images, problems);
  return problems;
}
