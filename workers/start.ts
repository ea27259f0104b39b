// Shared entry for the worker processes: connect to Temporal and the database from the
// environment (TEMPORAL_ADDRESS, DATABASE_URL, OPENMIND_DATA_DIR), then run the given queues.
import { loadConfig, type QueueName } from '../services/config.js';
import { openAppDatabase } from '../services/database.js';
import { connectWorker } from '../services/temporal.js';
import { createWorkers, runWorkersUntilSignal } from './run-workers.js';
import { installLogger } from '../services/logging.js';
import { startMetricsServer } from './metrics.js';

export async function startWorkerProcess(queues: QueueName[]): Promise<void> {
  installLogger();
  const config = loadConfig();
  if (!config.temporalAddress) throw new Error('TEMPORAL_ADDRESS is not set: workers need a running Temporal server (or use `openmind demo`)');
  const db = await openAppDatabase(config);
  const connection = await connectWorker(config.temporalAddress);
  const workers = await createWorkers({ connection, namespace: config.temporalNamespace, db, dataDir: config.dataDir, modelsDir: config.modelsDir, openneuroEndpoint: config.openneuroEndpoint, queues });
  const metricsPort = Number(process.env.OPENMIND_METRICS_PORT ?? 0);
  if (metricsPort) startMetricsServer({ db, port: metricsPort, connection, namespace: config.temporalNamespace });
  console.log(`openmind worker ${process.pid}: queues ${queues.join(', ')} on ${config.temporalAddress}${metricsPort ? `, metrics on :${metricsPort}/metrics` : ''}`);
  try {
    await runWorkersUntilSignal(workers);
  } finally {
    await connection.close();
    await db.destroy();
  }
}
