// Activity stubs per task queue. Workflows import only types from activities/.
import { patched, proxyActivities, proxyLocalActivities, ApplicationFailure, ActivityFailure, ChildWorkflowFailure, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { PATCHES } from './patches.js';

export const QUEUES = { io: 'openmind-io', cpu: 'openmind-cpu', gpu: 'openmind-gpu' } as const;

function options(taskQueue: string, heartbeatSeconds = 20): ActivityOptions {
  return {
    taskQueue,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${heartbeatSeconds} seconds`,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 10,
      nonRetryableErrorTypes: ['InvalidInput', 'UnsupportedData'],
    },
  };
}

export function activitiesFor(heartbeatSeconds?: number) {
  return {
    io: proxyActivities<Activities>(options(QUEUES.io, heartbeatSeconds)),
    // One-row status writes run as local activities on the workflow worker: a marker in the
    // history instead of schedule/start/complete plus a workflow task. At scale that is ~20% of a
    // scan's history and of the Temporal server's work per scan (bench/scale.ts).
    local: proxyLocalActivities<Activities>({
      startToCloseTimeout: '30 seconds',
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
    }),
    cpu: proxyActivities<Activities>(options(QUEUES.cpu, heartbeatSeconds)),
    gpu: proxyActivities<Activities>(options(QUEUES.gpu, heartbeatSeconds)),
  };
}

export interface FailureInfo {
  type: string;
  reason: string;
  message: string;
}

/** The readable part of a failure: its type, a reason code and the innermost message. */
export function failureInfo(err: unknown): FailureInfo {
  let e: unknown = err;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) {
    const d = (e.details?.[0] ?? {}) as { reason?: string };
    return { type: e.type ?? 'ApplicationFailure', reason: d.reason ?? e.type ?? 'error', message: e.message };
  }
  const m = e instanceof Error ? e.message : String(e);
  const name = e instanceof Error ? e.name : 'Error';
  return { type: name, reason: name === 'TimeoutFailure' ? 'timeout' : 'error', message: m };
}

/** Run `task` over `items` with at most `limit` in flight (deterministic: Temporal promises only). */
export async function inWindow<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await task(item);
    }
  });
  await Promise.all(lanes);
}

/** The collection files (CSV, Parquet, pretrain_data.json, card) under the activity name a run's history expects. */
export function writeCollectionFiles(acts: ReturnType<typeof activitiesFor>, input: Parameters<Activities['writeCollectionFiles']>[0]) {
  return patched(PATCHES.collectionFiles) ? acts.io.writeCollectionFiles(input) : acts.io.writeMetadataTable(input);
}
