// One Temporal runtime logger per process: warnings and errors by default (OPENMIND_LOG_LEVEL to change).
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;
export function installLogger(level = (process.env.OPENMIND_LOG_LEVEL ?? 'WARN').toUpperCase() as LogLevel): void {
  if (installed) return;
  installed = true;
  // The SDK's own metrics (task slots, poll and schedule-to-start latencies) for Prometheus, when asked.
  const sdkMetrics = process.env.OPENMIND_SDK_METRICS_ADDRESS;
  Runtime.install({
    logger: new DefaultLogger(level),
    ...(sdkMetrics ? { telemetryOptions: { metrics: { prometheus: { bindAddress: sdkMetrics } } } } : {}),
  });
}
