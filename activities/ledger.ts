// The one idempotency mechanism behind resume, rerun and dedup of the pipeline's steps. (lib/dwi
// also keeps its own per-stage records inside one derivation, so a killed derivation resumes mid-way.)
import { findStepOutput, recordStepOutput } from '../db/repositories/step-outputs.js';
import type { DB } from '../db/database.js';
import { hashJson } from '../lib/files.js';

export interface StepIdentity {
  datasetId: string;
  scanId: string | null;
  step: string;
  stepVersion: string;
  /** Content hash of the step's inputs (file sha256, or a hash of upstream output hashes). */
  inputHash: string;
  params?: unknown;
}

export interface StepOutcome<R> {
  skipped: boolean;
  stepKey: string;
  inputHash: string;
  outputHash: string;
  result: R;
}

export function stepKeyOf(id: StepIdentity): string {
  return hashJson({ scan: id.scanId ?? id.datasetId, step: id.step, input: id.inputHash, params: hashJson(id.params ?? null), version: id.stepVersion });
}

/**
 * Run a step once per key. When the ledger has the key and `verify` confirms the recorded outputs
 * are still there with their hashes, return the stored result marked skipped. Otherwise compute,
 * then record (replacing a stale entry), so a retried or repeated activity never duplicates work.
 */
export async function runIdempotentStep<R>(
  db: DB,
  id: StepIdentity,
  opts: {
    /** Gets the step's ledger key, e.g. to record it with the files it writes. */
    compute: (stepKey: string) => Promise<{ result: R; outputHash: string }>;
    verify?: (result: R, outputHash: string) => Promise<boolean>;
  },
): Promise<StepOutcome<R>> {
  const stepKey = stepKeyOf(id);
  const prior = await findStepOutput(db, stepKey);
  if (prior && (!opts.verify || (await opts.verify(prior.result as R, prior.output_hash)))) {
    return { skipped: true, stepKey, inputHash: id.inputHash, outputHash: prior.output_hash, result: prior.result as R };
  }
  const { result, outputHash } = await opts.compute(stepKey);
  await recordStepOutput(db, {
    step_key: stepKey,
    scan_id: id.scanId,
    dataset_id: id.datasetId,
    step: id.step,
    step_version: id.stepVersion,
    input_hash: id.inputHash,
    params_hash: hashJson(id.params ?? null),
    output_hash: outputHash,
    result: JSON.stringify(result ?? null),
  });
  return { skipped: false, stepKey, inputHash: id.inputHash, outputHash, result };
}
