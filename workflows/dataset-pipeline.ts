// datasetPipeline: one dataset as a retryable graph.
//   ingest (local folder; or OpenNeuro: list → metadata files → register) → metadata (dataset-level) → scans (scanPipeline children, bounded window, paged) → export
// Input: DatasetPipelineInput (plain JSON, UI-friendly). Output: DatasetOutcome.
// Continues-as-new between scan pages when Temporal suggests it or after `pagesPerRun` pages, so
// 15k-scan datasets stay small.
import {
  continueAsNew, defineQuery, patched, setCurrentDetails, setHandler, startChild, upsertSearchAttributes, workflowInfo,
  ParentClosePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { qualityRating, qualityWorkflowId } from './quality-rating.js';
import type { DatasetOutcome, DatasetSource, PipelineOptions, ScanOutcome, ScanRef } from '../lib/pipeline-types.js';
import { activitiesFor, failureInfo, inWindow, writeCollectionFiles } from './activity-stubs.js';
import { PATCHES } from './patches.js';
import { CrawlId, DatasetId, Modality, ScanId, Status, Step } from './search-attributes.js';
import { scanPipeline } from './scan-pipeline.js';

export interface DatasetPipelineInput {
  source: DatasetSource;
  /** Defaults to the source's id, or the folder name for a local source. */
  datasetId?: string;
  crawlId?: string;
  options?: PipelineOptions & { heartbeatSeconds?: number; scanPageSize?: number; pagesPerRun?: number; writeTable?: boolean };
  /** Set by continue-as-new; not for users. */
  resume?: { cursor?: string; scansSeen: number };
}

export interface DatasetProgress {
  datasetId: string;
  phase: string;
  scansSeen: number;
  scansDone: number;
  scansFailed: number;
}

export const datasetProgressQuery = defineQuery<DatasetProgress>('progress');

/** Scan pages per run before continuing as new (at 200 scans a page, about 4k events per run). */
export const DEFAULT_PAGES_PER_RUN = 5;

export function datasetIdOf(input: DatasetPipelineInput): string {
  if (input.datasetId) return input.datasetId;
  if (input.source.kind === 'openneuro') return input.source.datasetId;
  const base = input.source.path.replace(/\/+$/, '').split('/').pop() ?? 'dataset';
  return base.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'dataset';
}

export async function datasetPipeline(input: DatasetPipelineInput): Promise<DatasetOutcome> {
  const datasetId = datasetIdOf(input);
  const opts = input.options ?? {};
  const acts = activitiesFor(opts.heartbeatSeconds);
  const keys = { datasetId, crawlId: input.crawlId };
  const progress: DatasetProgress = { datasetId, phase: 'ingest', scansSeen: input.resume?.scansSeen ?? 0, scansDone: 0, scansFailed: 0 };
  setHandler(datasetProgressQuery, () => progress);
  const phase = (name: string) => {
    progress.phase = name;
    upsertSearchAttributes([{ key: Step, value: name }, { key: Status, value: 'running' }]);
    setCurrentDetails(`**${datasetId}** — ${name}: ${progress.scansDone} done, ${progress.scansFailed} failed of ${progress.scansSeen} scans seen`);
  };

  let version: string | undefined;
  if (!input.resume) {
    phase('ingest');
    try {
      if (input.source.kind === 'openneuro') {
        // Three short steps, not one long one: each is resumable on its own, so a killed worker
        // costs one step's attempt, never the whole listing + downloads + registration again.
        const listed = await acts.io.listOpenNeuroSnapshot({ ...keys, source: input.source });
        version = listed.version;
        if (!listed.unchanged) {
          const listing = { listingFile: listed.listingFile, listingHash: listed.listingHash };
          await acts.io.fetchOpenNeuroMetadata({ ...keys, ...listing });
          await acts.io.registerOpenNeuroScans({ ...keys, ...listing });
        }
      } else {
        version = (await acts.io.ingestDataset({ ...keys, source: input.source })).version;
      }
    } catch (err) {
      return await failDataset(datasetId, input, err);
    }
    phase('metadata');
    try {
      await acts.io.harmonizeMetadata(keys);
    } catch (err) {
      // Metadata problems never stop the images; the reason is in scan_events.
      const f = failureInfo(err);
      setCurrentDetails(`**${datasetId}** metadata failed: ${f.message}`);
    }
  }

  phase('scans');
  const pageSize = opts.scanPageSize ?? 200;
  let cursor = input.resume?.cursor;
  let pagesThisRun = 0;
  for (;;) {
    const page: ScanRef[] = await acts.io.listScanPage({ datasetId, after: cursor, limit: pageSize });
    if (page.length === 0) break;
    progress.scansSeen += page.length;
    await inWindow(page, opts.scanConcurrency ?? 8, async (scan) => {
      const outcome = await runScan(scan, input.crawlId, opts);
      if (outcome.status === 'completed') progress.scansDone++;
      else progress.scansFailed++;
    });
    cursor = page[page.length - 1].scanId;
    setCurrentDetails(`**${datasetId}** — scans: ${progress.scansDone} done, ${progress.scansFailed} failed of ${progress.scansSeen} seen`);
    if (page.length < pageSize) break;
    pagesThisRun++;
    // Graph change guarded for runs already in flight (their histories replay without it).
    const pageLimitReached = patched(PATCHES.pagesPerRun) && pagesThisRun >= (opts.pagesPerRun ?? DEFAULT_PAGES_PER_RUN);
    if (workflowInfo().continueAsNewSuggested || pageLimitReached) {
      await continueAsNew<typeof datasetPipeline>({ ...input, datasetId, resume: { cursor, scansSeen: progress.scansSeen } });
    }
  }

  if (!opts.skipQuality && !opts.intakeOnly) {
    phase('quality');
    try {
      const tasks = await acts.io.prepareRatingTasks(keys);
      for (const modality of tasks.result.modalities) await startQualityRating(datasetId, modality, opts.exportDir);
    } catch (err) {
      const f = failureInfo(err);
      setCurrentDetails(`**${datasetId}** quality tasks failed: ${f.message}`);
    }
  }

  let exportDir: string | undefined;
  if (!opts.skipExport) {
    phase('export');
    const exported = await acts.io.exportDataset({ ...keys, exportDir: opts.exportDir });
    exportDir = exported.result.exportDir;
    if (opts.writeTable !== false) await writeCollectionFiles(acts, { ...keys, exportDir: opts.exportDir });
  }
  const counts = await acts.io.datasetCounts({ datasetId });
  await acts.io.markDatasetFinished({ datasetId, status: 'completed' });
  upsertSearchAttributes([{ key: Step, value: 'done' }, { key: Status, value: 'completed' }]);
  progress.phase = 'done';
  setCurrentDetails(`**${datasetId}** done: ${counts.completed} completed, ${counts.failed} failed of ${counts.scans} scans`);
  return { datasetId, status: 'completed', version, ...counts, exportDir };
}

async function runScan(scan: ScanRef, crawlId: string | undefined, opts: DatasetPipelineInput['options'] & object): Promise<ScanOutcome> {
  const heartbeatSeconds = opts.heartbeatSeconds;
  try {
    const handle = await startChild(scanPipeline, {
      workflowId: `scan/${scan.datasetId}/${scan.path}`,
      args: [{ scan, crawlId, heartbeatSeconds, steps: { masks: opts.masks, intakeOnly: opts.intakeOnly, skipQuality: opts.skipQuality } }],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
      typedSearchAttributes: [
        { key: DatasetId, value: scan.datasetId },
        { key: ScanId, value: scan.scanId },
        { key: Modality, value: scan.modality },
        ...(crawlId ? [{ key: CrawlId, value: crawlId }] : []),
        { key: Step, value: 'start' },
        { key: Status, value: 'running' },
      ],
    });
    return await handle.result();
  } catch (err) {
    // The child itself broke (terminated, timed out): count the scan as failed, keep going.
    const f = failureInfo(err);
    await activitiesFor(heartbeatSeconds).io.markScanFailed({ datasetId: scan.datasetId, scanId: scan.scanId, crawlId, step: 'scanPipeline', reason: f.reason, message: f.message });
    return { scanId: scan.scanId, status: 'failed', failedStep: 'scanPipeline', reason: f.reason, message: f.message, skipped: {} };
  }
}

/** The long-lived rating workflow of a dataset × modality; it outlives this run (ABANDON). */
async function startQualityRating(datasetId: string, modality: string, exportDir?: string): Promise<void> {
  try {
    await startChild(qualityRating, {
      workflowId: qualityWorkflowId(datasetId, modality),
      args: [{ datasetId, modality, exportDir }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: DatasetId, value: datasetId },
        { key: Modality, value: modality },
        { key: Step, value: 'awaiting_rater' },
        { key: Status, value: 'waiting' },
      ],
    });
  } catch (err) {
    // Already waiting from an earlier run: it keeps waiting; new ratings reach it by signal.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

async function failDataset(datasetId: string, input: DatasetPipelineInput, err: unknown): Promise<DatasetOutcome> {
  const f = failureInfo(err);
  const acts = activitiesFor(input.options?.heartbeatSeconds);
  await acts.io.recordDatasetFailure({
    datasetId,
    sourceKind: input.source.kind,
    sourceUri: input.source.kind === 'local' ? input.source.path : input.source.datasetId,
    reason: `${f.reason}: ${f.message}`,
  });
  upsertSearchAttributes([{ key: Status, value: 'failed' }]);
  setCurrentDetails(`**${datasetId}** failed: ${f.message}`);
  return { datasetId, status: 'failed', scans: 0, completed: 0, failed: 0, failures: [], reason: f.reason, message: f.message };
}
