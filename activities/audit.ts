// The audit trail in one place: an activity inbound interceptor writes a scan_events row for every
// step attempt (started, then closed once as completed / skipped / failed), so activities only return
// their result and hashes. Also starts the heartbeat ticker that keeps long steps alive.
import os from 'node:os';
import { Context } from '@temporalio/activity';
import type { ActivityInboundCallsInterceptor, ActivityExecuteInput, Next } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import type { DB } from '../db/database.js';
import { startHeartbeatTicker } from './heartbeat.js';
import { closeAttempt, openAttempt, type AttemptEnd } from '../db/repositories/scan-events.js';

interface AuditKeys {
  scanId?: string;
  datasetId?: string;
  crawlId?: string;
}

interface StepReturn {
  skipped?: boolean;
  inputHash?: string;
  outputHash?: string;
  auditDetails?: unknown;
}

export function workerIdentity(queue: string): string {
  return `${queue}@${os.hostname()}:${process.pid}`;
}

export class AuditInterceptor implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly db: DB,
    private readonly ctx: Context,
    private readonly identity: string,
    private readonly isStep: (activityType: string) => boolean,
  ) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = this.ctx.info;
    const keys = (input.args[0] ?? {}) as AuditKeys;
    const startedAt = new Date();
    const stopTicker = startHeartbeatTicker(this.ctx);
    if (!this.isStep(info.activityType)) {
      try {
        return await next(input);
      } finally {
        stopTicker();
      }
    }
    let eventId: string | undefined;
    try {
      eventId = await openAttempt(this.db, {
        scan_id: keys.scanId ?? null,
        dataset_id: keys.datasetId ?? null,
        crawl_id: keys.crawlId ?? null,
        step: info.activityType,
        attempt: info.attempt,
        workflow_id: info.workflowExecution?.workflowId ?? '',
        run_id: info.workflowExecution?.runId ?? '',
        activity_id: info.activityId,
        task_queue: info.taskQueue,
        worker_identity: this.identity,
        started_at: startedAt,
      });
    } catch (e) {
      // The audit must not hide the real work's outcome, but a dead database is a transient failure.
      stopTicker();
      throw e;
    }
    try {
      const result = (await next(input)) as StepReturn | undefined;
      await this.close(eventId, startedAt, {
        status: result?.skipped ? 'skipped' : 'completed',
        input_hash: result?.inputHash ?? null,
        output_hash: result?.outputHash ?? null,
        details: result?.auditDetails === undefined ? null : JSON.stringify(result.auditDetails),
      });
      return result;
    } catch (err) {
      const e = err as Error;
      const type = err instanceof ApplicationFailure ? (err.type ?? 'ApplicationFailure') : e?.name ?? 'Error';
      await this.close(eventId, startedAt, {
        status: 'failed',
        error_type: type,
        error_message: String(e?.message ?? err).slice(0, 4000),
        details: err instanceof ApplicationFailure && err.details?.length ? JSON.stringify(err.details[0]) : null,
      }).catch(() => undefined);
      throw err;
    } finally {
      stopTicker();
    }
  }

  private async close(eventId: string | undefined, startedAt: Date, end: AttemptEnd): Promise<void> {
    if (eventId) await closeAttempt(this.db, eventId, startedAt, end);
  }
}
