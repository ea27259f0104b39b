// Building what raters see, in two steps that map onto activities: per scan, measure the IQMs
// and draw the mosaic (CPU); per dataset × modality, draw the montage, predict a score and
// register the rating task.
import path from 'node:path';
import type { DB } from '../../db/database.js';
import { affineOf, readNifti, voxelSizes } from '../nifti/index.js';
import { computeIqms, type IqmExtra, type IqmResult } from '../quality/iqms.js';
import { writeMontage, writeScanMosaic } from '../quality/mosaic.js';
import { loadTaskIqms, storePredictedScore, storeScanIqms } from '../quality/store.js';
import { QualityError } from '../quality/errors.js';
import { registerRatingTask } from './store.js';
import { fileSafeName } from '../files.js';


/** Where the QC pictures of a dataset × modality go under the assets folder. */
export function qcAssetPaths(assetsDir: string, datasetId: string, modality: string, scanId?: string): { montage: string; mosaic?: string } {
  const dir = path.join(assetsDir, fileSafeName(datasetId), fileSafeName(modality));
  return { montage: path.join(dir, 'montage.png'), mosaic: scanId ? path.join(dir, 'mosaics', `${fileSafeName(scanId)}.png`) : undefined };
}

async function readMask(file: string | undefined, voxels: number): Promise<Uint8Array | undefined> {
  if (!file) return undefined;
  const img = await readNifti(file);
  if (img.data.length < voxels) throw new QualityError('mask_shape_mismatch', `mask ${file} has ${img.data.length} voxels, the image ${voxels}`);
  return Uint8Array.from(img.data.subarray(0, voxels), (v) => (v > 0.5 ? 1 : 0));
}

export interface MeasureScanInput {
  scanId: string;
  datasetId: string;
  modality: string;
  imagePath: string;
  anatomyMaskPath?: string;
  anonymizationMaskPath?: string;
  /** Where the mosaic PNG goes (see qcAssetPaths). */
  mosaicPath: string;
  /** DWI derivatives: noise level and motion of the derivation; contrast for tissue naming. */
  extra?: IqmExtra;
}

/**
 * IQMs and the mosaic of one scan. Stores the IQMs in quality_metrics when a database is given.
 * Deterministic for the same files, so a retried activity writes the same results.
 */
export async function measureScan(db: DB | null, input: MeasureScanInput): Promise<IqmResult & { scanId: string; mosaicPath: string }> {
  const img = await readNifti(input.imagePath);
  const shape = img.shape.slice(0, 3);
  const voxels = shape[0] * shape[1] * (shape[2] ?? 1);
  const masks = {
    anatomy: await readMask(input.anatomyMaskPath, voxels),
    anonymization: await readMask(input.anonymizationMaskPath, voxels),
  };
  const voxelSize = voxelSizes(img.header);
  const result = computeIqms({ data: img.data, shape: img.shape, voxelSize }, masks, { contrast: input.modality, ...input.extra });
  await writeScanMosaic(input.mosaicPath, { data: img.data, shape, voxelSize, affine: affineOf(img.header) }, masks);
  if (db) await storeScanIqms(db, { scanId: input.scanId, datasetId: input.datasetId, modality: input.modality, result });
  return { ...result, scanId: input.scanId, mosaicPath: input.mosaicPath };
}

export interface FinishTaskInput {
  datasetId: string;
  modality: string;
  /** Scans whose mosaics exist, in dataset order. */
  scans: { scanId: string; mosaicPath: string }[];
  montagePath: string;
  /** Scans in the montage (default 6), drawn with the seed "<dataset>/<modality>". */
  montageScans?: number;
}

/**
 * The montage, the predicted score (from the stored IQMs) and the rating task of a
 * dataset × modality. Re-running refreshes them; ratings already given stay.
 */
export async function finishRatingTask(db: DB, input: FinishTaskInput): Promise<{ montagePath: string; chosen: string[]; predicted: { score: number; model: string } | null }> {
  if (!input.scans.length) throw new QualityError('no_scans', `no scans to rate for ${input.datasetId} × ${input.modality}`);
  const montage = await writeMontage(
    input.montagePath,
    input.scans.map((s) => s.mosaicPath),
    { n: input.montageScans ?? 6, seed: `${input.datasetId}/${input.modality}` },
  );
  const iqms = await loadTaskIqms(db, input.datasetId, input.modality);
  const predicted = await storePredictedScore(db, input.datasetId, input.modality);
  await registerRatingTask(db, {
    datasetId: input.datasetId,
    modality: input.modality,
    montagePath: input.montagePath,
    scans: input.scans.map((s) => ({ scanId: s.scanId, mosaicPath: s.mosaicPath, metrics: iqms[s.scanId]?.metrics ?? {} })),
  });
  return { montagePath: montage.path, chosen: montage.chosen, predicted: predicted && { score: predicted.score, model: predicted.model } };
}
