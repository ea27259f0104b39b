// OpenNeuro source activities (I/O queue).
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps.js';

export function createOpenNeuroActivities(_deps: ActivityDeps) {
  /** Dataset ids of the public MRI catalog. */
  async function listOpenNeuroDatasets(_input: { endpoint?: string }): Promise<string[]> {
    throw ApplicationFailure.nonRetryable('the OpenNeuro catalog source is not available in this build', 'UnsupportedData');
  }
  return { listOpenNeuroDatasets };
}
