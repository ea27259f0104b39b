// scanPipeline: one image through its steps. Input: the scan (ids, path, kind) and step options.
// Output: ScanOutcome. A 3D image: [fetch] → validate → masks → quality metrics. A DWI series:
// [fetch] → validate → derive (T2w, ADC, FA) → for each derived map, masks → quality metrics.
// A failed step is recorded on the scan and returned, never thrown, so the dataset goes on.
import { patched, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ScanOutcome, ScanRef, StepResult } from '../lib/pipeline-types.js';
import { activitiesFor, failureInfo } from './activity-stubs.js';
import { stepsFor, type ScanActivity, type ScanStage, type ScanStepDef, type ScanStepInput, type ScanStepOptions } from './steps.js';
import { Status, Step } from './search-attributes.js';

export interface ScanPipelineSteps extends ScanStepOptions {
  /** Stop after fetch and validate. */
  intakeOnly?: boolean;
  skipQuality?: boolean;
}

export interface ScanPipelineInput {
  scan: ScanRef;
  crawlId?: string;
  heartbeatSeconds?: number;
  steps?: ScanPipelineSteps;
}

interface DerivedRef {
  scanId: string;
  modality: string;
}

export async function scanPipeline(input: ScanPipelineInput): Promise<ScanOutcome> {
  const { scan } = input;
  const acts = activitiesFor(input.heartbeatSeconds);
  const skipped: Record<string, boolean> = {};

  /** Run one stage's steps for one scan id; on failure record it and return the failure. */
  async function run(ref: ScanRef, stage: ScanStage, except: ScanActivity[], results: Record<string, unknown> = {}) {
    const keys = { datasetId: ref.datasetId, scanId: ref.scanId, crawlId: input.crawlId };
    for (const step of stepsFor(ref, stage, except)) {
      const def: ScanStepDef = step;
      if (def.since && !patched(def.since)) continue;
      setStep(step.name, 'running');
      try {
        const call: (i: ScanStepInput) => Promise<StepResult> = acts[step.queue][step.name];
        const r = await call({ ...keys, masks: input.steps?.masks });
        skipped[`${ref.scanId === scan.scanId ? '' : `${ref.modality}:`}${step.name}`] = !!r?.skipped;
        results[step.name] = r?.result;
      } catch (err) {
        const f = failureInfo(err);
        await acts.local.markScanFailed({ ...keys, step: step.name, reason: f.reason, message: f.message });
        setStep(step.name, 'failed');
        setCurrentDetails(`**${ref.scanId}** failed at \`${step.name}\`: ${f.reason} — ${f.message}`);
        return { failed: { step: step.name, ...f }, results };
      }
    }
    return { results };
  }

  const intakeOnly = !!input.steps?.intakeOnly;
  const imageExcept: ScanActivity[] = input.steps?.skipQuality ? ['measureScanQuality'] : [];
  const intake = await run(scan, 'intake', intakeOnly ? ['deriveDwi'] : []);
  if (intake.failed) return failed(scan, intake.failed, skipped);

  if (intakeOnly) {
    // Nothing more now; a later run without intakeOnly finds fetch and validate done and goes on.
  } else if (scan.kind === 'dwi') {
    // Each derived map is a 3D image of its own (own scan id), with masks and metrics like any other.
    const derived = ((intake.results.deriveDwi as { derived?: DerivedRef[] } | undefined)?.derived ?? []);
    for (const d of derived) {
      const ref: ScanRef = { scanId: d.scanId, datasetId: scan.datasetId, path: scan.path, kind: '3d', modality: d.modality };
      const r = await run(ref, 'image', imageExcept);
      if (!r.failed) await acts.local.markScanCompleted({ datasetId: scan.datasetId, scanId: d.scanId });
    }
  } else {
    const r = await run(scan, 'image', imageExcept);
    if (r.failed) return failed(scan, r.failed, skipped);
  }
  await acts.local.markScanCompleted({ datasetId: scan.datasetId, scanId: scan.scanId, crawlId: input.crawlId });
  setStep('done', 'completed');
  return { scanId: scan.scanId, status: 'completed', skipped };
}

function failed(scan: ScanRef, f: { step: string; reason: string; message: string }, skipped: Record<string, boolean>): ScanOutcome {
  return { scanId: scan.scanId, status: 'failed', failedStep: f.step, reason: f.reason, message: f.message, skipped };
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
