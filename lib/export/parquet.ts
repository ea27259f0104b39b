// The OpenMind metadata table as Parquet (`openneuro_metadata.parquet`): the CSV's columns in the same
// order, each with the one type its values have in the CSV (table.ts, columnTypeOf): numbers — age in
// years included — as nullable DOUBLE, is_brain_extract as nullable BOOLEAN, everything else (age_range
// too) as nullable STRING. Dataframe tools need no parsing: `avg(age)` works.
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import { writeFileAtomic } from '../files.js';
import { BOOLEAN_COLUMNS, columnTypeOf, normaliseRow, NUMBER_COLUMNS, OPENMIND_COLUMNS, typedCell, type ColumnType, type OpenMindColumn, type OpenMindRow } from './table.js';

export const PARQUET_FILE = 'openneuro_metadata.parquet';

export const DOUBLE_COLUMNS: ReadonlySet<OpenMindColumn> = NUMBER_COLUMNS;
export { BOOLEAN_COLUMNS };

export type ParquetCell = string | number | boolean | null;

/** The Parquet type of a column. */
export function parquetTypeOf(column: OpenMindColumn): ColumnType {
  return columnTypeOf(column);
}

/**
 * A cell as the Parquet file stores it. Also used to compare a CSV row (all text) with a
 * Parquet row: both normalise to the same value. Unreadable numbers become null.
 */
export function parquetCell(column: OpenMindColumn, v: unknown): ParquetCell {
  return typedCell(column, v);
}

/** One row with every column in order, its age split, normalised to Parquet cells. */
export function parquetRow(row: Partial<Record<string, unknown>>): Record<OpenMindColumn, ParquetCell> {
  const r = normaliseRow(row as OpenMindRow);
  return Object.fromEntries(OPENMIND_COLUMNS.map((c) => [c, parquetCell(c, r[c])])) as Record<OpenMindColumn, ParquetCell>;
}

/** The column sources hyparquet-writer takes, one per column. */
export function metadataColumns(rows: OpenMindRow[]): ColumnSource[] {
  const cells = rows.map((r) => parquetRow(r));
  return OPENMIND_COLUMNS.map((name) => ({
    name,
    type: parquetTypeOf(name),
    nullable: true,
    data: cells.map((r) => r[name]),
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
