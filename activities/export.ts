// Export step (I/O queue): the pipeline's working export, rebuilt from the database, in OpenMind's layout
// (images and masks under <root>/OpenMind/, the collection files at the root), as `openmind export --out`
// writes a filtered copy of it.
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
import { copyFileAtomic, fileExists, hashJson, sha256, writeFileAtomic } from '../lib/files.js';
import { CSV_FILE, exportPathsFor, fileInExport, normaliseRow, toCsv, type ExportLayout, type OpenMindRow } from '../lib/export/table.js';
import { encodeMetadataParquet, PARQUET_FILE } from '../lib/export/parquet.js';
import { buildPretrainData, formatPretrainData, PRETRAIN_FILE } from '../lib/export/nnssl.js';
import { datasetCardMarkdown, writeDatasetCard, type SourceDataset } from '../lib/export/card.js';
import { filterRows, isEmptyFilter, type ExportFilters } from '../lib/export/filters.js';
import type { DB } from '../db/database.js';
import { readInputJson } from '../lib/input-files.js';
import { completed3dScans } from '../db/repositories/scans.js';
import { derivedFilesWhere, maskMethodCounts } from '../db/repositories/derived-files.js';
import { datasetsWithIds } from '../db/repositories/datasets.js';

export const EXPORT_VERSION = '2';
/** The working export is laid out as OpenMind's download, so nnssl reads it as it is. */
const LAYOUT: ExportLayout = 'openmind';
const MASK_FILES: Record<string, 'defaceMask' | 'fbMask'> = { deface_mask: 'defaceMask', fb_mask: 'fbMask' };

export function createExportActivities(deps: ActivityDeps) {
  const { db } = deps;
  const rootOf = (exportDir?: string) => path.resolve(exportDir ?? deps.exportDir ?? path.join(deps.dataDir, 'export'));

  /** Copy every completed 3D image of the dataset (and its masks) into the layout; unchanged files are skipped. */
  async function exportDataset(input: { datasetId: string; exportDir?: string }): Promise<StepResult<{ files: number; written: number; exportDir: string }>> {
    const root = rootOf(input.exportDir);
    const scans = await completed3dScans(db, input.datasetId);
    const derived = await derivedFilesWhere(db, { scanIds: scans.map((s) => s.id) });
    let written = 0;
    let files = 0;
    for (const scan of scans) {
      const paths = exportPathsFor(input.datasetId, scan.path);
      const masks = derived.filter((d) => d.scan_id === scan.id && MASK_FILES[d.kind]);
      const inputHash = hashJson({ image: scan.content_hash, masks: masks.map((m) => [m.kind, m.content_hash]), root });
      const outcome = await runIdempotentStep(db, { datasetId: input.datasetId, scanId: scan.id, step: 'export', stepVersion: EXPORT_VERSION, inputHash }, {
        verify: async (r: { files: string[] }) => (await Promise.all(r.files.map((f) => fileExists(fileInExport(root, LAYOUT, f))))).every(Boolean),
        compute: async () => {
          const out: string[] = [paths.image];
          const gz = scan.file_path.endsWith('.gz');
          await copyFileAtomic(scan.file_path, fileInExport(root, LAYOUT, paths.image), gz ? undefined : zlib.createGzip({ level: 6 }));
          for (const m of masks) {
            const rel = paths[MASK_FILES[m.kind]];
            await copyFileAtomic(m.path, fileInExport(root, LAYOUT, rel));
            out.push(rel);
          }
          return { result: { files: out }, outputHash: inputHash };
        },
      });
      files += outcome.result.files.length;
      if (!outcome.skipped) written += outcome.result.files.length;
    }
    const inputHash = hashJson(scans.map((s) => [s.id, s.content_hash]));
    return { skipped: written === 0, inputHash, outputHash: hashJson({ files, root }), result: { files, written, exportDir: root } };
  }

  /**
   * Rebuild the collection-level files from the database: `openneuro_metadata.csv`, the same table
   * as Parquet, nnssl's `pretrain_data.json`, and the dataset card (README.md + age/sex plots).
   * Each is rewritten only when its content changes, so a rerun touches only what changed.
   */
  async function writeCollectionFiles(input: { exportDir?: string; datasetId?: string; filters?: ExportFilters }): Promise<StepResult<{ rows: number; path: string; written: string[] }>> {
    const root = rootOf(input.exportDir);
    const rows = filterRows(await metadataRows(deps, root), input.filters ?? {});
    const written = await writeCollectionFilesAt(deps.db, root, rows, { filters: input.filters, layout: LAYOUT });
    const hash = sha256(toCsv(rows));
    return { skipped: written.length === 0, inputHash: hash, outputHash: hash, result: { rows: rows.length, path: path.join(root, CSV_FILE), written } };
  }

  // writeMetadataTable: the same activity under its name before 2026-12, for runs scheduled then.
  return { exportDataset, writeCollectionFiles, writeMetadataTable: writeCollectionFiles };
}

/** One row per image of the working export at root, with the harmonized metadata the pipeline knows so far. */
export async function metadataRows(deps: Pick<ActivityDeps, 'db'>, root: string): Promise<OpenMindRow[]> {
  const scans = await completed3dScans(deps.db);
  const masks = await derivedFilesWhere(deps.db, { kinds: ['deface_mask', 'fb_mask'] });
  const hasMask = new Set(masks.map((m) => `${m.scan_id}|${m.kind}`));
  const rows: OpenMindRow[] = [];
  for (const s of scans) {
    const p = exportPathsFor(s.dataset_id, s.path);
    if (!(await fileExists(fileInExport(root, LAYOUT, p.image)))) continue;
    const m = (s.metadata ?? {}) as { export?: OpenMindRow; quality?: { score: number } | null };
    const meta = (m.export ?? {}) as OpenMindRow;
    rows.push(normaliseRow({
      ...meta,
      image_path: p.image,
      anat_mask_path: hasMask.has(`${s.id}|fb_mask`) ? p.fbMask : '',
      anon_mask_path: hasMask.has(`${s.id}|deface_mask`) ? p.defaceMask : '',
      modality: s.modality,
      unique_id: s.id,
      derived_from: s.derived_from ?? '',
      // Only the raters' aggregate goes in the published column; a prediction stays in the database.
      image_quality_score: m.quality?.score ?? '',
    }));
  }
  return rows;
}

/** Write a file only when its bytes differ from what is there; returns whether it wrote. */
async function writeIfChanged(file: string, data: Uint8Array | string): Promise<boolean> {
  const existing = await fsp.readFile(file).catch(() => null);
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  if (existing && existing.equals(bytes)) return false;
  await writeFileAtomic(file, bytes);
  return true;
}

/** Licence and attribution per source dataset, for the dataset card. */
export async function sourceDatasets(db: DB, datasetIds: string[], dataDir: string): Promise<SourceDataset[]> {
  const rows = await datasetsWithIds(db, datasetIds);
  const out: SourceDataset[] = [];
  for (const d of rows) {
    let desc = (d.metadata as { description?: Record<string, unknown> } | null)?.description ?? null;
    if (!desc && d.source_kind === 'openneuro') {
      // A local folder's description was read (or refused, with its reason) at ingest; an OpenNeuro one
      // is in the raw folder. Read as any input file: a pipe, a link out or invalid JSON gives no description.
      const root = path.join(dataDir, 'raw', d.id);
      const v = await readInputJson(path.join(root, 'dataset_description.json'), { scope: { root } }).catch(() => null);
      desc = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    }
    const authors = Array.isArray(desc?.Authors) ? (desc!.Authors as unknown[]).map(String) : undefined;
    out.push({
      datasetId: d.id,
      sourceKind: d.source_kind,
      localPath: d.source_kind === 'local' ? d.source_uri : undefined,
      name: d.name ?? (desc?.Name as string | undefined),
      license: desc?.License as string | undefined,
      authors,
      doi: d.doi ?? undefined,
      version: d.version ?? undefined,
    });
  }
  return out;
}

export interface CollectionFileOptions {
  filters?: ExportFilters;
  /** Where dataset descriptions of OpenNeuro datasets are (default: the root's parent, the data folder). */
  dataDir?: string;
  /** 'openmind': images under OpenMind/ (the working export and openmind export --out); 'flat': directly under the root (exports made before 2026-12). */
  layout: ExportLayout;
}

/** The four collection files, each written only when changed. Returns the files written. */
export async function writeCollectionFilesAt(db: DB, root: string, rows: OpenMindRow[], opts: CollectionFileOptions): Promise<string[]> {
  const written: string[] = [];
  const put = async (name: string, data: Uint8Array | string) => {
    if (await writeIfChanged(path.join(root, name), data)) written.push(name);
  };
  await put(CSV_FILE, toCsv(rows));
  await put(PARQUET_FILE, encodeMetadataParquet(rows));
  await put(PRETRAIN_FILE, formatPretrainData(buildPretrainData(rows, { layout: opts.layout })));
  const datasets = [...new Set(rows.map((r) => String(r.image_path).split('/')[0]))];
  const sources = await sourceDatasets(db, datasets, opts.dataDir ?? path.dirname(root));
  const filters = opts.filters;
  const maskMethods = await maskMethodCounts(db, datasets);
  const card = { sources, filters: filters && !isEmptyFilter(filters) ? filters : undefined, layout: opts.layout, maskMethods };
  const readme = datasetCardMarkdown(rows, card);
  const existing = await fsp.readFile(path.join(root, 'README.md'), 'utf8').catch(() => null);
  if (existing !== readme) {
    await writeDatasetCard(root, rows, card);
    written.push('README.md');
  }
  return written;
}
