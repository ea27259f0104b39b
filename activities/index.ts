// createActivities(deps): every activity, grouped by pipeline step. Workers register the ones
// their queue runs; workflows pick the queue per call (workflows/activities.ts).
import type { ActivityDeps } from './deps.js';
import { createIngestActivities } from './ingest.js';
import { createValidateActivities } from './validate.js';
import { createScanStatusActivities } from './scan-status.js';
import { createExportActivities } from './export.js';
import { createMetadataActivities } from './metadata.js';
import { createOpenNeuroActivities } from './openneuro.js';
import { createMaskActivities } from './masks.js';
import { createQualityActivities } from './quality.js';
import { createDwiActivities } from './dwi.js';

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

/** Activities that are pipeline steps: each attempt gets a scan_events row. */
export const STEP_ACTIVITIES = new Set<string>([
  'ingestDataset', 'listOpenNeuroSnapshot', 'fetchOpenNeuroMetadata', 'registerOpenNeuroScans', 'fetchScan', 'validateScan', 'deriveDwi', 'computeScanMasks', 'measureScanQuality',
  'harmonizeMetadata', 'prepareRatingTasks', 'exportDataset', 'writeMetadataTable',
]);
