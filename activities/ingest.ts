// Ingest step (I/O queue): list a dataset, classify each image by BIDS suffix, register scans.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps.js';
import type { DatasetSource, ScanRef } from '../lib/pipeline-types.js';
import { classifyImage, parseBidsPath, scanIdFor } from '../lib/bids/index.js';
import { hashJson } from '../lib/files.js';
import type { NewScan } from '../db/tables/scans.js';
import { annexKeysOf, registerScans, scanPage } from '../db/repositories/scans.js';
import { findDataset, upsertLocalDataset } from '../db/repositories/datasets.js';
import { addSubjects } from '../db/repositories/subjects.js';
import { addSessions } from '../db/repositories/sessions.js';

export interface ListedFile {
  path: string;
  size: number | null; // null: listed but not present (broken link, annex content missing)
  mtimeMs: number | null;
  key?: string | null;
}

/** Walk a local BIDS folder. Broken links (git-annex without content) are listed with size null. */
export async function listLocalFolder(root: string): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      const st = await fsp.stat(path.join(root, p)).catch(() => null);
      if (st?.isDirectory()) continue;
      out.push({ path: p, size: st ? st.size : null, mtimeMs: st ? Math.floor(st.mtimeMs) : null });
    }
  }
  await walk('');
  return out;
}

export function datasetIdForFolder(folder: string): string {
  const base = path.basename(path.resolve(folder));
  const slug = base.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return slug || 'dataset';
}

export interface IngestResult {
  datasetId: string;
  version: string;
  scans: number;
  changedScans: number;
  skipped: boolean;
  inputHash: string;
  outputHash: string;
}

export function createIngestActivities(deps: ActivityDeps) {
  const { db } = deps;

  /** Register the dataset and its scans. Unchanged files keep their rows and status (resume). */
  async function ingestDataset(input: { datasetId: string; crawlId?: string; source: DatasetSource }): Promise<IngestResult> {
    const { source, datasetId } = input;
    if (source.kind !== 'local') {
      throw ApplicationFailure.nonRetryable(`source kind ${source.kind} is not handled by ingestDataset`, 'UnsupportedData');
    }
    const root = path.resolve(source.path);
    const st = await fsp.stat(root).catch(() => null);
    if (!st?.isDirectory()) {
      throw ApplicationFailure.nonRetryable(`dataset folder ${root} does not exist`, 'InvalidInput', { reason: 'missing_dataset' });
    }
    const files = await listLocalFolder(root);
    const version = hashJson(files.map((f) => [f.path, f.size, f.mtimeMs])).slice(0, 16);
    const description = await readJsonQuiet(path.join(root, 'dataset_description.json'));
    const prior = await findDataset(db, datasetId);
    await upsertLocalDataset(db, {
      id: datasetId,
      source_uri: root,
      version,
      doi: typeof description?.DatasetDOI === 'string' ? description.DatasetDOI : null,
      name: typeof description?.Name === 'string' ? description.Name : null,
      metadata: JSON.stringify({ description: description ?? null }),
    });

    let scans = 0;
    const known = await annexKeysOf(db, datasetId);
    const changed = new Map<string, NewScan>(); // by id: the last file of an id wins, as one statement may not touch a row twice
    const subjects = new Set<string>();
    const sessions = new Map<string, { subjectId: string; sessionId: string }>();
    for (const f of files) {
      const cls = classifyImage(f.path);
      if (!cls) continue;
      const bids = parseBidsPath(f.path)!;
      subjects.add(bids.subject);
      sessions.set(`${bids.subject}/${bids.session}`, { subjectId: bids.subject, sessionId: bids.session });
      scans++;
      const id = scanIdFor(datasetId, f.path);
      const fingerprint = `${f.size}:${f.mtimeMs}`; // local files: size:mtime stands in for the annex key
      if (known.get(id) === fingerprint) continue;
      changed.set(id, {
        id, dataset_id: datasetId, subject_id: bids.subject, session_id: bids.session, path: f.path, datatype: bids.datatype, suffix: bids.suffix,
        modality: cls.modality, kind: cls.kind, file_path: path.join(root, f.path), bytes: f.size, annex_key: fingerprint, content_hash: null, dims: null,
        voxel_size: null, datatype_name: null, status: 'registered', failure_step: null, failure_reason: null, failure_message: null, metadata: null,
      });
    }
    // A changed file starts over; its harmonized metadata stays.
    await registerScans(db, [...changed.values()], { columns: ['file_path', 'bytes', 'annex_key', 'content_hash', 'status', 'failure_step', 'failure_reason', 'failure_message'] });
    const changedScans = changed.size;
    await addSubjects(db, datasetId, subjects);
    await addSessions(db, datasetId, sessions.values());
    const unchanged = prior?.version === version && changedScans === 0;
    return { datasetId, version, scans, changedScans, skipped: unchanged, inputHash: version, outputHash: hashJson({ version, scans }) };
  }

  /** A page of a dataset's scans, in id order; the workflow pages so its history stays small. */
  async function listScanPage(input: { datasetId: string; after?: string; limit: number }): Promise<ScanRef[]> {
    const ds = await findDataset(db, input.datasetId);
    const rows = await scanPage(db, input.datasetId, input);
    const remote = ds?.source_kind === 'openneuro';
    return rows.map((r) => ({ scanId: r.id, datasetId: r.dataset_id, path: r.path, kind: r.kind, modality: r.modality, ...(remote ? { remote } : {}) }));
  }

  return { ingestDataset, listScanPage };
}

async function readJsonQuiet(file: string): Promise<Record<string, unknown> | null> {
  try {
    const v = JSON.parse((await fsp.readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}
