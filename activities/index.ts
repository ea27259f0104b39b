// createActivities(deps): every activity, grouped by pipeline step. Each worker registers the
// activities of its own queue (activitiesForQueue): a per-scan step on the queue its definition in
// workflows/steps.ts names, everything else on `io`, where the workflows and local activities run.
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { createIngestActivities } from './ingest.js';
import { createValidateActivities } from './validate.js';
import { createScanStatusActivities } from './scan-status.js';
import { createExportActivities } from './export.js';
import { createMetadataActivities } from './metadata.js';
import { createOpenNeuroActivities } from './openneuro.js';
import { createMaskActivities } from './masks.js';
import { createQualityActivities } from './quality.js';
import { createDwiActivities } from './dwi.js';
import { AUDITED_STEPS, SCAN_STEPS, type DATASET_STEPS, type QueueKey, type ScanActivity, type ScanStepInput } from '../workflows/steps.js';

export type { ActivityDeps } from './deps.js';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createIngestActivities(deps),
    ...createValidateActivities(deps),
    ...createScanStatusActivities(deps),
    ...createMetadataActivities(deps),
    ...createExportActivities(deps),
    ...createOpenNeuroActivities(deps),
    ...createDwiActivities(deps),
    ...createMaskActivities(deps),
    ...createQualityActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

// Compile-time checks: every per-scan step is an activity taking ScanStepInput and returning a
// StepResult, and every dataset step named in workflows/steps.ts exists.
type ScanStepActivity = (input: ScanStepInput) => Promise<StepResult<unknown>>;
export type ScanStepActivities = { [K in ScanActivity]: ScanStepActivity };
const scanStepsAreTyped = (a: Activities): ScanStepActivities => a;
const datasetStepsExist = (a: Activities): Pick<Activities, (typeof DATASET_STEPS)[number]> => a;
void scanStepsAreTyped;
void datasetStepsExist;

/** Activities that are pipeline steps: each attempt gets a scan_events row (activities/audit.ts). */
export function isAuditedStep(activityType: string): boolean {
  return AUDITED_STEPS.has(activityType);
}

const STEP_QUEUE = new Map<string, QueueKey>(SCAN_STEPS.map((s) => [s.name, s.queue]));

/** The activities a worker of `queue` registers. */
export function activitiesForQueue(all: Activities, queue: QueueKey): Partial<Activities> {
  return Object.fromEntries(Object.entries(all).filter(([name]) => (STEP_QUEUE.get(name) ?? 'io') === queue)) as Partial<Activities>;
}
