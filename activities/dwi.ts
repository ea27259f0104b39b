// DWI derivation step (CPU queue): denoise → Gibbs → co-registration → bias field → brain mask →
// tensor maps, in a worker thread. The three maps (T2w, ADC, FA) become scans of their own
// (derived_from = the series), so masks, metrics and export treat them like any 3D image.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
import { runInThread } from './threads.js';
import { setProgress } from './heartbeat.js';
import { fileExists, hashJson } from '../lib/files.js';
import { dwiSidecars } from '../lib/bids/index.js';
import type { DeriveDwiResult } from '../lib/dwi/index.js';

const DWI_MODULE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'dwi', 'index.ts');
export const DWI_STEP_VERSION = '1';
const MAPS = [
  ['t2w', 'T2w'],
  ['adc', 'ADC'],
  ['fa', 'FA'],
] as const;

export interface DeriveDwiStepResult {
  derived: { scanId: string; modality: string; path: string; sha256: string }[];
  noiseLevel: number;
  brainExtraction: string;
  maxMotionMm: number;
  maxRotationDeg: number;
}

export function createDwiActivities(deps: ActivityDeps) {
  const { db } = deps;

  async function deriveDwi(input: { datasetId: string; scanId: string; crawlId?: string }): Promise<StepResult<DeriveDwiStepResult>> {
    const scan = await db.selectFrom('scans').selectAll().where('id', '=', input.scanId).executeTakeFirstOrThrow();
    const side = dwiSidecars(scan.file_path);
    const workDir = path.join(deps.dataDir, 'work', scan.dataset_id, scan.id.replace(/[:/]/g, '_'), 'dwi');
    const outDir = path.join(workDir, 'out');
    return runIdempotentStep(db, { datasetId: scan.dataset_id, scanId: scan.id, step: 'deriveDwi', stepVersion: DWI_STEP_VERSION, inputHash: scan.content_hash ?? '' }, {
      verify: async (r) => (await Promise.all(r.derived.map((d) => fileExists(d.path)))).every(Boolean),
      compute: async () => {
        let r: DeriveDwiResult;
        try {
          r = await runInThread<DeriveDwiResult>({ module: DWI_MODULE, fn: 'deriveDwi', args: [scan.file_path, side.bval, side.bvec, outDir, { workDir }] }, (p) => setProgress(p));
        } catch (e) {
          const err = e as Error & { reason?: string };
          if (err.name === 'DwiInputError') throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput', { reason: err.reason });
          throw e;
        }
        const maxMotionMm = Math.max(0, ...r.motion.map((m) => Math.hypot(...m.translation)));
        const maxRotationDeg = Math.max(0, ...r.motion.map((m) => Math.max(...m.rotationDeg.map(Math.abs))));
        const provenance = {
          GeneratedBy: { Name: 'openmind-dwi', Version: DWI_STEP_VERSION, Steps: ['mppca', 'gibbs', 'rigid', 'n4', 'brainmask', 'dti-wls'] },
          inputSha256: scan.content_hash, params: r.params, noiseLevel: r.noiseLevel, motion: r.motion, brainExtraction: r.brainExtraction,
          executionProvider: 'cpu', gradients: r.gradients, timingsMs: r.timings, warnings: r.warnings,
        };
        const source = (scan.metadata as { export?: Record<string, unknown> } | null) ?? {};
        const derived: DeriveDwiStepResult['derived'] = [];
        const stem = scan.path.replace(/\.nii(\.gz)?$/, '');
        for (const [key, modality] of MAPS) {
          const f = r.files[key];
          const id = `${scan.id}_${modality}`;
          // OpenMind (and nnssl's converter) keep a series' derived maps in its `__Data` folder.
          const bidsPath = `${stem}__Data/${modality}.nii.gz`;
          const meta = { export: { ...(source.export ?? {}), derived_from: scan.id }, dwi: { noiseLevel: r.noiseLevel, motion: { maxMotionMm, maxRotationDeg } }, provenance };
          const row = {
            id, dataset_id: scan.dataset_id, subject_id: scan.subject_id, session_id: scan.session_id, path: bidsPath, datatype: 'dwi', suffix: modality,
            modality, kind: '3d' as const, file_path: f.path, bytes: null, annex_key: f.sha256, content_hash: f.sha256, dims: null, voxel_size: null,
            datatype_name: 'float32', status: 'valid' as const, failure_step: null, failure_reason: null, failure_message: null,
            metadata: JSON.stringify(meta), derived_from: scan.id,
          };
          await db.insertInto('scans').values(row).onConflict((c) => c.column('id').doUpdateSet({ ...row, id: undefined, updated_at: new Date() } as any)).execute();
          derived.push({ scanId: id, modality, path: f.path, sha256: f.sha256 });
        }
        for (const [kind, f] of [['brain_mask', r.files.brainMask], ['noise_map', r.files.noiseMap]] as const) {
          await db
            .insertInto('derived_files')
            .values({ scan_id: scan.id, kind, path: f.path, content_hash: f.sha256, step_key: scan.content_hash ?? '', modality: 'DWI', provenance: JSON.stringify(provenance) })
            .onConflict((c) => c.columns(['scan_id', 'kind']).doUpdateSet({ path: f.path, content_hash: f.sha256, provenance: JSON.stringify(provenance) }))
            .execute();
        }
        const result = { derived, noiseLevel: r.noiseLevel, brainExtraction: r.brainExtraction, maxMotionMm, maxRotationDeg };
        return { result, outputHash: hashJson(derived.map((d) => d.sha256)) };
      },
    });
  }

  return { deriveDwi };
}
