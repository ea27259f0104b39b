// `openmind export --out <dir> [filters]` and `openmind verify --against <dir>`.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { DB } from '../../db/database.js';
import { metadataRows, writeCollectionFilesAt } from '../../activities/export.js';
import { filterRows, parseFilterArgs, describeFilters, type ExportFilterArgs } from '../../lib/export/filters.js';
import { copyFileAtomic, sha256File } from '../../lib/files.js';
import { diffSnapshots, snapshotExport } from '../../lib/export/verify.js';
import { ProgressLine } from '../progress.js';

/** Copy the filtered images and their masks from the pipeline's export into `out`, then write the tables. */
export async function runExport(db: DB, sourceRoot: string, out: string, args: ExportFilterArgs & { dataDir: string }): Promise<void> {
  const filters = parseFilterArgs(args);
  const all = await metadataRows({ db, dataDir: args.dataDir }, sourceRoot);
  const rows = filterRows(all, filters);
  const outRoot = path.resolve(out);
  const bar = new ProgressLine();
  let copied = 0;
  let kept = 0;
  for (const [i, r] of rows.entries()) {
    for (const rel of [r.image_path, r.anat_mask_path, r.anon_mask_path].filter((p): p is string => typeof p === 'string' && p.length > 0)) {
      const src = path.join(sourceRoot, rel);
      const dest = path.join(outRoot, rel);
      if (path.resolve(src) === path.resolve(dest)) continue;
      const same = fs.existsSync(dest) && (await fsp.stat(dest)).size === (await fsp.stat(src)).size && (await sha256File(dest)) === (await sha256File(src));
      if (same) kept++;
      else {
        await copyFileAtomic(src, dest);
        copied++;
      }
    }
    bar.update({ label: 'export', done: i + 1, total: rows.length });
  }
  bar.finish();
  const written = await writeCollectionFilesAt(db, outRoot, rows, filters, args.dataDir);
  console.log(`${rows.length} of ${all.length} images selected${describeFilters(filters).length ? ` (${describeFilters(filters).join('; ')})` : ''}`);
  console.log(`${copied} files copied, ${kept} unchanged; tables written: ${written.join(', ') || 'none (unchanged)'}`);
  console.log(`export in ${outRoot}`);
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
