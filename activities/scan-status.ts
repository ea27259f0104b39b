// Scan and dataset bookkeeping (I/O queue): final status and readable failure rows.
import type { ActivityDeps } from './deps.js';
import * as scans from '../db/repositories/scans.js';
import * as datasets from '../db/repositories/datasets.js';
import * as crawls from '../db/repositories/crawls.js';
import { maskMethodCounts } from '../db/repositories/derived-files.js';

export function createScanStatusActivities(deps: ActivityDeps) {
  const { db } = deps;

  async function markScanCompleted(input: { datasetId: string; scanId: string; crawlId?: string }): Promise<void> {
    await scans.markScanCompleted(db, input.scanId);
  }

  async function markScanFailed(input: { datasetId: string; scanId: string; crawlId?: string; step: string; reason: string; message: string }): Promise<void> {
    await scans.markScanFailed(db, input.scanId, input);
  }

  async function markDatasetFinished(input: { datasetId: string; status: 'completed' | 'failed'; reason?: string }): Promise<void> {
    await datasets.markDatasetFinished(db, input.datasetId, input.status, input.reason);
  }

  /** Register a dataset that failed before ingest could (missing folder), so its failure is visible. */
  async function recordDatasetFailure(input: { datasetId: string; sourceUri: string; sourceKind: 'local' | 'openneuro'; reason: string }): Promise<void> {
    await datasets.recordDatasetFailure(db, input);
  }

  async function datasetCounts(input: { datasetId: string }): Promise<{ scans: number; completed: number; failed: number; failures: { scanId: string; step?: string; reason?: string; message?: string }[]; maskMethods: Record<string, number> }> {
    const rows = await scans.scanStatusesOf(db, input.datasetId);
    const failed = rows.filter((r) => r.status === 'failed');
    return {
      maskMethods: await maskMethodCounts(db, [input.datasetId]),
      scans: rows.length,
      completed: rows.filter((r) => r.status === 'completed').length,
      failed: failed.length,
      failures: failed.slice(0, 100).map((r) => ({ scanId: r.id, step: r.failure_step ?? undefined, reason: r.failure_reason ?? undefined, message: r.failure_message ?? undefined })),
    };
  }

  async function recordCrawl(input: { crawlId: string; status: 'running' | 'completed' | 'failed'; input?: unknown; summary?: unknown }): Promise<void> {
    await crawls.recordCrawl(db, input);
  }

  return { markScanCompleted, markScanFailed, markDatasetFinished, recordDatasetFailure, datasetCounts, recordCrawl };
}
