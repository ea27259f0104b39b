// What a CLI command needs to run the pipeline: the database, a Temporal client, and (embedded
// mode, or --with-workers) the workers in this process. Embedded mode = no TEMPORAL_ADDRESS:
// a dev server is started with its state in <data dir>/temporal.db, so the UI keeps history.
import fs from 'node:fs';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { DB } from '../db/database.js';
import { dataPaths, type Config } from '../services/config.js';
import { openAppDatabase } from '../services/database.js';
import { connectClient, connectWorker, registerSearchAttributes, startDevServer, type DevServer } from '../services/temporal.js';
import { createWorkers } from '../workers/run-workers.js';

export interface Runtime {
  client: Client;
  connection: Connection;
  db: DB;
  address: string;
  uiUrl?: string;
  embedded: boolean;
  close(): Promise<void>;
}

export async function startRuntime(config: Config, opts: { workers?: boolean; log?: (s: string) => void } = {}): Promise<Runtime> {
  const log = opts.log ?? (() => undefined);
  fs.mkdirSync(config.dataDir, { recursive: true });
  const db = await openAppDatabase(config);
  let server: DevServer | undefined;
  let address = config.temporalAddress;
  const embedded = !address;
  if (!address) {
    log('starting the Temporal dev server …');
    server = await startDevServer({ cli: config.temporalCli, dbFile: dataPaths(config.dataDir).temporalDb, logFile: path.join(config.dataDir, 'temporal.log') });
    address = server.address;
    // Another program on the usual port is never joined silently: say where ours runs instead.
    if (server.notice && server.process) console.error(server.notice);
    else if (server.notice) log(server.notice);
  }
  const { client, connection } = await connectClient(address, config.temporalNamespace);
  if (!embedded) await registerSearchAttributes(connection, config.temporalNamespace).catch((e) => log(`could not register search attributes: ${e.message}`));
  let workers: Worker[] = [];
  let running: Promise<unknown> = Promise.resolve();
  let workerConnection: Awaited<ReturnType<typeof connectWorker>> | undefined;
  if (opts.workers ?? embedded) {
    log('starting workers (io, cpu, gpu) …');
    workerConnection = await connectWorker(address);
    workers = await createWorkers({ connection: workerConnection, namespace: config.temporalNamespace, db, dataDir: config.dataDir, modelsDir: config.modelsDir, openneuroEndpoint: config.openneuroEndpoint, queues: ['io', 'cpu', 'gpu'] });
    running = Promise.all(workers.map((w) => w.run()));
  }
  return {
    client,
    connection,
    db,
    address,
    uiUrl: server?.uiUrl,
    embedded,
    async close() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await workerConnection?.close();
      await connection.close();
      await db.destroy();
      await server?.stop();
    },
  };
}
