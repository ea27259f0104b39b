// Export step (I/O queue): the OpenMind layout under the export root, rebuilt from the database.
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
import { copyFileAtomic, fileExists, hashJson, sha256, writeFileAtomic } from '../lib/files.js';
import { exportPathsFor, toCsv, type OpenMindRow } from '../lib/export/table.js';

export const EXPORT_VERSION = '1';
const MASK_FILES: Record<string, 'defaceMask' | 'fbMask'> = { deface_mask: 'defaceMask', fb_mask: 'fbMask' };

export function createExportActivities(deps: ActivityDeps) {
  const { db } = deps;
  const rootOf = (exportDir?: string) => path.resolve(exportDir ?? deps.exportDir ?? path.join(deps.dataDir, 'export'));

  /** Copy every completed 3D image of the dataset (and its masks) into the layout; unchanged files are skipped. */
  async function exportDataset(input: { datasetId: string; exportDir?: string }): Promise<StepResult<{ files: number; written: number; exportDir: string }>> {
    const root = rootOf(input.exportDir);
    const scans = await db
      .selectFrom('scans')
      .select(['id', 'path', 'file_path', 'content_hash'])
      .where('dataset_id', '=', input.datasetId)
      .where('status', '=', 'completed')
      .where('kind', '=', '3d')
      .orderBy('id')
      .execute();
    const derived = await db
      .selectFrom('derived_files')
      .select(['scan_id', 'kind', 'path', 'content_hash'])
      .where('scan_id', 'in', scans.length ? scans.map((s) => s.id) : [''])
      .execute();
    let written = 0;
    let files = 0;
    for (const scan of scans) {
      const paths = exportPathsFor(input.datasetId, scan.path);
      const masks = derived.filter((d) => d.scan_id === scan.id && MASK_FILES[d.kind]);
      const inputHash = hashJson({ image: scan.content_hash, masks: masks.map((m) => [m.kind, m.content_hash]), root });
      const outcome = await runIdempotentStep(db, { datasetId: input.datasetId, scanId: scan.id, step: 'export', stepVersion: EXPORT_VERSION, inputHash }, {
        verify: async (r: { files: string[] }) => (await Promise.all(r.files.map((f) => fileExists(path.join(root, f))))).every(Boolean),
        compute: async () => {
          const out: string[] = [paths.image];
          const gz = scan.file_path.endsWith('.gz');
          await copyFileAtomic(scan.file_path, path.join(root, paths.image), gz ? undefined : zlib.createGzip({ level: 6 }));
          for (const m of masks) {
            const rel = paths[MASK_FILES[m.kind]];
            await copyFileAtomic(m.path, path.join(root, rel));
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

  /** Rebuild `openneuro_metadata.csv` from the database; rewritten only when its content changes. */
  async function writeMetadataTable(input: { exportDir?: string; datasetId?: string }): Promise<StepResult<{ rows: number; path: string }>> {
    const root = rootOf(input.exportDir);
    const rows = await metadataRows(deps, root);
    const csv = toCsv(rows);
    const file = path.join(root, 'openneuro_metadata.csv');
    const hash = sha256(csv);
    const existing = await fsp.readFile(file, 'utf8').catch(() => null);
    const unchanged = existing !== null && sha256(existing) === hash;
    if (!unchanged) await writeFileAtomic(file, csv);
    return { skipped: unchanged, inputHash: hash, outputHash: hash, result: { rows: rows.length, path: file } };
  }

  return { exportDataset, writeMetadataTable };
}

/** One row per exported image, with the harmonized metadata the pipeline knows so far. */
export async function metadataRows(deps: ActivityDeps, root: string): Promise<OpenMindRow[]> {
  const scans = await deps.db
    .selectFrom('scans')
    .select(['id', 'dataset_id', 'path', 'modality', 'metadata', 'derived_from'])
    .where('status', '=', 'completed')
    .where('kind', '=', '3d')
    .orderBy('id')
    .execute();
  const masks = await deps.db.selectFrom('derived_files').select(['scan_id', 'kind']).where('kind', 'in', ['deface_mask', 'fb_mask']).execute();
  const hasMask = new Set(masks.map((m) => `${m.scan_id}|${m.kind}`));
  const rows: OpenMindRow[] = [];
  for (const s of scans) {
    const p = exportPathsFor(s.dataset_id, s.path);
    if (!(await fileExists(path.join(root, p.image)))) continue;
    const m = (s.metadata ?? {}) as { export?: OpenMindRow; quality?: { score: number } | null };
    const meta = (m.export ?? {}) as OpenMindRow;
    rows.push({
      ...meta,
      image_path: p.image,
      anat_mask_path: hasMask.has(`${s.id}|fb_mask`) ? p.fbMask : '',
      anon_mask_path: hasMask.has(`${s.id}|deface_mask`) ? p.defaceMask : '',
      modality: s.modality,
      unique_id: s.id,
      derived_from: s.derived_from ?? '',
      // Only the raters' aggregate goes in the published column; a prediction stays in the database.
      image_quality_score: m.quality?.score ?? '',
    });
  }
  return rows;
}
