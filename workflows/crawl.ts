// crawl: many datasets, each as a `dataset/<id>` child, a bounded number at a time.
// Input: CrawlInput (plain JSON; paste into the UI's Start Workflow form). Output: CrawlSummary.
// Continues-as-new with the remaining datasets when Temporal suggests it, so 1,000 datasets never
// make an oversized history. One dataset's failure is recorded in the summary, never rethrown.
import {
  continueAsNew, defineQuery, patched, setCurrentDetails, setHandler, startChild, upsertSearchAttributes, workflowInfo,
  ContinueAsNew, ParentClosePolicy,
} from '@temporalio/workflow';
import type { CrawlSource, CrawlSummary, DatasetOutcome, DatasetSource, PipelineOptions } from '../lib/pipeline-types.js';
import { activitiesFor, failureInfo, inWindow, writeCollectionFiles } from './activity-stubs.js';
import { PATCHES } from './patches.js';
import { datasetIdOf, datasetPipeline } from './dataset-pipeline.js';
import { CrawlId, DatasetId, Status, Step } from './search-attributes.js';

export interface CrawlInput {
  /** The crawl's name; its workflow id is `crawl/<name>`. */
  name: string;
  sources: CrawlSource[];
  options?: PipelineOptions & { heartbeatSeconds?: number; scanPageSize?: number };
  /** Set by continue-as-new; not for users. */
  carried?: { pending: DatasetJob[]; summary: CrawlSummary };
}

export interface DatasetJob {
  datasetId: string;
  source: DatasetSource;
}

export const crawlProgressQuery = defineQuery<CrawlSummary & { pending: number; running: string[] }>('progress');

const MAX_FAILURES_CARRIED = 200;

export async function crawl(input: CrawlInput): Promise<CrawlSummary> {
  try {
    return await runCrawl(input);
  } catch (err) {
    // A crawl that breaks says so in the crawls table, with why, instead of staying 'running'.
    if (!(err instanceof ContinueAsNew) && patched(PATCHES.crawlFailureRecorded)) {
      const f = failureInfo(err);
      await activitiesFor(input.options?.heartbeatSeconds).io.recordCrawl({ crawlId: input.name, status: 'failed', summary: { crawlId: input.name, failed: f } });
    }
    throw err;
  }
}

async function runCrawl(input: CrawlInput): Promise<CrawlSummary> {
  const crawlId = input.name;
  const opts = input.options ?? {};
  const acts = activitiesFor(opts.heartbeatSeconds);
  let pending: DatasetJob[];
  let summary: CrawlSummary;
  if (input.carried) {
    ({ pending, summary } = input.carried);
  } else {
    await acts.io.recordCrawl({ crawlId, status: 'running', input: { name: input.name, sources: input.sources, options: input.options ?? {} } });
    pending = await expandSources(input.sources, acts);
    summary = { crawlId, datasets: pending.length, completed: 0, failed: 0, scans: 0, scansCompleted: 0, scansFailed: 0, failures: [] };
  }
  const running = new Set<string>();
  setHandler(crawlProgressQuery, () => ({ ...summary, pending: pending.length, running: [...running] }));
  upsertSearchAttributes([{ key: CrawlId, value: crawlId }, { key: Status, value: 'running' }]);

  const report = () =>
    setCurrentDetails(
      `**crawl ${crawlId}**: ${summary.completed + summary.failed}/${summary.datasets} datasets ` +
        `(${summary.failed} failed), ${summary.scansCompleted} scans done, ${summary.scansFailed} failed` +
        `${summary.maskMethods?.classical ? `; ${summary.maskMethods.classical} masks without the network (classical brain estimate)` : ''}; running: ${[...running].join(', ') || '-'}`,
    );
  report();

  // Work through the pending list in batches so continue-as-new can happen between them.
  const window = opts.datasetConcurrency ?? 2;
  while (pending.length > 0) {
    const batch = pending.slice(0, Math.max(window * 4, 1));
    await inWindow(batch, window, async (job) => {
      running.add(job.datasetId);
      report();
      const outcome = await runDataset(job, crawlId, opts);
      running.delete(job.datasetId);
      addOutcome(summary, outcome);
      report();
    });
    pending = pending.slice(batch.length);
    if (pending.length > 0 && workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof crawl>({ ...input, carried: { pending, summary } });
    }
  }

  if (!opts.skipExport) await writeCollectionFiles(acts, { exportDir: opts.exportDir });
  await acts.io.recordCrawl({ crawlId, status: 'completed', summary });
  upsertSearchAttributes([{ key: Step, value: 'done' }, { key: Status, value: 'completed' }]);
  report();
  return summary;
}

async function expandSources(sources: CrawlSource[], acts: ReturnType<typeof activitiesFor>): Promise<DatasetJob[]> {
  const jobs: DatasetJob[] = [];
  for (const s of sources) {
    if (s.kind === 'local') {
      const source: DatasetSource = { kind: 'local', path: s.path, datasetId: s.datasetId, ...(s.allowedRoots ? { allowedRoots: s.allowedRoots } : {}) };
      jobs.push({ datasetId: datasetIdOf({ source, datasetId: s.datasetId }), source });
    } else {
      const ids = s.datasets === 'all' ? await acts.io.listOpenNeuroDatasets({ endpoint: s.endpoint }) : s.datasets;
      for (const id of ids) jobs.push({ datasetId: id, source: { kind: 'openneuro', datasetId: id, endpoint: s.endpoint, include: s.include, exclude: s.exclude } });
    }
  }
  return uniqueJobs(jobs);
}

/**
 * The same source twice is one job. Two different local folders whose names give the same id (say
 * `My DS` and `my-ds`) stay two datasets: the later one's id gets a suffix from its path.
 */
export function uniqueJobs(jobs: DatasetJob[]): DatasetJob[] {
  const byId = new Map<string, DatasetJob>();
  const out: DatasetJob[] = [];
  for (const job of jobs) {
    const first = byId.get(job.datasetId);
    if (!first) {
      byId.set(job.datasetId, job);
      out.push(job);
      continue;
    }
    if (sourceKey(first.source) === sourceKey(job.source) || job.source.kind !== 'local' || job.source.datasetId) continue;
    const datasetId = `${job.datasetId}-${shortHash(job.source.path)}`;
    if (byId.has(datasetId)) continue;
    const renamed = { ...job, datasetId, source: { ...job.source, datasetId } };
    byId.set(datasetId, renamed);
    out.push(renamed);
  }
  return out;
}

function sourceKey(s: DatasetSource): string {
  return s.kind === 'local' ? `local:${s.path.replace(/\/+$/, '')}` : `openneuro:${s.datasetId}`;
}

/** FNV-1a of a string as 6 hex digits (deterministic, no crypto in workflow code). */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0').slice(0, 6);
}

async function runDataset(job: DatasetJob, crawlId: string, opts: CrawlInput['options'] & object): Promise<DatasetOutcome> {
  try {
    const handle = await startChild(datasetPipeline, {
      workflowId: `dataset/${job.datasetId}`,
      args: [{ source: job.source, datasetId: job.datasetId, crawlId, options: { ...opts, writeTable: false } }],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
      typedSearchAttributes: [
        { key: CrawlId, value: crawlId },
        { key: DatasetId, value: job.datasetId },
        { key: Status, value: 'running' },
      ],
    });
    return await handle.result();
  } catch (err) {
    const f = failureInfo(err);
    return { datasetId: job.datasetId, status: 'failed', scans: 0, completed: 0, failed: 0, failures: [], reason: f.reason, message: f.message };
  }
}

function addOutcome(summary: CrawlSummary, o: DatasetOutcome): void {
  if (o.status === 'completed') summary.completed++;
  else summary.failed++;
  summary.scans += o.scans;
  summary.scansCompleted += o.completed;
  summary.scansFailed += o.failed;
  for (const [method, n] of Object.entries(o.maskMethods ?? {})) summary.maskMethods = { ...summary.maskMethods, [method]: (summary.maskMethods?.[method] ?? 0) + n };
  if (o.status === 'failed') summary.failures.push({ datasetId: o.datasetId, reason: o.reason, message: o.message });
  for (const f of o.failures) summary.failures.push({ datasetId: o.datasetId, scanId: f.scanId, step: f.step, reason: f.reason, message: f.message });
  // The full list is in the database; the workflow carries the first ones only.
  if (summary.failures.length > MAX_FAILURES_CARRIED) summary.failures.length = MAX_FAILURES_CARRIED;
}
