// `openmind export --out <dir> [filters]` and `openmind verify --against <dir>`.
//
// The export is OpenMind's layout, as its download and nnssl's converter have it: the tables,
// pretrain_data.json and README.md in <dir>, the images and masks under <dir>/OpenMind/<dataset>/...
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { DB } from '../../db/database.js';
import { metadataRows, writeCollectionFilesAt } from '../../activities/export.js';
import { filterRows, parseFilterArgs, describeFilters, type ExportFilterArgs } from '../../lib/export/filters.js';
import { fileInExport, IMAGES_DIR, ROOT_VARIABLE } from '../../lib/export/table.js';
import { copyFileAtomic, sha256File } from '../../lib/files.js';
import { diffSnapshots, snapshotExport } from '../../lib/export/verify.js';
import { ProgressLine } from '../progress.js';

export class ExportTargetError extends Error {
  readonly reason = 'invalid_export_target';
  constructor(message: string) {
    super(message);
    this.name = 'ExportTargetError';
  }
}

/**
 * Copy the filtered images and their masks from the pipeline's working export (sourceRoot, flat) into
 * `out/OpenMind/`, then write the tables, pretrain_data.json and the card into `out`.
 */
export async function runExport(db: DB, sourceRoot: string, out: string, args: ExportFilterArgs & { dataDir: string }): Promise<{ rows: number; copied: number; kept: number; written: string[] }> {
  const filters = parseFilterArgs(args);
  const outRoot = path.resolve(out);
  const src = path.resolve(sourceRoot);
  if (outRoot === src || src.startsWith(outRoot + path.sep) || outRoot.startsWith(src + path.sep)) {
    throw new ExportTargetError(`--out ${outRoot} must lie outside the pipeline's working export ${src} (and not contain it)`);
  }
  const all = await metadataRows({ db }, src);
  const rows = filterRows(all, filters);
  const bar = new ProgressLine();
  let copied = 0;
  let kept = 0;
  for (const [i, r] of rows.entries()) {
    for (const rel of [r.image_path, r.anat_mask_path, r.anon_mask_path].filter((p): p is string => typeof p === 'string' && p.length > 0)) {
      const from = fileInExport(src, 'openmind', rel);
      const dest = fileInExport(outRoot, 'openmind', rel);
      const same = fs.existsSync(dest) && (await fsp.stat(dest)).size === (await fsp.stat(from)).size && (await sha256File(dest)) === (await sha256File(from));
      if (same) kept++;
      else {
        await copyFileAtomic(from, dest);
        copied++;
      }
    }
    bar.update({ label: 'export', done: i + 1, total: rows.length });
  }
  bar.finish();
  const written = await writeCollectionFilesAt(db, outRoot, rows, { filters, dataDir: args.dataDir, layout: 'openmind' });
  console.log(`${rows.length} of ${all.length} images selected${describeFilters(filters).length ? ` (${describeFilters(filters).join('; ')})` : ''}`);
  console.log(`${copied} files copied, ${kept} unchanged; tables written: ${written.join(', ') || 'none (unchanged)'}`);
  const odd = [...new Set(rows.map((r) => String(r.image_path).split('/')[0]))].filter((id) => id.length !== 8);
  if (odd.length) console.log(`note: nnssl's converter takes a dataset's quality scores from unique_id[:8]; ${odd.join(', ')} ${odd.length === 1 ? 'is' : 'are'} not 8 characters long, so only pretrain_data.json (not a reconversion of the CSV) has their scores`);
  console.log(`export in ${outRoot} (images under ${IMAGES_DIR}/); for nnssl: export ${ROOT_VARIABLE}=${outRoot}`);
  return { rows: rows.length, copied, kept, written };
}

/** Compare an export with a reference export: files, hashes, rows, duplicates and orphans. */
export async function runVerify(against: string, current: string, opts: { json?: boolean }): Promise<boolean> {
  const [ref, run] = await Promise.all([snapshotExport(path.resolve(against)), snapshotExport(path.resolve(current))]);
  const diff = diffSnapshots(ref, run, ['reference', 'run']);
  if (opts.json) console.log(JSON.stringify(diff, null, 2));
  else {
    console.log(diff.identical ? `identical: ${current} matches ${against}` : `${diff.differences.length} differences:`);
    for (const d of diff.differences.slice(0, 200)) console.log(`  ${d}`);
  }
  return diff.identical;
}
