// The OpenMind metadata table (`openneuro_metadata.csv`): the published columns in the published order,
// then `age_range`; and where images live in an export.
//
// Ages: `age` is always a number of years (or empty); an age known only as a range or bin ("20-25",
// "80+", "<5") leaves `age` empty and goes to `age_range`, so every tool reads `age` as a number.
// Numbers of the numeric columns are written as floats ("3.0", "25.0", "2.5"), as pandas writes a float
// column, so pandas, duckdb and pyarrow all read those columns as floating point — the Parquet type.
import path from 'node:path';
import { formatCsv } from '../csv.js';

/** The columns of OpenMind's published `openneuro_metadata.csv`, in its order (nnssl's converter reads these). */
export const PUBLISHED_COLUMNS = [
  'image_path', 'anat_mask_path', 'anon_mask_path', 'modality', 'unique_id', 'image_quality_score',
  'age', 'sex', 'handedness', 'race', 'weight', 'bmi', 'health_status', 'derived_from', 'is_brain_extract',
  'manufacturer', 'model_name', 'phase_encoding_direction', 'magnetic_field_strength', 'repetition_time', 'echo_time',
] as const;

/** Our table: the published columns, then age_range (an age known only as a range or bin). */
export const OPENMIND_COLUMNS = [...PUBLISHED_COLUMNS, 'age_range'] as const;
export type OpenMindColumn = (typeof OPENMIND_COLUMNS)[number];
export type OpenMindRow = Partial<Record<OpenMindColumn, string | number | boolean | null | undefined>>;

/** Columns that hold numbers (Parquet DOUBLE): age in years, the score, body and acquisition measurements. */
export const NUMBER_COLUMNS: ReadonlySet<OpenMindColumn> = new Set<OpenMindColumn>([
  'image_quality_score', 'age', 'weight', 'bmi', 'magnetic_field_strength', 'repetition_time', 'echo_time',
]);
/** Columns that hold True/False (Parquet BOOLEAN). Every other column is text. */
export const BOOLEAN_COLUMNS: ReadonlySet<OpenMindColumn> = new Set<OpenMindColumn>(['is_brain_extract']);

export type ColumnType = 'DOUBLE' | 'BOOLEAN' | 'STRING';

/** A column's one type, the same in the CSV's values, the Parquet schema and pretrain_data.json. */
export function columnTypeOf(column: OpenMindColumn): ColumnType {
  return NUMBER_COLUMNS.has(column) ? 'DOUBLE' : BOOLEAN_COLUMNS.has(column) ? 'BOOLEAN' : 'STRING';
}

// ---------------------------------------------------------------------------------------------
// Layout

/** The folder, under an export's root, that holds the images (as OpenMind's download and nnssl's converter have it). */
export const IMAGES_DIR = 'OpenMind';
export const CSV_FILE = 'openneuro_metadata.csv';
/** The environment variable pretrain_data.json's paths start with; it names the export's root. */
export const ROOT_VARIABLE = 'openmind';

/**
 * 'openmind': images under `<root>/OpenMind/` (the working export and `openmind export --out`; what nnssl reads).
 * 'flat': images directly under `<root>/` (exports written before 2026-12; verify still reads them).
 * Either way the table's paths are relative to the images folder.
 */
export type ExportLayout = 'openmind' | 'flat';

/** The images folder of an export, relative to its root ('' for the flat layout). */
export function imagesDirOf(layout: ExportLayout): string {
  return layout === 'openmind' ? IMAGES_DIR : '';
}

/** Absolute path of a table path (image or mask) in an export. */
export function fileInExport(root: string, layout: ExportLayout, tablePath: string): string {
  return path.join(root, imagesDirOf(layout), tablePath);
}

/** Where an image and its masks go in the OpenMind layout, relative to the images folder. */
export function exportPathsFor(datasetId: string, bidsPath: string): { image: string; dataDir: string; defaceMask: string; fbMask: string } {
  const image = `${datasetId}/${bidsPath.replace(/\.nii(\.gz)?$/, '')}.nii.gz`;
  const dataDir = image.replace(/\.nii\.gz$/, '__Data');
  return { image, dataDir, defaceMask: `${dataDir}/deface_mask.nii.gz`, fbMask: `${dataDir}/fb_mask.nii.gz` };
}

// ---------------------------------------------------------------------------------------------
// Values

function finiteNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string' || v.trim() === '') return null;
  const n = Number(v.trim());
  return Number.isFinite(n) ? n : null;
}

function blank(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === 'string' && v.trim() === '');
}

/**
 * An age cell split into the two columns: a number goes to `age`, anything else ("20-25", "80+") to
 * `age_range`. An age_range already set is kept.
 */
export function splitAge(age: unknown, ageRange?: unknown): { age: number | null; age_range: string | null } {
  const range = blank(ageRange) ? null : String(ageRange).trim();
  if (blank(age)) return { age: null, age_range: range };
  const n = finiteNumber(age);
  if (n !== null) return { age: n, age_range: range };
  return { age: null, age_range: range ?? String(age).trim() };
}

/** A row with its age split (idempotent); the writers of the CSV, Parquet and pretrain_data.json all apply it. */
export function normaliseRow<R extends OpenMindRow>(row: R): R {
  const { age, age_range } = splitAge(row.age, row.age_range);
  return { ...row, age, age_range };
}

/** A number as a float literal, the way pandas writes a float column: 3 -> "3.0", 2.5 -> "2.5". */
export function floatText(n: number): string {
  const s = String(n);
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

/** True/False from a boolean cell (true/false/1/0 in any case); null when missing or unreadable. */
export function booleanValue(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1 ? true : v === 0 ? false : null;
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : null;
}

/**
 * A cell as its column's type: a finite number (DOUBLE), true/false (BOOLEAN) or non-empty text
 * (STRING); null when missing — or unreadable, so the CSV and Parquet never disagree on a type.
 */
export function typedCell(column: OpenMindColumn, v: unknown): string | number | boolean | null {
  const type = columnTypeOf(column);
  if (type === 'DOUBLE') return finiteNumber(v);
  if (type === 'BOOLEAN') return booleanValue(v);
  if (v === null || v === undefined) return null;
  const s = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
  return s === '' ? null : s;
}

/** One CSV cell: numbers as floats ("3.0"), booleans as True/False (as pandas writes them), missing as ''. */
export function csvCell(column: OpenMindColumn, v: unknown): string {
  const t = typedCell(column, v);
  if (t === null) return '';
  if (typeof t === 'boolean') return t ? 'True' : 'False';
  return typeof t === 'number' ? floatText(t) : t;
}

export function toCsv(rows: OpenMindRow[]): string {
  return formatCsv([[...OPENMIND_COLUMNS], ...rows.map(normaliseRow).map((r) => OPENMIND_COLUMNS.map((c) => csvCell(c, r[c])))]);
}
