// Ingest step (I/O queue): list a dataset, classify each image by BIDS suffix, register scans.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps.js';
import type { DatasetSource, ScanRef } from '../lib/pipeline-types.js';
import { classifyImage, isSafeRelativePath, parseBidsPath, scanIdFor } from '../lib/bids/index.js';
import { InputFileError, readInputJson, resolveInScope } from '../lib/input-files.js';
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

/** A file the listing refused to read, with the reason (recorded on the scan, or in the dataset's ingest report). */
export interface RefusedFile {
  path: string;
  reason: 'unsafe_name' | 'outside_dataset' | 'not_regular_file' | 'too_deep';
  message: string;
}

/** Folder nesting beyond which a listing stops: no BIDS dataset is this deep. */
const MAX_FOLDER_DEPTH = 16;

/**
 * Walk a local BIDS folder without trusting it. Regular files are listed; broken links (git-annex
 * without content) are listed with size null. Refused: names a BIDS path cannot have (control
 * characters, quotes, backslashes), links whose target lies outside the dataset's real root and the
 * allowed roots, named pipes, sockets and devices, and folders nested too deep.
 */
export async function listLocalFolder(root: string, allowedRoots: string[] = []): Promise<{ files: ListedFile[]; refused: RefusedFile[] }> {
  const files: ListedFile[] = [];
  const refused: RefusedFile[] = [];
  const scope = { root, allowedRoots };
  async function walk(rel: string, depth: number): Promise<void> {
    const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (!isSafeRelativePath(p)) {
        refused.push({ path: p, reason: 'unsafe_name', message: `the name ${JSON.stringify(e.name)} has characters a BIDS path cannot have` });
        continue;
      }
      const full = path.join(root, p);
      if (e.isDirectory()) {
        if (depth >= MAX_FOLDER_DEPTH) refused.push({ path: p, reason: 'too_deep', message: `folders nest deeper than ${MAX_FOLDER_DEPTH} levels; not listed` });
        else await walk(p, depth + 1);
        continue;
      }
      if (e.isSymbolicLink()) {
        let real: string;
        try {
          real = await resolveInScope(full, scope);
        } catch (err) {
          if (err instanceof InputFileError && err.reason === 'missing') {
            files.push({ path: p, size: null, mtimeMs: null });
            continue;
          }
          if (err instanceof InputFileError) refused.push({ path: p, reason: err.reason as RefusedFile['reason'], message: err.message });
          else throw err;
          continue;
        }
        const st = await fsp.stat(real);
        if (st.isDirectory()) continue;
        if (!st.isFile()) refused.push({ path: p, reason: 'not_regular_file', message: `${p} links to something that is not a regular file` });
        else files.push({ path: p, size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
        continue;
      }
      if (!e.isFile()) {
        refused.push({ path: p, reason: 'not_regular_file', message: `${p} is not a regular file (a named pipe, socket or device)` });
        continue;
      }
      const st = await fsp.lstat(full);
      files.push({ path: p, size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
    }
  }
  await walk('', 0);
  return { files, refused };
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
    if (!st) throw ApplicationFailure.nonRetryable(`dataset folder ${root} does not exist`, 'InvalidInput', { reason: 'missing_dataset' });
    if (!st.isDirectory()) throw ApplicationFailure.nonRetryable(`${root} is a file, not a dataset folder`, 'InvalidInput', { reason: 'not_a_folder' });
    const prior = await findDataset(db, datasetId);
    if (prior && prior.source_kind === 'local' && prior.source_uri !== root) {
      throw ApplicationFailure.nonRetryable(
        `dataset id ${datasetId} already belongs to ${prior.source_uri}; give ${root} its own id (the source's datasetId)`,
        'InvalidInput', { reason: 'dataset_id_taken', existing: prior.source_uri },
      );
    }
    const allowedRoots = (source.allowedRoots ?? []).map((r) => path.resolve(r));
    const { files, refused } = await listLocalFolder(root, allowedRoots);
    const version = hashJson([files.map((f) => [f.path, f.size, f.mtimeMs]), refused.map((r) => [r.path, r.reason])]).slice(0, 16);
    const { description, issue } = await readDescription(root, allowedRoots);
    const ingestIssues = [...(issue ? [issue] : []), ...refused.filter((r) => !classifyImage(r.path))];
    await upsertLocalDataset(db, {
      id: datasetId,
      source_uri: root,
      version,
      doi: typeof description?.DatasetDOI === 'string' ? description.DatasetDOI : null,
      name: typeof description?.Name === 'string' ? description.Name : null,
      metadata: JSON.stringify({ description: description ?? null, allowedRoots, ingestIssues }),
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
    // A refused image is a scan that failed here, with its reason: visible in status and the summary, never read.
    for (const r of refused) {
      const cls = classifyImage(r.path);
      const bids = cls && parseBidsPath(r.path);
      if (!cls || !bids) continue;
      scans++;
      const id = scanIdFor(datasetId, r.path);
      const fingerprint = `refused:${r.reason}`;
      if (known.get(id) === fingerprint) continue;
      subjects.add(bids.subject);
      sessions.set(`${bids.subject}/${bids.session}`, { subjectId: bids.subject, sessionId: bids.session });
      changed.set(id, {
        id, dataset_id: datasetId, subject_id: bids.subject, session_id: bids.session, path: r.path, datatype: bids.datatype, suffix: bids.suffix,
        modality: cls.modality, kind: cls.kind, file_path: path.join(root, r.path), bytes: null, annex_key: fingerprint, content_hash: null, dims: null,
        voxel_size: null, datatype_name: null, status: 'failed', failure_step: 'ingestDataset', failure_reason: r.reason, failure_message: r.message, metadata: null,
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

/** dataset_description.json, read as any input file; a refusal or invalid JSON becomes an ingest issue, not a failure. */
async function readDescription(root: string, allowedRoots: string[]): Promise<{ description: Record<string, unknown> | null; issue?: { path: string; reason: string; message: string } }> {
  const file = path.join(root, 'dataset_description.json');
  try {
    const v = await readInputJson(file, { scope: { root, allowedRoots } });
    if (v && typeof v === 'object' && !Array.isArray(v)) return { description: v as Record<string, unknown> };
    return { description: null, issue: { path: 'dataset_description.json', reason: 'json_not_object', message: 'dataset_description.json does not hold an object' } };
  } catch (err) {
    if (!(err instanceof InputFileError)) throw err;
    if (err.reason === 'missing') return { description: null };
    return { description: null, issue: { path: 'dataset_description.json', reason: err.reason, message: err.message } };
  }
}
