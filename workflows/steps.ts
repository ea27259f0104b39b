// The per-scan step graph. A step is an activity name, the queue it runs on, and the scans it
// applies to; a new step plugs in here (plus its activity in activities/ and its work in lib/).
import type { ScanRef } from '../lib/pipeline-types.js';

export type QueueKey = 'io' | 'cpu' | 'gpu';
export type ScanActivity = 'fetchScan' | 'validateScan' | 'deriveDwi' | 'computeScanMasks' | 'measureScanQuality';

export interface ScanStepDef {
  /** Activity name; also the `step` in scan_events. */
  activity: ScanActivity;
  queue: QueueKey;
  appliesTo: (scan: ScanRef) => boolean;
}

/** Steps of every scan as it arrives: fetch (remote sources), validate, and for DWI the derivation. */
export const INTAKE_STEPS: ScanStepDef[] = [
  { activity: 'fetchScan', queue: 'io', appliesTo: (s) => !!s.remote },
  { activity: 'validateScan', queue: 'cpu', appliesTo: () => true },
  { activity: 'deriveDwi', queue: 'cpu', appliesTo: (s) => s.kind === 'dwi' },
];

/** Steps of every 3D image: acquired ones, and each map derived from a DWI series. */
export const IMAGE_STEPS: ScanStepDef[] = [
  { activity: 'computeScanMasks', queue: 'gpu', appliesTo: (s) => s.kind === '3d' },
  { activity: 'measureScanQuality', queue: 'cpu', appliesTo: (s) => s.kind === '3d' },
];

export function stepsFor(scan: ScanRef, steps: ScanStepDef[]): ScanStepDef[] {
  return steps.filter((s) => s.appliesTo(scan));
}
