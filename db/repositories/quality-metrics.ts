// Queries on `quality_metrics` (automatic IQMs per scan) and `predicted_scores` (a model's score per dataset × modality).
import type { DB } from '../database.js';
import type { IqmResult } from '../../lib/quality/iqms.js';

export interface StoredIqms {
  metrics: Record<string, number>;
  warnings: string[];
  version: string;
}

/** Finite numbers only: JSON has no NaN/Infinity, and a missing metric reads better than a null. */
function finiteMetrics(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
}

/** Insert or replace one scan's IQMs. */
export async function upsertScanIqms(db: DB, input: { scanId: string; datasetId: string; modality: string; result: IqmResult }): Promise<void> {
  const row = {
    scan_id: input.scanId,
    dataset_id: input.datasetId,
    modality: input.modality,
    metrics: JSON.stringify(finiteMetrics(input.result.metrics)),
    warnings: JSON.stringify(input.result.warnings),
    version: input.result.version,
    created_at: new Date(),
  };
  const { scan_id: _scanId, ...update } = row;
  await db.insertInto('quality_metrics').values(row).onConflict((oc) => oc.column('scan_id').doUpdateSet(update)).execute();
}

/** IQMs of every scan of a dataset × modality, by scan id. */
export async function iqmsOfTask(db: DB, datasetId: string, modality: string): Promise<Record<string, StoredIqms>> {
  const rows = await db.selectFrom('quality_metrics').selectAll().where('dataset_id', '=', datasetId).where('modality', '=', modality).orderBy('scan_id').execute();
  return Object.fromEntries(rows.map((r) => [r.scan_id, { metrics: r.metrics, warnings: r.warnings, version: r.version }]));
}

/** Keep a dataset × modality's predicted score (marked predicted, with the model version). */
export async function upsertPredictedScore(db: DB, p: { datasetId: string; modality: string; score: number; model: string; scans: number }): Promise<void> {
  const row = {
    dataset_id: p.datasetId,
    modality: p.modality,
    score: p.score,
    model: p.model,
    details: JSON.stringify({ predicted: true, scans: p.scans }),
    created_at: new Date(),
  };
  await db
    .insertInto('predicted_scores')
    .values(row)
    .onConflict((oc) => oc.columns(['dataset_id', 'modality']).doUpdateSet({ score: row.score, model: row.model, details: row.details, created_at: row.created_at }))
    .execute();
}

export async function predictedScoreOf(db: DB, datasetId: string, modality: string): Promise<{ score: number; model: string } | null> {
  const row = await db.selectFrom('predicted_scores').select(['score', 'model']).where('dataset_id', '=', datasetId).where('modality', '=', modality).executeTakeFirst();
  return row ? { score: Number(row.score), model: row.model } : null;
}
