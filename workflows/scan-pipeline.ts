// scanPipeline: one image through its steps. Inputs: the scan (ids, path, kind). Output: ScanOutcome.
// A failed step is recorded on the scan and returned, never thrown, so the dataset goes on.
import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ScanOutcome, ScanRef } from '../lib/pipeline-types.js';
import { activitiesFor, failureInfo } from './activities.js';
import { stepsFor } from './steps.js';
import { Status, Step } from './search-attributes.js';

export interface ScanPipelineInput {
  scan: ScanRef;
  crawlId?: string;
  heartbeatSeconds?: number;
}

export async function scanPipeline(input: ScanPipelineInput): Promise<ScanOutcome> {
  const { scan } = input;
  const acts = activitiesFor(input.heartbeatSeconds);
  const keys = { datasetId: scan.datasetId, scanId: scan.scanId, crawlId: input.crawlId };
  const skipped: Record<string, boolean> = {};
  for (const step of stepsFor(scan)) {
    setStep(step.activity, 'running');
    try {
      const r = (await acts[step.queue][step.activity](keys)) as { skipped?: boolean };
      skipped[step.activity] = !!r?.skipped;
    } catch (err) {
      const f = failureInfo(err);
      await acts.io.markScanFailed({ ...keys, step: step.activity, reason: f.reason, message: f.message });
      setStep(step.activity, 'failed');
      setCurrentDetails(`**${scan.scanId}** failed at \`${step.activity}\`: ${f.reason} — ${f.message}`);
      return { scanId: scan.scanId, status: 'failed', failedStep: step.activity, reason: f.reason, message: f.message, skipped };
    }
  }
  await acts.io.markScanCompleted(keys);
  setStep('done', 'completed');
  return { scanId: scan.scanId, status: 'completed', skipped };
}

function setStep(step: string, status: string): void {
  // Search attributes only change when the value does, to keep the history small.
  const current = workflowInfo().typedSearchAttributes;
  if (current.get(Step) === step && current.get(Status) === status) return;
  upsertSearchAttributes([
    { key: Step, value: step },
    { key: Status, value: status },
  ]);
  setCurrentDetails(`**${workflowInfo().workflowId}**: ${step} (${status})`);
}
