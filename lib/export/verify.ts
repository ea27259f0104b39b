// Compare two exports (the chaos checker's oracle): every file by hash, the metadata table row by row,
// and each export's own integrity — duplicate unique_ids, mask folders without an image, images
// missing from the table, table paths without a file, and a Parquet table that disagrees with the CSV.
// Both layouts: images under `<root>/OpenMind/` (an `openmind export --out` export) or directly under the
// root (the pipeline's working export); the table's paths are relative to the images folder either way.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { sha256, sha256File } from '../files.js';
import { asciiJson, PRETRAIN_FILE } from './nnssl.js';
import { PARQUET_FILE, parquetRow, type ParquetCell } from './parquet.js';
import { CSV_FILE, IMAGES_DIR, imagesDirOf, OPENMIND_COLUMNS, type ExportLayout } from './table.js';
import { parseCsv } from '../csv.js';

export { CSV_FILE };
const MASK_NAMES = new Set(['deface_mask.nii.gz', 'fb_mask.nii.gz']);
const DATA_DIR_SUFFIX = '__Data';
/** Stands for the export's own absolute path inside pretrain_data.json, so copies elsewhere compare equal. */
export const ROOT_PLACEHOLDER = '$EXPORT_ROOT';

export interface FileEntry {
  /** Relative to the export root, '/'-separated. */
  path: string;
  sha256: string;
  size: number;
}

export interface ExportSnapshot {
  root: string;
  /** 'openmind' when the root has an OpenMind/ folder, else 'flat'. */
  layout: ExportLayout;
  /** Every regular file, sorted by path. pretrain_data.json is hashed with the root replaced by ROOT_PLACEHOLDER. */
  files: FileEntry[];
  /** openneuro_metadata.csv rows sorted by unique_id (stable); null when there is no CSV. */
  csvRows: Record<string, string>[] | null;
  /** openneuro_metadata.parquet rows, normalised and sorted like csvRows; null when there is none. */
  parquetRows: Record<string, ParquetCell>[] | null;
  /** This export's own problems, each a readable sentence. */
  problems: string[];
}

export interface SnapshotDiff {
  /** True only when both exports match file for file and row for row and neither has problems. */
  identical: boolean;
  differences: string[];
}

// ---------------------------------------------------------------------------------------------
// Snapshot

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, child)));
    else if (e.isFile()) out.push(child);
  }
  return out;
}

async function listDataDirs(root: string, rel = ''): Promise<string[]> {
  const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (e.name.endsWith(DATA_DIR_SUFFIX)) out.push(child);
    out.push(...(await listDataDirs(root, child)));
  }
  return out.sort();
}

/** pretrain_data.json's paths start with $openmind/; older files held absolute ones: hash it with this export's root replaced by a placeholder. */
async function hashPretrainData(root: string, file: string): Promise<{ sha256: string; size: number }> {
  const text = await fsp.readFile(file, 'utf8');
  const escapedRoot = asciiJson(JSON.stringify(path.resolve(root)).slice(1, -1));
  const normalised = text.split(escapedRoot).join(ROOT_PLACEHOLDER);
  return { sha256: sha256(normalised), size: Buffer.byteLength(normalised) };
}

async function fileEntry(root: string, rel: string): Promise<FileEntry> {
  const abs = path.join(root, rel);
  if (rel === PRETRAIN_FILE) return { path: rel, ...(await hashPretrainData(root, abs)) };
  const [hash, stat] = await Promise.all([sha256File(abs), fsp.stat(abs)]);
  return { path: rel, sha256: hash, size: stat.size };
}

function byUniqueId<T extends Record<string, unknown>>(rows: T[]): T[] {
  const key = (r: T) => String(r.unique_id ?? '');
  // Ties (duplicate ids) break on the whole row, so the order never depends on the file order.
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));
}

async function readCsvRows(root: string): Promise<Record<string, string>[] | null> {
  const text = await fsp.readFile(path.join(root, CSV_FILE), 'utf8').catch(() => null);
  return text === null ? null : byUniqueId(parseCsv(text));
}

async function readParquetRows(root: string): Promise<{ rows: Record<string, ParquetCell>[] | null; error?: string }> {
  const bytes = await fsp.readFile(path.join(root, PARQUET_FILE)).catch(() => null);
  if (bytes === null) return { rows: null };
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  try {
    const rows = (await parquetReadObjects({ file })) as Record<string, unknown>[];
    return { rows: byUniqueId(rows.map((r) => parquetRow(r))) };
  } catch (e) {
    // A damaged table is a finding about the export, not a reason for the verifier to stop.
    return { rows: null, error: `${PARQUET_FILE} cannot be read: ${(e as Error).message}` };
  }
}

function isMaskFile(rel: string): boolean {
  const parts = rel.split('/');
  return parts.length >= 2 && MASK_NAMES.has(parts[parts.length - 1]) && parts[parts.length - 2].endsWith(DATA_DIR_SUFFIX);
}

function isImageFile(rel: string): boolean {
  return /\.nii(\.gz)?$/.test(rel) && !isMaskFile(rel);
}

function duplicateIdProblems(rows: Record<string, string>[]): string[] {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.unique_id, (counts.get(r.unique_id) ?? 0) + 1);
  return [...counts].filter(([, n]) => n > 1).map(([id, n]) => `duplicate unique_id ${id} (${n} rows)`);
}

/** Folders that hold an image somewhere below them (a DWI's `__Data` folder holds its derived maps). */
function foldersWithImages(files: Set<string>): Set<string> {
  const out = new Set<string>();
  for (const f of files) {
    if (!isImageFile(f)) continue;
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join('/'));
  }
  return out;
}

/** `<x>__Data` folders with no image `<x>.nii.gz` beside them and no image inside. */
function orphanProblems(dataDirs: string[], files: Set<string>): string[] {
  const holdsImage = foldersWithImages(files);
  const imageOf = (dir: string) => `${dir.slice(0, -DATA_DIR_SUFFIX.length)}.nii.gz`;
  return dataDirs
    .filter((dir) => !files.has(imageOf(dir)) && !holdsImage.has(dir))
    .map((dir) => `orphan mask folder ${dir} (no image ${imageOf(dir)})`);
}

/** The export's layout: 'openmind' when it has an OpenMind/ folder. */
export async function exportLayoutOf(root: string): Promise<ExportLayout> {
  const stat = await fsp.stat(path.join(root, IMAGES_DIR)).catch(() => null);
  return stat?.isDirectory() ? 'openmind' : 'flat';
}

/** Table paths are relative to the images folder; files are listed relative to the root. */
function tableProblems(rows: Record<string, string>[], files: Set<string>, layout: ExportLayout): string[] {
  const problems: string[] = [];
  const prefix = imagesDirOf(layout) ? `${imagesDirOf(layout)}/` : '';
  const listed = new Set(rows.map((r) => prefix + r.image_path));
  for (const f of files) if (isImageFile(f) && !listed.has(f)) problems.push(`image not in the table: ${f}`);
  for (const r of rows) {
    for (const column of ['image_path', 'anat_mask_path', 'anon_mask_path']) {
      if (r[column] && !files.has(prefix + r[column])) problems.push(`row ${r.unique_id}: ${column} ${prefix}${r[column]} does not exist`);
    }
  }
  return problems;
}

function sameCell(a: ParquetCell, b: ParquetCell): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)));
}

/** The Parquet table must say what the CSV says (compared after normalising both to Parquet types). */
function parquetProblems(csv: Record<string, string>[] | null, parquet: Record<string, ParquetCell>[] | null): string[] {
  if (csv === null || parquet === null) return [];
  if (csv.length !== parquet.length) return [`${PARQUET_FILE} has ${parquet.length} rows, ${CSV_FILE} has ${csv.length}`];
  const problems: string[] = [];
  byUniqueId(csv.map((r) => parquetRow(r))).forEach((row, i) => {
    const columns = OPENMIND_COLUMNS.filter((c) => !sameCell(row[c], parquet[i][c]));
    if (columns.length) problems.push(`${PARQUET_FILE} row ${row.unique_id} differs from ${CSV_FILE} in ${columns.join(', ')}`);
  });
  return problems;
}

/** Everything the verifier compares about one export folder. */
export async function snapshotExport(dir: string): Promise<ExportSnapshot> {
  const root = path.resolve(dir);
  const layout = await exportLayoutOf(root);
  const paths = await listFiles(root);
  const files: FileEntry[] = [];
  for (const rel of paths) files.push(await fileEntry(root, rel)); // one at a time: images can be large
  const fileSet = new Set(paths);
  const csvRows = await readCsvRows(root);
  const parquet = await readParquetRows(root);
  const parquetRows = parquet.rows;
  const problems = [
    ...(csvRows === null ? [`no ${CSV_FILE}`] : []),
    ...(parquet.error ? [parquet.error] : []),
    ...duplicateIdProblems(csvRows ?? []),
    ...orphanProblems(await listDataDirs(root), fileSet),
    ...tableProblems(csvRows ?? [], fileSet, layout),
    ...parquetProblems(csvRows, parquetRows),
  ];
  return { root, layout, files, csvRows, parquetRows, problems };
}

// ---------------------------------------------------------------------------------------------
// Diff

function fileDifferences(a: FileEntry[], b: FileEntry[]): string[] {
  const inA = new Map(a.map((f) => [f.path, f]));
  const inB = new Map(b.map((f) => [f.path, f]));
  const out: string[] = [];
  for (const f of a) {
    const other = inB.get(f.path);
    if (!other) out.push(`missing file: ${f.path}`);
    else if (other.sha256 !== f.sha256) out.push(`changed file: ${f.path} (size ${f.size} -> ${other.size}, sha256 ${f.sha256.slice(0, 12)} -> ${other.sha256.slice(0, 12)})`);
  }
  for (const f of b) if (!inA.has(f.path)) out.push(`extra file: ${f.path}`);
  return out;
}

function firstRowById(rows: Record<string, string>[]): Map<string, Record<string, string>> {
  const m = new Map<string, Record<string, string>>();
  for (const r of rows) if (!m.has(r.unique_id)) m.set(r.unique_id, r);
  return m;
}

/** Rows matched by unique_id: missing, extra and changed (column by column). Duplicates are each export's problem. */
function rowDifferences(a: Record<string, string>[] | null, b: Record<string, string>[] | null): string[] {
  if (a === null || b === null) return [];
  const inA = firstRowById(a);
  const inB = firstRowById(b);
  const out: string[] = [];
  for (const [id, row] of inA) {
    const other = inB.get(id);
    if (!other) {
      out.push(`missing row: ${id}`);
      continue;
    }
    const columns = [...new Set([...Object.keys(row), ...Object.keys(other)])].filter((c) => (row[c] ?? '') !== (other[c] ?? ''));
    if (columns.length) out.push(`changed row ${id}: ${columns.map((c) => `${c} ${JSON.stringify(row[c] ?? '')} -> ${JSON.stringify(other[c] ?? '')}`).join('; ')}`);
  }
  for (const id of inB.keys()) if (!inA.has(id)) out.push(`extra row: ${id}`);
  return out;
}

/**
 * What differs from export a (the reference) to export b: files (missing/extra/changed), table rows
 * (missing/extra/changed), then each export's own problems prefixed with its label.
 */
export function diffSnapshots(a: ExportSnapshot, b: ExportSnapshot, labels: [string, string] = ['a', 'b']): SnapshotDiff {
  const differences = [
    ...fileDifferences(a.files, b.files),
    ...rowDifferences(a.csvRows, b.csvRows),
    ...a.problems.map((p) => `[${labels[0]}] ${p}`),
    ...b.problems.map((p) => `[${labels[1]}] ${p}`),
  ];
  return { identical: differences.length === 0, differences };
}
