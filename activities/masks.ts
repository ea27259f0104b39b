// Masks step (GPU queue): the anonymization mask (deface_mask) and the anatomy mask (fb_mask) of a
// 3D image, computed in a worker thread (onnxruntime / numerics stay off the event loop).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
import { runInThread } from './threads.js';
import { setProgress } from './heartbeat.js';
import { fileExists, hashJson, sha256File } from '../lib/files.js';
import { MASKS_VERSION, maskProvenance, type MasksResult } from '../lib/masks/index.js';

const MASKS_MODULE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'masks', 'index.ts');

export interface MaskStepOptions {
  /** Run the MindGrab network (default: when the model store has it). */
  useNetwork?: boolean;
  /** Isotropic grid for the network in mm (default 1, as trained). */
  networkGridMm?: number;
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
  const { db } = deps;

  async function computeScanMasks(input: { datasetId: string; scanId: string; crawlId?: string; masks?: MaskStepOptions }): Promise<StepResult<{ type: string; confidence: number; source: string; executionProvider?: string; fellBackToCpu?: boolean }>> {
    const scan = await db.selectFrom('scans').selectAll().where('id', '=', input.scanId).executeTakeFirstOrThrow();
    const outDir = path.join(deps.dataDir, 'work', scan.dataset_id, scan.id.replace(/[:/]/g, '_'), 'masks');
    const defacemaskPath = await shippedDefacemask(scan.file_path, scan.suffix);
    const ep = (process.env.OPENMIND_EP === 'cuda' ? 'cuda' : 'cpu') as 'cuda' | 'cpu';
    const params = { ...input.masks, defacemask: defacemaskPath ? path.basename(defacemaskPath) : null };
    return runIdempotentStep(db, { datasetId: scan.dataset_id, scanId: scan.id, step: 'computeScanMasks', stepVersion: MASKS_VERSION, inputHash: scan.content_hash ?? '', params }, {
      verify: async () => {
        const files = await db.selectFrom('derived_files').select(['path', 'content_hash']).where('scan_id', '=', scan.id).where('kind', 'in', ['deface_mask', 'fb_mask']).execute();
        return files.length === 2 && (await Promise.all(files.map(async (f) => (await fileExists(f.path)) && (await sha256File(f.path)) === f.content_hash))).every(Boolean);
      },
      compute: async () => {
        let r: MasksResult;
        try {
          r = await runInThread<MasksResult>(
            { module: MASKS_MODULE, fn: 'computeMasks', args: [scan.file_path, outDir, { modelsDir: deps.modelsDir, executionProvider: ep, useNetwork: input.masks?.useNetwork, networkGridMm: input.masks?.networkGridMm, defacemaskPath, modality: scan.modality }] },
            (p) => setProgress(p),
          );
        } catch (e) {
          const err = e as Error & { reason?: string };
          if (err.name === 'MaskInputError') throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput', { reason: err.reason });
          throw e;
        }
        const provenance = maskProvenance(r, scan.content_hash);
        for (const [kind, f] of [['deface_mask', r.files.defaceMask], ['fb_mask', r.files.fbMask]] as const) {
          await db
            .insertInto('derived_files')
            .values({ scan_id: scan.id, kind, path: f.path, content_hash: f.sha256, step_key: hashJson(params), modality: scan.modality, provenance: JSON.stringify(provenance) })
            .onConflict((c) => c.columns(['scan_id', 'kind']).doUpdateSet({ path: f.path, content_hash: f.sha256, provenance: JSON.stringify(provenance) }))
            .execute();
        }
        const result = {
          type: r.anonymization.type, confidence: r.anonymization.confidence, source: r.anonymization.source,
          executionProvider: r.provenance.executionProvider, fellBackToCpu: r.provenance.fellBackToCpu,
        };
        return { result, outputHash: hashJson([r.files.defaceMask.sha256, r.files.fbMask.sha256]) };
      },
    });
  }

  return { computeScanMasks };
}

