// Persisting automatic metrics and predicted scores (tables quality_metrics, predicted_scores).
import type { DB } from '../../db/database.js';
import type { IqmResult } from './iqms.js';
import { predictTaskScore } from './predict.js';

/** Finite numbers only: JSON has no NaN/Infinity, and a missing metric reads better than a null. */
function finiteMetrics(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
}

/** Insert or replace one scan's IQMs. */
export async function storeScanIqms(db: DB, input: { scanId: string; datasetId: string; modality: string; result: IqmResult }): Promise<void> {
  const row = {
    scan_id: input.scanId,
    dataset_id: input.datasetId,
    modality: input.modality,
    metrics: JSON.stringify(finiteMetrics(input.result.metrics)),
    warnings: JSON.stringify(input.result.warnings),
    version: input.result.version,
    created_at: new Date(),
  };
  await db
    .insertInto('quality_metrics')
    .values(row)
    .onConflict((oc) => oc.column('scan_id').doUpdateSet({ metrics: row.metrics, warnings: row.warnings, version: row.version, created_at: row.created_at, dataset_id: row.dataset_id, modality: row.modality }))
    .execute();
}

/** IQMs of every scan of a dataset × modality, by scan id. */
export async function loadTaskIqms(db: DB, datasetId: string, modality: string): Promise<Record<string, { metrics: Record<string, number>; warnings: string[]; version: string }>> {
  const rows = await db.selectFrom('quality_metrics').selectAll().where('dataset_id', '=', datasetId).where('modality', '=', modality).orderBy('scan_id').execute();
  return Object.fromEntries(rows.map((r) => [r.scan_id, { metrics: r.metrics, warnings: r.warnings, version: r.version }]));
}

/** Predict a dataset × modality's score from its stored IQMs and keep it (marked predicted, with the model version). */
export async function storePredictedScore(db: DB, datasetId: string, modality: string): Promise<{ score: number; model: string; scans: number } | null> {
  const iqms = Object.values(await loadTaskIqms(db, datasetId, modality));
  if (!iqms.length) return null;
  const prediction = predictTaskScore(iqms.map((r) => r.metrics));
  const row = {
    dataset_id: datasetId,
    modality,
    score: prediction.score,
    model: prediction.model,
    details: JSON.stringify({ predicted: true, scans: prediction.scans }),
    created_at: new Date(),
  };
  await db
    .insertInto('predicted_scores')
    .values(row)
    .onConflict((oc) => oc.columns(['dataset_id', 'modality']).doUpdateSet({ score: row.score, model: row.model, details: row.details, created_at: row.created_at }))
    .execute();
  return { score: prediction.score, model: prediction.model, scans: prediction.scans };
}

export async function predictedScoreOf(db: DB, datasetId: string, modality: string): Promise<{ score: number; model: string } | null> {
  const row = await db.selectFrom('predicted_scores').select(['score', 'model']).where('dataset_id', '=', datasetId).where('modality', '=', modality).executeTakeFirst();
  return row ? { score: Number(row.score), model: row.model } : null;
}
