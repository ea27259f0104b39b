// The OpenMind metadata table as Parquet (`openneuro_metadata.parquet`): the same columns in the
// published order, with real types so dataframe tools need no parsing: measurements as nullable
// DOUBLE, is_brain_extract as nullable BOOLEAN, everything else (age included: it can be "20-25") as STRING.
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import { writeFileAtomic } from '../files.js';
import { OPENMIND_COLUMNS, type OpenMindColumn, type OpenMindRow } from './table.js';

export const PARQUET_FILE = 'openneuro_metadata.parquet';

export const DOUBLE_COLUMNS: ReadonlySet<OpenMindColumn> = new Set<OpenMindColumn>([
  'image_quality_score', 'weight', 'bmi', 'magnetic_field_strength', 'repetition_time', 'echo_time',
]);
export const BOOLEAN_COLUMNS: ReadonlySet<OpenMindColumn> = new Set<OpenMindColumn>(['is_brain_extract']);

export type ParquetCell = string | number | boolean | null;

/** The Parquet type of a column. */
export function parquetTypeOf(column: OpenMindColumn): 'DOUBLE' | 'BOOLEAN' | 'STRING' {
  return DOUBLE_COLUMNS.has(column) ? 'DOUBLE' : BOOLEAN_COLUMNS.has(column) ? 'BOOLEAN' : 'STRING';
}

function toDouble(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string' || v.trim() === '') return null;
  const n = Number(v.trim());
  return Number.isFinite(n) ? n : null;
}

function toBoolean(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1 ? true : v === 0 ? false : null;
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : null;
}

/** Text as the CSV writes it; null for an empty cell (the CSV's '' reads back as missing). */
function toText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const s = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
  return s === '' ? null : s;
}

/**
 * A cell as the Parquet file stores it. Also used to compare a CSV row (all text) with a
 * Parquet row: both normalise to the same value. Unreadable numbers become null.
 */
export function parquetCell(column: OpenMindColumn, v: unknown): ParquetCell {
  const type = parquetTypeOf(column);
  return type === 'DOUBLE' ? toDouble(v) : type === 'BOOLEAN' ? toBoolean(v) : toText(v);
}

/** One row with every column in published order, normalised to Parquet cells. */
export function parquetRow(row: Partial<Record<string, unknown>>): Record<OpenMindColumn, ParquetCell> {
  return Object.fromEntries(OPENMIND_COLUMNS.map((c) => [c, parquetCell(c, row[c])])) as Record<OpenMindColumn, ParquetCell>;
}

/** The column sources hyparquet-writer takes, one per published column. */
export function metadataColumns(rows: OpenMindRow[]): ColumnSource[] {
  return OPENMIND_COLUMNS.map((name) => ({
    name,
    type: parquetTypeOf(name),
    nullable: true,
    data: rows.map((r) => parquetCell(name, r[name])),
  }));
}

/** Encode the table as Parquet bytes (deterministic: same rows, same bytes). */
export function encodeMetadataParquet(rows: OpenMindRow[]): Uint8Array {
  return new Uint8Array(parquetWriteBuffer({ columnData: metadataColumns(rows), createdBy: 'openmind-pipeline' }));
}

/** Write the table as Parquet; atomic (temp file + rename), so readers never see half a file. */
export async function writeMetadataParquet(file: string, rows: OpenMindRow[]): Promise<void> {
  await writeFileAtomic(file, encodeMetadataParquet(rows));
}
