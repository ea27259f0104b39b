// Validate step (CPU queue): read the NIfTI streaming, hash it, check geometry and values.
// DWI series also need a gradient table that matches their 4th dimension.
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runScanStep } from './step.js';
import { asStepFailure } from './failures.js';
import { validateNifti, type NiftiSummary } from '../lib/nifti/index.js';
import { dwiSidecars } from '../lib/bids/index.js';
import { parseBval, parseBvec, checkGradientTable, type GradientCheck } from '../lib/dwi/gradients.js';
import { recordScanValidation } from '../db/repositories/scans.js';
import { InputFileError, readInputText } from '../lib/input-files.js';
import type { ScanStepInput } from '../workflows/steps.js';

export interface ValidateOutput {
  sha256: string;
  bytes: number;
  dims: number[];
  voxelSize: number[];
  datatype: string;
  orientation: string;
  gradients?: GradientCheck;
}

export function createValidateActivities(deps: ActivityDeps) {
  async function validateScan(input: ScanStepInput): Promise<StepResult<ValidateOutput>> {
    const outcome = await runScanStep<ValidateOutput>(deps, input, 'validateScan', (scan) => ({
      // The file fingerprint (annex key, or size:mtime) names the input before its hash is known.
      inputHash: () => scan.annex_key ?? '',
      params: { kind: scan.kind },
      verify: async (r) => scan.content_hash === r.sha256,
      compute: async () => {
        const summary = await validateOrFail(scan.file_path, scan.kind === 'dwi' ? '4d' : '3d');
        const { sha256, bytes, dims, voxelSize, datatype, orientation } = summary;
        const out: ValidateOutput = { sha256, bytes, dims, voxelSize, datatype, orientation };
        if (scan.kind === 'dwi') out.gradients = await checkDwiSidecars(scan.file_path, dims[3] ?? 1);
        return { result: out, outputHash: sha256 };
      },
    }));
    await recordScanValidation(deps.db, input.scanId, outcome.result);
    return outcome;
  }

  return { validateScan };
}

async function validateOrFail(file: string, expect: '3d' | '4d'): Promise<NiftiSummary> {
  try {
    return await validateNifti(file, { expect });
  } catch (e) {
    throw asStepFailure(e);
  }
}

async function checkDwiSidecars(file: string, volumes: number): Promise<GradientCheck> {
  const side = dwiSidecars(file);
  try {
    const [bvalText, bvecText] = await Promise.all([readInputText(side.bval), readInputText(side.bvec)]);
    const bvals = parseBval(bvalText);
    return checkGradientTable(bvals, parseBvec(bvecText, bvals.length), volumes);
  } catch (e) {
    if (e instanceof InputFileError && e.reason === 'missing') {
      throw ApplicationFailure.nonRetryable(`the DWI series has no ${String(e.details.path).split('/').pop()} beside it`, 'InvalidInput', {
        reason: 'missing_gradient_table',
      });
    }
    throw asStepFailure(e);
  }
}
