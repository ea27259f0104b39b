// DWI derivation step (CPU queue): denoise → Gibbs → co-registration → bias field → brain mask →
// tensor (or trace) maps, in a worker thread. Every derived map becomes a scan of its own
// (derived_from = the series), so masks, metrics and export treat them like any 3D image:
// T2w, ADC, FA and MD from a tensor fit; T2w, ADC and TRACE from a series with < 6 directions.
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { inThread, libModule, runScanStep } from './step.js';
import { fileExists, hashJson } from '../lib/files.js';
import { dwiSidecars } from '../lib/bids/index.js';
import type { DeriveDwiResult } from '../lib/dwi/index.js';
import { DWI_PIPELINE_VERSION } from '../lib/dwi/version.js';
import { upsertScan } from '../db/repositories/scans.js';
import type { ScanStepInput } from '../workflows/steps.js';

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
        const steps = ['mppca', 'gibbs', 'rigid', 'n4', 'brainmask', r.model === 'tensor' ? 'dti-wls' : 'trace'];
        const provenance = {
          GeneratedBy: { Name: 'openmind-dwi', Version: String(DWI_PIPELINE_VERSION), Steps: steps },
          inputSha256: scan.content_hash, params: r.params, noiseLevel: r.noiseLevel, motion: r.motion, brainExtraction: r.brainExtraction,
          executionProvider: 'cpu', gradients: r.gradients, model: r.model, notDerived: r.notDerived, registration: r.registration,
          timingsMs: r.timings, warnings: r.warnings,
        };
        // The maps come from what the derivation returned: a tensor series yields T2w, ADC, FA, MD; a trace series T2w, ADC, TRACE.
        const MAPS = r.maps;
        const source = (scan.metadata as { export?: Record<string, unknown> } | null) ?? {};
        const stem = scan.path.replace(/\.nii(\.gz)?$/, '');
        const derived: DeriveDwiStepResult['derived'] = [];
        for (const map of MAPS) {
          const { modality, file: f } = map;
          const id = `${scan.id}_${modality}`;
          // Per map: how it was made (shells, directions, volumes, method), then the series-wide record.
          const mapProvenance = { ...provenance, map: { modality, method: map.method, shells: map.shells, directions: map.directions, volumes: map.volumes } };
          const meta = { export: { ...(source.export ?? {}), derived_from: scan.id }, dwi: { noiseLevel: r.noiseLevel, motion: { maxMotionMm, maxRotationDeg } }, provenance: mapProvenance };
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
