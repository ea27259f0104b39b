// The step graph's definitions, in one place. A per-scan step is a name (its activity, and the
// `step` of its audit rows and ledger entries), the queue it runs on, the version of the lib/ code it
// runs (part of its ledger key), and the scans it applies to. From this table come the workflow's
// typed calls (scan-pipeline.ts), each worker's activity registry and the audit wiring
// (activities/registry.ts). Imported by workflow code: constants and pure functions only.
import type { ScanRef } from '../lib/pipeline-types.js';
import { DOWNLOAD_VERSION } from '../lib/openneuro/version.js';
import { VALIDATION_VERSION } from '../lib/nifti/version.js';
import { DWI_PIPELINE_VERSION } from '../lib/dwi/version.js';
import { MASKS_VERSION } from '../lib/masks/version.js';
import { IQM_VERSION } from '../lib/quality/version.js';

export type QueueKey = 'io' | 'cpu' | 'gpu';

/**
 * When a step runs: `intake` for every scan as it arrives; `image` for every 3D image, acquired or
 * derived from a DWI series.
 */
export type ScanStage = 'intake' | 'image';

export interface ScanStepDef {
  name: string;
  queue: QueueKey;
  version: string;
  stage: ScanStage;
  appliesTo: (scan: ScanRef) => boolean;
  /**
   * For a step added after runs may be open: its patch marker (see patches.ts). A run that started
   * before the step existed replays without it; new runs take it.
   */
  since?: string;
}

export const SCAN_STEPS = [
  { name: 'fetchScan', queue: 'io', version: DOWNLOAD_VERSION, stage: 'intake', appliesTo: (s: ScanRef) => !!s.remote },
  { name: 'validateScan', queue: 'cpu', version: VALIDATION_VERSION, stage: 'intake', appliesTo: () => true },
  { name: 'deriveDwi', queue: 'cpu', version: String(DWI_PIPELINE_VERSION), stage: 'intake', appliesTo: (s: ScanRef) => s.kind === 'dwi' },
  { name: 'computeScanMasks', queue: 'gpu', version: MASKS_VERSION, stage: 'image', appliesTo: (s: ScanRef) => s.kind === '3d' },
  { name: 'measureScanQuality', queue: 'cpu', version: IQM_VERSION, stage: 'image', appliesTo: (s: ScanRef) => s.kind === '3d' },
] as const satisfies readonly ScanStepDef[];

export type ScanStep = (typeof SCAN_STEPS)[number];
export type ScanActivity = ScanStep['name'];

/** Dataset-level activities that are steps too: each attempt gets an audit row. They run on `io`. */
export const DATASET_STEPS = [
  'ingestDataset', 'listOpenNeuroSnapshot', 'fetchOpenNeuroMetadata', 'registerOpenNeuroScans',
  'harmonizeMetadata', 'prepareRatingTasks', 'exportDataset', 'writeCollectionFiles', 'writeMetadataTable',
] as const;

/** Options a crawl passes to the per-scan steps. */
export interface ScanStepOptions {
  masks?: { useNetwork?: boolean; networkGridMm?: number };
}

/** What every per-scan step activity takes. */
export interface ScanStepInput extends ScanStepOptions {
  datasetId: string;
  scanId: string;
  crawlId?: string;
}

export function scanStep(name: ScanActivity): ScanStep {
  return SCAN_STEPS.find((s) => s.name === name)!;
}

export function stepsFor(scan: ScanRef, stage: ScanStage, except: readonly ScanActivity[] = []): ScanStep[] {
  return SCAN_STEPS.filter((s) => s.stage === stage && !except.includes(s.name) && s.appliesTo(scan));
}

/** Every audited activity: the per-scan steps and the dataset steps. */
export const AUDITED_STEPS: ReadonlySet<string> = new Set<string>([...SCAN_STEPS.map((s) => s.name), ...DATASET_STEPS]);
