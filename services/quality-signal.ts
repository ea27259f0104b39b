// The rating tool's bridge to Temporal: every stored rating wakes the qualityRating workflow of its
// dataset × modality, starting it when no pipeline run has yet (signalWithStart is idempotent on the id).
import type { Client } from '@temporalio/client';
import { TASK_QUEUES } from './config.js';
import { qualityWorkflowId } from '../workflows/quality-rating.js';

export interface RatedEvent {
  datasetId: string;
  modality: string;
  rater: string;
  score: number;
}

export async function signalQualityWorkflow(client: Client, r: RatedEvent, opts: { exportDir?: string } = {}): Promise<void> {
  await client.workflow.signalWithStart('qualityRating', {
    workflowId: qualityWorkflowId(r.datasetId, r.modality),
    taskQueue: TASK_QUEUES.io,
    args: [{ datasetId: r.datasetId, modality: r.modality, exportDir: opts.exportDir }],
    signal: 'rated',
    signalArgs: [{ rater: r.rater, score: r.score }],
  });
}
