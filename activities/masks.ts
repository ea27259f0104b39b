// Masks step (GPU queue): the anonymization mask (deface_mask) and the anatomy mask (fb_mask) of a
// 3D image, computed in a worker thread (onnxruntime / numerics stay off the event loop).
import path from 'node:path';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { inThread, libModule, runScanStep } from './step.js';
import { fileExists, hashJson } from '../lib/files.js';
import { maskProvenance, type MasksOptions, type MasksResult } from '../lib/masks/index.js';
import type { ScanStepInput } from '../workflows/steps.js';

export interface MaskStepResult {
  type: string;
  confidence: number;
  source: string;
  executionProvider?: string;
  fellBackToCpu?: boolean;
}

/** The BIDS-shipped defacing mask of an image, if the dataset has one beside it. */
async function shippedDefacemask(filePath: string, suffix: string): Promise<string | undefined> {
  const dir = path.dirname(filePath);
  const stem = path.basename(filePath).replace(/\.nii(\.gz)?$/, '');
  const entities = stem.slice(0, stem.length - suffix.length - 1);
  for (const name of [`${stem}_defacemask.nii.gz`, `${entities}_mod-${suffix}_defacemask.nii.gz`, `${stem}_defacemask.nii`]) {
    if (await fileExists(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

export function createMaskActivities(deps: ActivityDeps) {
  async function computeScanMasks(input: ScanStepInput): Promise<StepResult<MaskStepResult>> {
    return runScanStep(deps, input, 'computeScanMasks', async (scan) => {
      const defacemaskPath = await shippedDefacemask(scan.file_path, scan.suffix);
      const options: MasksOptions = {
        modelsDir: deps.modelsDir, cacheDir: deps.cacheDir, executionProvider: deps.executionProvider, cpuThreads: deps.ortThreads,
        useNetwork: input.masks?.useNetwork, networkGridMm: input.masks?.networkGridMm, defacemaskPath, modality: scan.modality,
      };
      return {
        params: { ...input.masks, defacemask: defacemaskPath ? path.basename(defacemaskPath) : null },
        folder: 'masks',
        fileKinds: ['deface_mask', 'fb_mask'],
        compute: async ({ workDir }) => {
          const r = await inThread<MasksResult>(libModule('masks/index.ts'), 'computeMasks', [scan.file_path, workDir, options]);
          const provenance = maskProvenance(r, scan.content_hash);
          const { defaceMask, fbMask } = r.files;
          return {
            result: {
              type: r.anonymization.type, confidence: r.anonymization.confidence, source: r.anonymization.source,
              executionProvider: r.provenance.executionProvider, fellBackToCpu: r.provenance.fellBackToCpu,
            },
            outputHash: hashJson([defaceMask.sha256, fbMask.sha256]),
            files: [
              { kind: 'deface_mask', path: defaceMask.path, sha256: defaceMask.sha256, provenance },
              { kind: 'fb_mask', path: fbMask.path, sha256: fbMask.sha256, provenance },
            ],
          };
        },
      };
    });
  }

  return { computeScanMasks };
}
