// Quality steps: image-quality metrics + QC mosaic per scan (CPU queue), the rating task per
// dataset × modality (I/O queue), and applying the aggregated score to every image and the export.
import path from 'node:path';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
import { runScanStep } from './step.js';
import { asStepFailure } from './failures.js';
import type { ScanStepInput } from '../workflows/steps.js';
import { fileExists, hashJson } from '../lib/files.js';
import { IQM_VERSION } from '../lib/quality/iqms.js';
import { measureImageQuality, qcAssetPaths } from '../lib/quality/measure.js';
import { finishRatingTask, qualityScoreOf } from '../services/rating/ratings.js';
import { completed3dScans, scansOf, setScanMetadata } from '../db/repositories/scans.js';
import { derivedFilesOf } from '../db/repositories/derived-files.js';
import { upsertScanIqms } from '../db/repositories/quality-metrics.js';

export function createQualityActivities(deps: ActivityDeps) {
  const { db } = deps;
  const assetsDir = path.join(deps.dataDir, 'qc');

  /** IQMs inside the anatomy mask (respecting the anonymization mask) and the scan's QC mosaic. */
  async function measureScanQuality(input: ScanStepInput): Promise<StepResult<{ metrics: Record<string, number>; warnings: string[]; mosaicPath: string }>> {
    return runScanStep(deps, input, 'measureScanQuality', async (scan) => {
      const masks = await derivedFilesOf(db, scan.id, ['deface_mask', 'fb_mask']);
      const mask = (k: string) => masks.find((m) => m.kind === k);
      const extra = (scan.metadata as { dwi?: { noiseLevel?: number; motion?: unknown } } | null)?.dwi;
      const mosaicPath = qcAssetPaths(assetsDir, scan.dataset_id, scan.modality, scan.id).mosaic!;
      return {
        inputHash: () => hashJson({ image: scan.content_hash, masks: masks.map((m) => [m.kind, m.content_hash]).sort(), extra: extra ?? null }),
        verify: async (r) => fileExists(r.mosaicPath),
        compute: async () => {
          const r = await measureImageQuality({
            modality: scan.modality, imagePath: scan.file_path, anatomyMaskPath: mask('fb_mask')?.path, anonymizationMaskPath: mask('deface_mask')?.path, mosaicPath,
            extra: extra ? { noiseLevel: extra.noiseLevel, motion: extra.motion as any } : undefined,
          }).catch((e) => { throw asStepFailure(e); });
          await upsertScanIqms(db, { scanId: scan.id, datasetId: scan.dataset_id, modality: scan.modality, result: r });
          return { result: { metrics: r.metrics, warnings: r.warnings, mosaicPath }, outputHash: hashJson(r.metrics) };
        },
      };
    });
  }

  /** One rating task per modality of the dataset: montage, predicted score, registration. */
  async function prepareRatingTasks(input: { datasetId: string; crawlId?: string }): Promise<StepResult<{ modalities: string[] }>> {
    const scans = await completed3dScans(db, input.datasetId);
    const byModality = new Map<string, string[]>();
    for (const s of scans) byModality.set(s.modality, [...(byModality.get(s.modality) ?? []), s.id]);
    const inputHash = hashJson([...byModality.entries()]);
    return runIdempotentStep(db, { datasetId: input.datasetId, scanId: null, step: 'prepareRatingTasks', stepVersion: IQM_VERSION, inputHash }, {
      compute: async () => {
        const modalities: string[] = [];
        for (const [modality, ids] of byModality) {
          const withMosaic = [];
          for (const id of ids) {
            const mosaicPath = qcAssetPaths(assetsDir, input.datasetId, modality, id).mosaic!;
            if (await fileExists(mosaicPath)) withMosaic.push({ scanId: id, mosaicPath });
          }
          if (!withMosaic.length) continue;
          await finishRatingTask(db, { datasetId: input.datasetId, modality, scans: withMosaic, montagePath: qcAssetPaths(assetsDir, input.datasetId, modality).montage });
          modalities.push(modality);
        }
        return { result: { modalities }, outputHash: hashJson(modalities) };
      },
    });
  }

  /**
   * Write the dataset × modality score to each of its images: the raters' aggregate when final
   * (image_quality_score), else the prediction, kept apart and marked predicted.
   */
  async function applyQualityScore(input: { datasetId: string; modality: string }): Promise<{ status: string; score: number | null; source: string; raters: string[] }> {
    const q = await qualityScoreOf(db, input.datasetId, input.modality);
    const quality = q.source === 'raters' ? { score: q.score, kind: 'raters', raters: q.aggregate.raters } : null;
    const predicted = q.source === 'predicted' ? { score: q.score, kind: 'predicted', model: q.model } : undefined;
    for (const s of await scansOf(db, input.datasetId, { modality: input.modality })) {
      const meta = { ...((s.metadata as Record<string, unknown> | null) ?? {}) };
      meta.quality = quality;
      if (predicted) meta.qualityPredicted = predicted;
      await setScanMetadata(db, s.id, meta);
    }
    return { status: q.aggregate.status, score: q.score, source: q.source, raters: q.aggregate.raters };
  }

  return { measureScanQuality, prepareRatingTasks, applyQualityScore };
}
