// OpenNeuro source activities (I/O queue): the catalog, a snapshot's ingest (listing, selection,
// metadata downloads, scan registration) and one image's resumable verified download.
import path from 'node:path';
import fsp from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps.js';
import type { DatasetSource, StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
import { runScanStep } from './step.js';
import type { ScanStepInput } from '../workflows/steps.js';
import { nonRetryableFrom } from './failures.js';
import type { NewScan } from '../db/tables/scans.js';
import { annexKeysOf, countScansOf, registerScans } from '../db/repositories/scans.js';
import { findDataset, markDatasetIngested, registerOpenNeuroDataset } from '../db/repositories/datasets.js';
import { addSubjects } from '../db/repositories/subjects.js';
import { addSessions } from '../db/repositories/sessions.js';
import { setProgress } from './heartbeat.js';
import { fileSafeName, hashJson, safeJoin, sha256, sha256File, UnsafePathError, writeFileAtomic } from '../lib/files.js';
import { classifyImage, parseBidsPath, scanIdFor } from '../lib/bids/index.js';
import {
  candidateUrls, downloadFile, graphqlRequest, isAlreadyDownloaded, isOpenNeuroError, listCatalog, listSnapshotFiles, selectFiles,
  type Selected, type SnapshotFile,
} from '../services/openneuro/index.js';

// 2: paths unsafe under the raw folder are refused in the listing itself.
export const LISTING_VERSION = '2';

/** What listOpenNeuroSnapshot stores on disk: the selection, and why files were refused. */
type StoredListing = { snapshot: LatestSnapshot; endpoint: string; method: string; fallbackReason: string | null; files: number } & {
  selected: Selected<SnapshotFile>[];
  refused: { path: string; reason: string; why: string }[];
};

/** Small JSON for the workflow: where the listing is, not the listing. */
export type ListedSnapshot =
  | { datasetId: string; version: string; unchanged: true; scans: number; skipped: true; inputHash: string; outputHash: string }
  | {
      datasetId: string; version: string; unchanged: false; skipped: boolean; listingFile: string; listingHash: string;
      files: number; selected: number; images: number; method: string; inputHash: string; outputHash: string;
    };

const DEFAULT_ENDPOINT = 'https://openneuro.org';

interface LatestSnapshot {
  tag: string;
  hexsha?: string;
  created?: string;
  name?: string;
  doi?: string;
}

const LATEST_QUERY = `query Latest($id: ID!) { dataset(id: $id) { id latestSnapshot { id tag created hexsha description { Name DatasetDOI } } } }`;

async function latestSnapshot(endpoint: string, datasetId: string): Promise<LatestSnapshot> {
  const data = await graphqlRequest<{ dataset: { latestSnapshot: { tag: string; hexsha?: string; created?: string; description?: { Name?: string; DatasetDOI?: string } } | null } | null }>(
    endpoint, LATEST_QUERY, { id: datasetId },
  );
  const snap = data.dataset?.latestSnapshot;
  if (!snap) throw ApplicationFailure.nonRetryable(`OpenNeuro has no snapshot of ${datasetId}`, 'InvalidInput', { reason: 'no_snapshot' });
  return { tag: snap.tag, hexsha: snap.hexsha ?? undefined, created: snap.created ?? undefined, name: snap.description?.Name ?? undefined, doi: snap.description?.DatasetDOI ?? undefined };
}

/** Map a lib/openneuro error to a Temporal failure: bad data is final, the network is retried. */
function asFailure(e: unknown): unknown {
  if (e instanceof UnsafePathError) return nonRetryableFrom({ message: e.message, reason: 'unsafe_path' });
  if (isOpenNeuroError(e) && ['checksum_mismatch', 'size_mismatch', 'html_instead_of_data', 'not_found', 'unsafe_path'].includes(e.reason)) {
    return nonRetryableFrom({ message: e.message, reason: e.reason });
  }
  return e;
}

export function createOpenNeuroActivities(deps: ActivityDeps) {
  const { db } = deps;
  const endpointOf = (source?: { endpoint?: string }) => source?.endpoint ?? deps.openneuroEndpoint ?? DEFAULT_ENDPOINT;
  const rawRoot = (datasetId: string) => safeJoin(path.join(deps.dataDir, 'raw'), datasetId);

  /** Dataset ids of the public MRI catalog. */
  async function listOpenNeuroDatasets(input: { endpoint?: string }): Promise<string[]> {
    const entries = await listCatalog(endpointOf(input));
    return entries.map((e) => e.datasetId);
  }

  /**
   * Ingest of an OpenNeuro snapshot, step 1 of 3: find the snapshot and list its files. An
   * unchanged snapshot of a fully ingested dataset (same tag and hexsha) is reported `unchanged`
   * without listing. Otherwise the selected files go to a listing file under dataDir (ledger-backed
   * by snapshot + selection), so a retry after a killed worker reuses it instead of listing again:
   * a 26k-file snapshot under faults can take longer than a worker lives.
   */
  async function listOpenNeuroSnapshot(input: { datasetId: string; crawlId?: string; source: DatasetSource & { kind: 'openneuro' } }): Promise<ListedSnapshot> {
    const { datasetId, source } = input;
    const endpoint = endpointOf(source);
    const snap = source.tag ? { tag: source.tag } as LatestSnapshot : await latestSnapshot(endpoint, datasetId);
    const version = snap.tag;
    const inputHash = `${version}:${snap.hexsha ?? ''}`;
    const prior = await findDataset(db, datasetId);
    // Only a finished ingest counts: a row still 'registered' means an earlier attempt died while
    // registering scans (a killed worker), and skipping then would lose the rest of the dataset.
    const finished = prior?.status === 'ingested' || prior?.status === 'completed';
    if (prior && finished && prior.version === version && (prior.hexsha ?? null) === (snap.hexsha ?? null)) {
      const scans = await countScansOf(db, datasetId);
      return { datasetId, version, unchanged: true, scans, skipped: true, inputHash, outputHash: hashJson({ version, hexsha: snap.hexsha }) };
    }
    const file = path.join(safeJoin(path.join(deps.dataDir, 'listings'), datasetId), `${fileSafeName(version)}${snap.hexsha ? `-${fileSafeName(snap.hexsha).slice(0, 12)}` : ''}.json`);
    const step = await runIdempotentStep(db, {
      datasetId, scanId: null, step: 'listOpenNeuroSnapshot', stepVersion: LISTING_VERSION, inputHash,
      // The endpoint is a parameter: the stored URLs point at it.
      params: { endpoint, include: source.include ?? null, exclude: source.exclude ?? null },
    }, {
      verify: async (r) => (await sha256File(file).catch(() => null)) === r.fileSha256,
      compute: async () => {
        const listing = await listSnapshotFiles(endpoint, datasetId, version);
        const refused = listing.rejected.map((r) => ({ path: r.path, reason: r.reason, why: r.why }));
        // Every path is checked here, once, against the dataset's raw folder; the next steps trust the listing.
        const root = rawRoot(datasetId);
        const selected = selectFiles(listing.files, { include: source.include, exclude: source.exclude }).filter((f) => {
          try {
            safeJoin(root, f.path);
            return true;
          } catch (e) {
            refused.push({ path: f.path, reason: 'unsafe_path', why: (e as Error).message });
            return false;
          }
        });
        const stored: StoredListing = {
          snapshot: snap, endpoint, method: listing.method, fallbackReason: listing.fallbackReason ?? null, files: listing.files.length, selected, refused,
        };
        const text = JSON.stringify(stored);
        await writeFileAtomic(file, text);
        const result = { files: listing.files.length, selected: selected.length, images: selected.filter((f) => f.role === 'image').length, method: listing.method, fileSha256: sha256(text) };
        // The content hash is what was selected, not the file's bytes, which hold this endpoint's URLs.
        return { result, outputHash: hashJson({ version, files: selected.map((f) => [f.path, f.key]) }) };
      },
    });
    const { fileSha256, ...counts } = step.result;
    return { datasetId, version, unchanged: false, skipped: step.skipped, listingFile: file, listingHash: fileSha256, ...counts, inputHash, outputHash: step.outputHash };
  }

  async function readListing(input: { listingFile: string; listingHash: string }): Promise<StoredListing> {
    if (!input.listingFile.startsWith(path.join(deps.dataDir, 'listings') + path.sep)) {
      throw ApplicationFailure.nonRetryable(`listing ${input.listingFile} is outside the data folder`, 'InvalidInput', { reason: 'unsafe_path' });
    }
    const text = await fsp.readFile(input.listingFile, 'utf8');
    // A changed file means another run re-listed in between; the ledger step must run again.
    if (sha256(text) !== input.listingHash) throw ApplicationFailure.retryable(`listing ${input.listingFile} changed since it was written`, 'ListingChanged');
    return JSON.parse(text) as StoredListing;
  }

  /**
   * Step 2 of 3: download the snapshot's metadata and gradient tables (small files), so
   * harmonization and DWI checks can read them. Files already here with their annex hash are
   * skipped, so a retry resumes where the killed attempt stopped.
   */
  async function fetchOpenNeuroMetadata(input: { datasetId: string; crawlId?: string; listingFile: string; listingHash: string }) {
    const { datasetId } = input;
    const stored = await readListing(input);
    const root = rawRoot(datasetId);
    const small = stored.selected.filter((f) => f.role !== 'image');
    let done = 0;
    let fetched = 0;
    for (const f of small) {
      const dest = safeJoin(root, f.path);
      if (!(await isAlreadyDownloaded(dest, f.size, f.key))) {
        await downloadFile({ urls: candidateUrls(f, { endpoint: stored.endpoint, datasetId }), dest, expectedSize: f.size, key: f.key, signal: Context.current().cancellationSignal }).catch((e) => {
          throw asFailure(e);
        });
        fetched++;
      }
      setProgress({ phase: 'metadata', done: ++done, total: small.length });
    }
    return { datasetId, files: small.length, fetched, inputHash: input.listingHash, outputHash: hashJson(small.map((f) => [f.path, f.key])) };
  }

  /**
   * Step 3 of 3: register the snapshot's images as scans (whose bytes the scan pipeline's
   * `fetchScan` downloads), then mark the dataset ingested: only now may a rerun skip the listing.
   */
  async function registerOpenNeuroScans(input: { datasetId: string; crawlId?: string; listingFile: string; listingHash: string }) {
    const { datasetId } = input;
    const stored = await readListing(input);
    const { snapshot: snap, endpoint, selected } = stored;
    const version = snap.tag;
    const root = rawRoot(datasetId);
    const { refused } = stored;
    await registerOpenNeuroDataset(db, {
      id: datasetId, source_uri: `${endpoint}#${datasetId}`, version, hexsha: snap.hexsha ?? null, doi: snap.doi ?? null, name: snap.name ?? null,
      metadata: JSON.stringify({ snapshot: snap, listing: { files: stored.files, selected: selected.length, method: stored.method, fallbackReason: stored.fallbackReason }, refused }),
    });

    // Register the images in batches (one statement per 500 rows, not four per image): a dataset of
    // thousands of images registers in seconds, so a kill mid-way costs little to redo.
    const known = await annexKeysOf(db, datasetId);
    const rows: NewScan[] = [];
    const subjects = new Set<string>();
    const sessions = new Map<string, { subjectId: string; sessionId: string }>();
    let scans = 0;
    for (const f of selected.filter((s) => s.role === 'image')) {
      const cls = classifyImage(f.path);
      const bids = parseBidsPath(f.path);
      if (!cls || !bids) continue;
      const dest = safeJoin(root, f.path);
      scans++;
      const id = scanIdFor(datasetId, f.path);
      subjects.add(bids.subject);
      sessions.set(`${bids.subject}/${bids.session}`, { subjectId: bids.subject, sessionId: bids.session });
      if (known.has(id) && known.get(id) === f.key) continue;
      rows.push({
        id, dataset_id: datasetId, subject_id: bids.subject, session_id: bids.session, path: f.path, datatype: bids.datatype, suffix: bids.suffix,
        modality: cls.modality, kind: cls.kind, file_path: dest, bytes: f.size ?? null, annex_key: f.key, content_hash: null, dims: null, voxel_size: null,
        datatype_name: null, status: 'registered', failure_step: null, failure_reason: null, failure_message: null,
        metadata: JSON.stringify({ source: { urls: candidateUrls(f as SnapshotFile, { endpoint, datasetId }), key: f.key, size: f.size ?? null } }),
      });
    }
    const changedScans = rows.length;
    // A changed file (new annex key) starts over: every column from the listing, status back to registered.
    await registerScans(db, rows, { onBatch: (done, total) => setProgress({ phase: 'register', done, total }) });
    await addSubjects(db, datasetId, subjects);
    await addSessions(db, datasetId, sessions.values());
    // Last: only now may a rerun of this snapshot skip the listing.
    await markDatasetIngested(db, datasetId);
    return {
      datasetId, version, scans, changedScans, refused: refused.length,
      inputHash: input.listingHash, outputHash: hashJson({ version, files: selected.map((f) => [f.path, f.key]) }),
    };
  }

  /** Download one image, resuming from the offset the last attempt heartbeated; verified by annex key. */
  async function fetchScan(input: ScanStepInput): Promise<StepResult<{ bytes: number; sha256: string; md5: string; resumedFrom: number; bytesFetched: number }>> {
    return runScanStep(deps, input, 'fetchScan', (scan) => {
      const src = (scan.metadata as { source?: { urls: string[]; key: string; size: number | null } } | null)?.source;
      if (!src) throw ApplicationFailure.nonRetryable(`scan ${scan.id} has no download source`, 'InvalidInput', { reason: 'no_source' });
      return {
        inputHash: () => src.key,
        verify: async (r) => (await fsp.stat(scan.file_path).catch(() => null))?.size === r.bytes,
        compute: async () => {
          const ctx = Context.current();
          const resumeAt = (ctx.info.heartbeatDetails as { offset?: number } | undefined)?.offset;
          try {
            const r = await downloadFile({
              urls: src.urls, dest: scan.file_path, expectedSize: src.size ?? undefined, key: src.key, startOffset: resumeAt,
              onProgress: (done, total) => setProgress({ offset: done, total }),
              signal: ctx.cancellationSignal,
            });
            return { result: { bytes: r.bytes, sha256: r.sha256, md5: r.md5, resumedFrom: r.resumedFrom, bytesFetched: r.bytesFetched }, outputHash: r.sha256 };
          } catch (e) {
            throw asFailure(e);
          }
        },
      };
    });
  }

  return { listOpenNeuroDatasets, listOpenNeuroSnapshot, fetchOpenNeuroMetadata, registerOpenNeuroScans, fetchScan };
}
