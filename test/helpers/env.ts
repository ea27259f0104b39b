// Real components for tests: a Temporal dev server (the `temporal` CLI, via the SDK's existing-path
// option) and a fresh PostgreSQL database on the local server. Started once per mocha process,
// lazily, and torn down in a root `after` hook.
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createDatabase, dropDatabase, migrateToLatest, openDatabase, type DB } from '../../db/database.js';
import { findTemporalCli } from '../../services/temporal.js';
import { loadConfig } from '../../services/config.js';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';
import { createWorkers, workflowBundle } from '../../workers/run-workers.js';

export const ADMIN_DB_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestEnv {
  temporal: TestWorkflowEnvironment;
  address: string;
  db: DB;
  dbUrl: string;
  dbName: string;
  bundle: WorkflowBundleWithSourceMap;
  tmp: string;
}

let envPromise: Promise<TestEnv> | undefined;

// Worker lifecycle logs drown the test report; errors still show.
Runtime.install({ logger: new DefaultLogger('ERROR') });

export function getTestEnv(): Promise<TestEnv> {
  envPromise ??= (async () => {
    const dbName = `openmind_test_${process.pid}`;
    const dbUrl = await createDatabase(ADMIN_DB_URL, dbName);
    const db = await openDatabase({ url: dbUrl });
    await migrateToLatest(db);
    const temporal = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: findTemporalCli(process.env.TEMPORAL_CLI) },
        searchAttributes: ALL_SEARCH_ATTRIBUTES,
        extraArgs: ['--log-level', 'error'],
      },
    });
    const address = temporal.address;
    const bundle = await workflowBundle();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openmind-test-'));
    return { temporal, address, db, dbUrl, dbName, bundle, tmp };
  })();
  return envPromise;
}

after(async function () {
  this.timeout(60_000);
  if (!envPromise) return;
  const env = await envPromise;
  await env.db.destroy();
  await env.temporal.teardown();
  await dropDatabase(ADMIN_DB_URL, env.dbName).catch(() => undefined);
  fs.rmSync(env.tmp, { recursive: true, force: true });
});

/** Run in-process workers for all three queues while `fn` runs. */
export async function withWorkers<T>(env: TestEnv, dataDir: string, fn: () => Promise<T>, extra: { exportDir?: string; db?: DB } = {}): Promise<T> {
  const workers = await createWorkers({
    connection: env.temporal.nativeConnection,
    db: extra.db ?? env.db,
    dataDir,
    exportDir: extra.exportDir,
    modelsDir: path.join(loadConfig().sharedDir, 'models'),
    queues: ['io', 'cpu', 'gpu'],
    workflowBundle: env.bundle,
  });
  const [io, ...others] = workers;
  const runAll = async (): Promise<T> => {
    const othersRunning = others.map((w) => w.run());
    try {
      return await io.runUntil(fn());
    } finally {
      others.forEach((w) => w.shutdown());
      await Promise.all(othersRunning);
    }
  };
  return runAll();
}

export { Worker };
