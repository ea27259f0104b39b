// Prometheus metrics from a worker process (OPENMIND_METRICS_PORT): scans by status, failures by
// step and reason, step attempts, and each task queue's backlog. The Temporal SDK's own metrics
// (task slots, latencies) are served separately when OPENMIND_SDK_METRICS_ADDRESS is set.
import http from 'node:http';
import { attemptTotals } from '../db/repositories/scan-events.js';
import type { NativeConnection } from '@temporalio/worker';
import type { DB } from '../db/database.js';
import { TASK_QUEUES } from '../services/config.js';
import { scanFailureCounts, scanStatusCounts } from '../db/repositories/scans.js';

const label = (v: unknown) => String(v ?? '').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, ' ');

export async function renderMetrics(db: DB, connection?: NativeConnection, namespace = 'default'): Promise<string> {
  const lines: string[] = [];
  const scans = await scanStatusCounts(db);
  lines.push('# HELP openmind_scans Scans in the database by status.', '# TYPE openmind_scans gauge');
  for (const r of scans) lines.push(`openmind_scans{status="${label(r.status)}"} ${Number(r.n)}`);
  lines.push('# HELP openmind_scan_failures Failed scans by step and reason.', '# TYPE openmind_scan_failures gauge');
  for (const r of await scanFailureCounts(db)) lines.push(`openmind_scan_failures{step="${label(r.failure_step)}",reason="${label(r.failure_reason)}"} ${Number(r.n)}`);
  const attempts = await attemptTotals(db);
  lines.push('# HELP openmind_step_attempts_total Step attempts by step and outcome.', '# TYPE openmind_step_attempts_total counter');
  for (const r of attempts) lines.push(`openmind_step_attempts_total{step="${label(r.step)}",status="${label(r.status)}"} ${Number(r.n)}`);
  lines.push('# HELP openmind_step_seconds_total Time spent in step attempts.', '# TYPE openmind_step_seconds_total counter');
  for (const r of attempts) lines.push(`openmind_step_seconds_total{step="${label(r.step)}",status="${label(r.status)}"} ${Number(r.ms) / 1000}`);
  if (connection) {
    lines.push('# HELP openmind_queue_backlog Approximate task backlog per task queue.', '# TYPE openmind_queue_backlog gauge');
    for (const queue of Object.values(TASK_QUEUES)) {
      for (const [type, code] of [['workflow', 1], ['activity', 2]] as const) {
        try {
          const d = await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: queue }, taskQueueType: code, reportStats: true });
          const backlog = Number(d.stats?.approximateBacklogCount ?? 0);
          lines.push(`openmind_queue_backlog{queue="${queue}",type="${type}"} ${backlog}`);
        } catch {
          /* older servers: no stats */
        }
      }
    }
  }
  return lines.join('\n') + '\n';
}

export function startMetricsServer(opts: { db: DB; port: number; host?: string; connection?: NativeConnection; namespace?: string }): http.Server {
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    try {
      const body = await renderMetrics(opts.db, opts.connection, opts.namespace);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
    } catch (e) {
      res.writeHead(500).end(`# metrics failed: ${(e as Error).message}\n`);
    }
  });
  server.listen(opts.port, opts.host ?? '0.0.0.0');
  server.unref();
  return server;
}
