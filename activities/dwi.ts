// DWI derivation step (CPU queue): denoise → Gibbs → co-registration → bias field → brain mask →
// tensor maps, in a worker thread. The three maps (T2w, ADC, FA) become scans of their own
// (derived_from = the series), so masks, metrics and export treat them like any 3D image.
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { inThread, libModule, runScanStep } from './step.js';
import { fileExists, hashJson } from '../lib/files.js';
import { dwiSidecars } from '../lib/bids/index.js';
import type { DeriveDwiResult } from '../lib/dwi/index.js';
import { DWI_PIPELINE_VERSION } from '../lib/dwi/version.js';
import { upsertScan } from '../db/repositories/scans.js';
import type { ScanStepInput } from '../workflows/steps.js';

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
  async function deriveDwi(input: ScanStepInput): Promise<StepResult<DeriveDwiStepResult>> {
    return runScanStep(deps, input, 'deriveDwi', (scan) => ({
      folder: 'dwi',
      verify: async (r: DeriveDwiStepResult) => (await Promise.all(r.derived.map((d) => fileExists(d.path)))).every(Boolean),
      compute: async ({ workDir }) => {
        const side = dwiSidecars(scan.file_path);
        const r = await inThread<DeriveDwiResult>(libModule('dwi/index.ts'), 'deriveDwi', [scan.file_path, side.bval, side.bvec, `${workDir}/out`, { workDir }]);
        const maxMotionMm = Math.max(0, ...r.motion.map((m) => Math.hypot(...m.translation)));
        const maxRotationDeg = Math.max(0, ...r.motion.map((m) => Math.max(...m.rotationDeg.map(Math.abs))));
        const provenance = {
          GeneratedBy: { Name: 'openmind-dwi', Version: String(DWI_PIPELINE_VERSION), Steps: ['mppca', 'gibbs', 'rigid', 'n4', 'brainmask', 'dti-wls'] },
          inputSha256: scan.content_hash, params: r.params, noiseLevel: r.noiseLevel, motion: r.motion, brainExtraction: r.brainExtraction,
          executionProvider: 'cpu', gradients: r.gradients, timingsMs: r.timings, warnings: r.warnings,
        };
        const source = (scan.metadata as { export?: Record<string, unknown> } | null) ?? {};
        const stem = scan.path.replace(/\.nii(\.gz)?$/, '');
        const derived: DeriveDwiStepResult['derived'] = [];
        for (const [key, modality] of MAPS) {
          const f = r.files[key];
          const id = `${scan.id}_${modality}`;
          const meta = { export: { ...(source.export ?? {}), derived_from: scan.id }, dwi: { noiseLevel: r.noiseLevel, motion: { maxMotionMm, maxRotationDeg } }, provenance };
          await upsertScan(deps.db, {
            id, dataset_id: scan.dataset_id, subject_id: scan.subject_id, session_id: scan.session_id,
            // OpenMind (and nnssl's converter) keep a series' derived maps in its `__Data` folder.
            path: `${stem}__Data/${modality}.nii.gz`, datatype: 'dwi', suffix: modality, modality, kind: '3d',
            file_path: f.path, bytes: null, annex_key: f.sha256, content_hash: f.sha256, dims: null, voxel_size: null,
            datatype_name: 'float32', status: 'valid', failure_step: null, failure_reason: null, failure_message: null,
            metadata: JSON.stringify(meta), derived_from: scan.id,
          });
          derived.push({ scanId: id, modality, path: f.path, sha256: f.sha256 });
        }
        return {
          result: { derived, noiseLevel: r.noiseLevel, brainExtraction: r.brainExtraction, maxMotionMm, maxRotationDeg },
          outputHash: hashJson(derived.map((d) => d.sha256)),
          files: [
            { kind: 'brain_mask', path: r.files.brainMask.path, sha256: r.files.brainMask.sha256, modality: 'DWI', provenance },
            { kind: 'noise_map', path: r.files.noiseMap.path, sha256: r.files.noiseMap.sha256, modality: 'DWI', provenance },
          ],
        };
      },
    }));
  }

  return { deriveDwi };
}
