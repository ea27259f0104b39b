// Scan and dataset bookkeeping (I/O queue): final status and readable failure rows.
import type { ActivityDeps } from './deps.js';
import * as scans from '../db/repositories/scans.js';

export function createScanStatusActivities(deps: ActivityDeps) {
  const { db } = deps;

  async function markScanCompleted(input: { datasetId: string; scanId: string; crawlId?: string }): Promise<void> {
    await scans.markScanCompleted(db, input.scanId);
  }

  async function markScanFailed(input: { datasetId: string; scanId: string; crawlId?: string; step: string; reason: string; message: string }): Promise<void> {
    await scans.markScanFailed(db, input.scanId, input);
  }

  async function markDatasetFinished(input: { datasetId: string; status: 'completed' | 'failed'; reason?: string }): Promise<void> {
    await db
      .updateTable('datasets')
      .set({ status: input.status, failure_reason: input.reason ?? null, updated_at: new Date() })
      .where('id', '=', input.datasetId)
      .execute();
  }

  /** Register a dataset that failed before ingest could (missing folder), so its failure is visible. */
  async function recordDatasetFailure(input: { datasetId: string; sourceUri: string; sourceKind: 'local' | 'openneuro'; reason: string }): Promise<void> {
    await db
      .insertInto('datasets')
      .values({ id: input.datasetId, source_kind: input.sourceKind, source_uri: input.sourceUri, status: 'failed', failure_reason: input.reason, version: null, hexsha: null, doi: null, name: null, metadata: null })
      .onConflict((c) => c.column('id').doUpdateSet({ status: 'failed', failure_reason: input.reason, updated_at: new Date() }))
      .execute();
  }

  async function datasetCounts(input: { datasetId: string }): Promise<{ scans: number; completed: number; failed: number; failures: { scanId: string; step?: string; reason?: string; message?: string }[] }> {
    const rows = await scans.scanStatusesOf(db, input.datasetId);
    const failed = rows.filter((r) => r.status === 'failed');
    return {
      scans: rows.length,
      completed: rows.filter((r) => r.status === 'completed').length,
      failed: failed.length,
      failures: failed.slice(0, 100).map((r) => ({ scanId: r.id, step: r.failure_step ?? undefined, reason: r.failure_reason ?? undefined, message: r.failure_message ?? undefined })),
    };
  }

  async function recordCrawl(input: { crawlId: string; status: 'running' | 'completed' | 'failed'; input?: unknown; summary?: unknown }): Promise<void> {
    await db
      .insertInto('crawls')
      .values({ id: input.crawlId, status: input.status, input: JSON.stringify(input.input ?? null), summary: input.summary === undefined ? null : JSON.stringify(input.summary) })
      .onConflict((c) =>
        c.column('id').doUpdateSet({
          status: input.status,
          ...(input.input !== undefined ? { input: JSON.stringify(input.input) } : {}),
          ...(input.summary !== undefined ? { summary: JSON.stringify(input.summary) } : {}),
          updated_at: new Date(),
        }),
      )
      .execute();
  }

  return { markScanCompleted, markScanFailed, markDatasetFinished, recordDatasetFailure, datasetCounts, recordCrawl };
}
