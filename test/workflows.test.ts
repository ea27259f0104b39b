// Workflow code alone: the graph, failure isolation and continue-as-new paging with stubbed
// activities (no database, no files), and replay of histories recorded before the last graph
// changes (test/fixtures/histories, made by record.ts there). Runs on the Temporal dev server.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { findTemporalCli } from '../services/temporal.js';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';
import { workflowBundle } from '../workers/run-workers.js';
import { TASK_QUEUES, repoRoot } from '../services/config.js';
import type { ScanRef } from '../lib/pipeline-types.js';
import type { DatasetPipelineInput } from '../workflows/dataset-pipeline.js';
import './helpers/env.js'; // quiet SDK logs, as in the other suites

interface Call {
  name: string;
  queue: string;
  input: Record<string, unknown>;
}

/** Stub activities: record every call with the queue it ran on; `overrides` replace a stub's behaviour. */
function stubActivities(scans: ScanRef[], calls: Call[], overrides: Record<string, (input: any) => unknown> = {}) {
  const step = (result: unknown = {}) => ({ skipped: false, inputHash: 'in', outputHash: 'out', result });
  const defaults: Record<string, (input: any) => unknown> = {
    ingestDataset: () => ({ version: 'local', scans: scans.length }),
    harmonizeMetadata: () => step(),
    listScanPage: (i: { after?: string; limit: number }) => scans.filter((s) => !i.after || s.scanId > i.after).slice(0, i.limit),
    fetchScan: () => step(),
    validateScan: () => step(),
    deriveDwi: (i: { scanId: string }) => step({ derived: ['T2w', 'ADC', 'FA'].map((m) => ({ scanId: `${i.scanId}_${m}`, modality: m })) }),
    computeScanMasks: () => step({ type: 'none' }),
    measureScanQuality: () => step({ metrics: {} }),
    markScanCompleted: () => undefined,
    markScanFailed: () => undefined,
    prepareRatingTasks: () => step({ modalities: [] }),
    exportDataset: () => step({ exportDir: '/export' }),
    writeCollectionFiles: () => step(),
    datasetCounts: () => ({ scans: scans.length, completed: 0, failed: 0, failures: [] }),
    markDatasetFinished: () => undefined,
    recordDatasetFailure: () => undefined,
    recordCrawl: () => undefined,
    listOpenNeuroDatasets: () => ['ds000001'],
  };
  const all = { ...defaults, ...overrides };
  return Object.fromEntries(
    Object.entries(all).map(([name, fn]) => [
      name,
      async (input: Record<string, unknown>) => {
        calls.push({ name, queue: Context.current().info.taskQueue, input });
        return fn(input);
      },
    ]),
  );
}

function scan(id: string, kind: '3d' | 'dwi' = '3d', modality = 'T1w'): ScanRef {
  return { scanId: `ds:${id}`, datasetId: 'ds', path: `${id}.nii.gz`, kind, modality };
}

describe('workflows with stubbed activities (no database)', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let bundle: Awaited<ReturnType<typeof workflowBundle>>;
  let run = 0;

  before(async function () {
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: findTemporalCli(process.env.TEMPORAL_CLI) }, searchAttributes: ALL_SEARCH_ATTRIBUTES, extraArgs: ['--log-level', 'error'] },
    });
    bundle = await workflowBundle();
  });

  after(async () => {
    await env?.teardown();
  });

  /** Run one datasetPipeline on workers of all three queues, each serving the stubs. */
  async function runDataset(scans: ScanRef[], options: DatasetPipelineInput['options'], overrides: Record<string, (input: any) => unknown> = {}) {
    const calls: Call[] = [];
    const activities = stubActivities(scans, calls, overrides);
    const workers = await Promise.all(
      Object.values(TASK_QUEUES).map((taskQueue) =>
        Worker.create({ connection: env.nativeConnection, taskQueue, activities, ...(taskQueue === TASK_QUEUES.io ? { workflowBundle: bundle } : {}) }),
      ),
    );
    const [io, ...others] = workers;
    const running = others.map((w) => w.run());
    const workflowId = `dataset/stub-${++run}`;
    try {
      const outcome = await io.runUntil(
        env.client.workflow.execute('datasetPipeline', {
          taskQueue: TASK_QUEUES.io,
          workflowId,
          args: [{ source: { kind: 'local', path: '/data/ds' }, datasetId: 'ds', options: { skipQuality: true, ...options } }],
        }),
      );
      return { outcome, calls, workflowId };
    } finally {
      others.forEach((w) => w.shutdown());
      await Promise.all(running);
    }
  }

  it('runs each scan through its steps on the queue each step names', async () => {
    const { calls } = await runDataset([scan('a'), scan('b', 'dwi', 'DWI')], { skipQuality: false });
    const of = (id: string) => calls.filter((c) => c.input.scanId === id && !c.name.startsWith('mark')).map((c) => `${c.name}@${c.queue}`);
    assert.deepEqual(of('ds:a'), ['validateScan@openmind-cpu', 'computeScanMasks@openmind-gpu', 'measureScanQuality@openmind-cpu']);
    assert.deepEqual(of('ds:b'), ['validateScan@openmind-cpu', 'deriveDwi@openmind-cpu']);
    for (const m of ['T2w', 'ADC', 'FA']) assert.deepEqual(of(`ds:b_${m}`), ['computeScanMasks@openmind-gpu', 'measureScanQuality@openmind-cpu']);
    const completed = calls.filter((c) => c.name === 'markScanCompleted').map((c) => c.input.scanId).sort();
    assert.deepEqual(completed, ['ds:a', 'ds:b', 'ds:b_ADC', 'ds:b_FA', 'ds:b_T2w']);
    const order = calls.filter((c) => !c.input.scanId).map((c) => c.name);
    assert.deepEqual(order, ['ingestDataset', 'harmonizeMetadata', 'listScanPage', 'prepareRatingTasks', 'exportDataset', 'writeCollectionFiles', 'datasetCounts', 'markDatasetFinished']);
  });

  it('passes the mask options to the masks step and skips the later steps on intakeOnly', async () => {
    const masks = { useNetwork: false, networkGridMm: 2 };
    const { calls } = await runDataset([scan('a')], { masks });
    assert.deepEqual(calls.find((c) => c.name === 'computeScanMasks')?.input.masks, masks);
    const intake = await runDataset([scan('a'), scan('b', 'dwi', 'DWI')], { intakeOnly: true });
    assert.deepEqual([...new Set(intake.calls.filter((c) => c.input.scanId).map((c) => c.name))].sort(), ['markScanCompleted', 'validateScan']);
  });

  it('isolates a failed scan: its failure is recorded once, without retries, and the rest of the dataset goes on', async () => {
    const { outcome, calls } = await runDataset([scan('a'), scan('bad'), scan('c')], {}, {
      validateScan: (i: { scanId: string }) => {
        if (i.scanId === 'ds:bad') throw ApplicationFailure.nonRetryable('not a NIfTI file', 'InvalidInput', { reason: 'not_nifti' });
        return { skipped: false, inputHash: 'in', outputHash: 'out', result: {} };
      },
    });
    assert.equal(outcome.status, 'completed');
    assert.equal(calls.filter((c) => c.name === 'validateScan' && c.input.scanId === 'ds:bad').length, 1, 'bad input is not retried');
    const failed = calls.filter((c) => c.name === 'markScanFailed');
    assert.equal(failed.length, 1);
    assert.deepEqual({ ...failed[0].input, crawlId: undefined }, { datasetId: 'ds', scanId: 'ds:bad', crawlId: undefined, step: 'validateScan', reason: 'not_nifti', message: 'not a NIfTI file' });
    assert.ok(!calls.some((c) => c.input.scanId === 'ds:bad' && c.name === 'computeScanMasks'));
    assert.deepEqual(calls.filter((c) => c.name === 'markScanCompleted').map((c) => c.input.scanId).sort(), ['ds:a', 'ds:c']);
    assert.ok(calls.some((c) => c.name === 'exportDataset'), 'the export still runs');
  });

  it('records a crawl that breaks as failed, with the reason, instead of leaving it running', async () => {
    const calls: Call[] = [];
    const activities = stubActivities([], calls, {
      listOpenNeuroDatasets: () => {
        throw ApplicationFailure.nonRetryable('the catalog is unreachable', 'InvalidInput', { reason: 'catalog_unreachable' });
      },
    });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.io, activities, workflowBundle: bundle });
    await worker.runUntil(
      assert.rejects(
        env.client.workflow.execute('crawl', { taskQueue: TASK_QUEUES.io, workflowId: `crawl/stub-${++run}`, args: [{ name: 'broken', sources: [{ kind: 'openneuro', datasets: 'all' }] }] }),
      ),
    );
    const records = calls.filter((c) => c.name === 'recordCrawl').map((c) => c.input.status);
    assert.deepEqual(records, ['running', 'failed']);
    assert.match(JSON.stringify(calls.at(-1)?.input), /the catalog is unreachable/);
  });

  it('pages through the scans and continues as new after pagesPerRun pages', async () => {
    const scans = Array.from({ length: 7 }, (_, i) => scan(`s${i}`));
    const { calls, workflowId } = await runDataset(scans, { scanPageSize: 2, pagesPerRun: 2 });
    const pages = calls.filter((c) => c.name === 'listScanPage').map((c) => c.input.after ?? null);
    assert.deepEqual(pages, [null, 'ds:s1', 'ds:s3', 'ds:s5']);
    assert.equal(calls.filter((c) => c.name === 'ingestDataset').length, 1, 'a continued run does not ingest again');
    assert.equal(calls.filter((c) => c.name === 'validateScan').length, 7);
    const runs: string[] = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(w.runId);
    assert.equal(runs.length, 2, 'two runs: the first continued as new after two pages');
  });
});

describe('workflow replay of histories recorded before the graph changes', function () {
  this.timeout(180_000);
  const dir = path.join(repoRoot, 'test/fixtures/histories');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('has a recorded history of every workflow kind', () => {
    assert.deepEqual(files.map((f) => f.replace(/\.json$/, '')).sort(), ['crawl', 'dataset', 'quality-rating', 'scan-3d', 'scan-dwi']);
  });

  for (const file of files) {
    it(`replays ${file} with today's workflow code (no nondeterminism)`, async () => {
      const { workflowId, history } = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, temporal.api.history.v1.History.fromObject(history), workflowId);
    });
  }
});
