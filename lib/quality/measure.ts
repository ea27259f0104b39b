// Measuring one image for quality control: its IQMs (inside the anatomy mask, respecting the
// anonymization mask) and its QC mosaic. Storing the IQMs is the caller's (activities/quality.ts).
import path from 'node:path';
import { affineOf, readNifti, voxelSizes } from '../nifti/index.js';
import { computeIqms, type IqmExtra, type IqmResult } from './iqms.js';
import { writeScanMosaic } from './mosaic.js';
import { QualityError } from './errors.js';
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

export interface MeasureImageInput {
  /** Contrast (T1w, FLAIR, ...): names the tissues. */
  modality: string;
  imagePath: string;
  anatomyMaskPath?: string;
  anonymizationMaskPath?: string;
  /** Where the mosaic PNG goes (see qcAssetPaths). */
  mosaicPath: string;
  /** DWI derivatives: noise level and motion of the derivation. */
  extra?: IqmExtra;
}

/** IQMs and the mosaic of one image. Deterministic for the same files, so a retried activity writes the same results. */
export async function measureImageQuality(input: MeasureImageInput): Promise<IqmResult & { mosaicPath: string }> {
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
  return { ...result, mosaicPath: input.mosaicPath };
}
