// The per-scan step graph. A later issue plugs its step in here: name, queue, and when it applies.
import type { ScanRef } from '../lib/pipeline-types.js';

export type QueueKey = 'io' | 'cpu' | 'gpu';
export interface ScanStepDef {
  /** Activity name; also the `step` in scan_events. */
  activity: 'fetchScan' | 'validateScan';
  queue: QueueKey;
  appliesTo: (scan: ScanRef) => boolean;
}

export const SCAN_STEPS: ScanStepDef[] = [
  { activity: 'fetchScan', queue: 'io', appliesTo: (s) => !!s.remote },
  { activity: 'validateScan', queue: 'cpu', appliesTo: () => true },
];

export function stepsFor(scan: ScanRef): ScanStepDef[] {
  return SCAN_STEPS.filter((s) => s.appliesTo(scan));
}
