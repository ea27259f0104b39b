// Validate step (CPU queue): read the NIfTI streaming, hash it, check geometry and values.
// DWI series also need a gradient table that matches their 4th dimension.
import fsp from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
import { validateNifti, NiftiValidationError, type NiftiSummary } from '../lib/nifti/index.js';
import { dwiSidecars } from '../lib/bids/index.js';
import { parseBval, parseBvec, checkGradientTable, GradientTableError, type GradientCheck } from '../lib/dwi/gradients.js';


export const VALIDATE_VERSION = '1';

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
  const { db } = deps;

  async function validateScan(input: { datasetId: string; scanId: string }): Promise<StepResult<ValidateOutput>> {
    const scan = await db.selectFrom('scans').selectAll().where('id', '=', input.scanId).executeTakeFirstOrThrow();
    const outcome = await runIdempotentStep<ValidateOutput>(
      db,
      // The file fingerprint (annex key, or size:mtime) names the input before its hash is known.
      { datasetId: scan.dataset_id, scanId: scan.id, step: 'validateScan', stepVersion: VALIDATE_VERSION, inputHash: scan.annex_key ?? '', params: { kind: scan.kind } },
      {
        verify: async (r) => scan.content_hash === r.sha256,
        compute: async () => {
          const summary = await validateOrFail(scan.file_path, scan.kind === 'dwi' ? '4d' : '3d');
          const out: ValidateOutput = {
            sha256: summary.sha256,
            bytes: summary.bytes,
            dims: summary.dims,
            voxelSize: summary.voxelSize,
            datatype: summary.datatype,
            orientation: summary.orientation,
          };
          if (scan.kind === 'dwi') out.gradients = await checkDwiSidecars(scan.file_path, summary.dims[3] ?? 1);
          return { result: out, outputHash: summary.sha256 };
        },
      },
    );
    const r = outcome.result;
    await db
      .updateTable('scans')
      .set({
        content_hash: r.sha256,
        bytes: r.bytes,
        dims: JSON.stringify(r.dims),
        voxel_size: JSON.stringify(r.voxelSize),
        datatype_name: r.datatype,
        status: 'valid',
        updated_at: new Date(),
      })
      .where('id', '=', scan.id)
      .where('status', 'in', ['registered', 'valid', 'failed'])
      .execute();
    return { ...outcome, inputHash: outcome.inputHash, result: r };
  }

  return { validateScan };
}

async function validateOrFail(file: string, expect: '3d' | '4d'): Promise<NiftiSummary> {
  try {
    return await validateNifti(file, { expect });
  } catch (e) {
    if (e instanceof NiftiValidationError) {
      throw ApplicationFailure.nonRetryable(e.message, 'InvalidInput', { reason: e.reason, ...(e.details ?? {}) });
    }
    throw e;
  }
}

async function checkDwiSidecars(file: string, volumes: number): Promise<GradientCheck> {
  const side = dwiSidecars(file);
  try {
    const [bvalText, bvecText] = await Promise.all([fsp.readFile(side.bval, 'utf8'), fsp.readFile(side.bvec, 'utf8')]);
    const bvals = parseBval(bvalText);
    return checkGradientTable(bvals, parseBvec(bvecText, bvals.length), volumes);
  } catch (e) {
    if (e instanceof GradientTableError) throw ApplicationFailure.nonRetryable(e.message, 'InvalidInput', { reason: e.reason });
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw ApplicationFailure.nonRetryable(`the DWI series has no ${(e as NodeJS.ErrnoException).path?.split('/').pop()} beside it`, 'InvalidInput', {
        reason: 'missing_gradient_table',
      });
    }
    throw e;
  }
}

