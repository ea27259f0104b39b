// Orchestration overhead per scan: Temporal + database time on scans whose steps do almost nothing
// (4x4x4 images, intake steps only), for 1,000 scans through crawl → dataset → scan children → ledger +
// audit). Uses DATABASE_URL, else the local PostgreSQL at 127.0.0.1:5432, and a fresh dev server.
import os from 'node:os';
import { attemptStats } from '../db/repositories/scan-events.js';
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { createDatabase, dropDatabase, migrateToLatest, openDatabase } from '../db/database.js';
import { findTemporalCli } from '../services/temporal.js';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';
import { createWorkers } from '../workers/run-workers.js';
import { installLogger } from '../services/logging.js';
import { writeNifti } from '../lib/nifti/index.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';

export default async function main(args: string[]): Promise<void> {
  installLogger('ERROR');
  const scans = Number(args[0] ?? 1000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openmind-bench-orch-'));
  const ds = path.join(tmp, 'tiny');
  const perSubject = 4;
  for (let i = 0; i < scans; i++) {
    const sub = `sub-${String(Math.floor(i / perSubject) + 1).padStart(4, '0')}`;
    const run = (i % perSubject) + 1;
    await writeNifti(path.join(ds, sub, 'anat', `${sub}_run-${run}_T1w.nii.gz`), { dims: [4, 4, 4] }, new Float32Array(64).map((_, k) => k + i), { datatype: 'int16' });
  }
  fs.writeFileSync(path.join(ds, 'dataset_description.json'), JSON.stringify({ Name: 'tiny', BIDSVersion: '1.8.0' }));

  const admin = process.env.DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `openmind_bench_${process.pid}`;
  const dbUrl = await createDatabase(admin, dbName);
  const db = await openDatabase({ url: dbUrl, poolSize: 20 });
  await migrateToLatest(db);
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: findTemporalCli(process.env.TEMPORAL_CLI) }, searchAttributes: ALL_SEARCH_ATTRIBUTES, extraArgs: ['--log-level', 'error'] },
  });
  try {
    const workers = await createWorkers({ connection: env.nativeConnection, db, dataDir: tmp, queues: ['io', 'cpu', 'gpu'] });
    const running = workers.map((w) => w.run());
    const t0 = performance.now();
    const summary = (await env.client.workflow.execute('crawl', {
      taskQueue: 'openmind-io',
      workflowId: 'crawl/bench-orchestration',
      args: [{ name: 'bench-orchestration', sources: [{ kind: 'local', path: ds, datasetId: 'tiny' }], options: { scanConcurrency: 32, intakeOnly: true } }],
    })) as CrawlSummary;
    const wallMs = performance.now() - t0;
    workers.forEach((w) => w.shutdown());
    await Promise.all(running);
    const ev = await attemptStats(db, 'validateScan');
    const perScan = wallMs / summary.scansCompleted;
    console.log(`scans: ${summary.scansCompleted} completed, ${summary.scansFailed} failed`);
    console.log(`wall time: ${(wallMs / 1000).toFixed(1)} s (crawl start to result, incl. ingest and export)`);
    console.log(`step work inside activities (validate, summed): ${Number(ev.ms)} ms over ${ev.n} attempts`);
    console.log(`throughput: ${(summary.scansCompleted / (wallMs / 1000)).toFixed(1)} scans/s`);
    console.log(`machine: ${os.cpus().length} cores, Temporal dev server (SQLite in memory), PostgreSQL ${dbUrl.replace(/\/\/.*@/, '//')}`);
    console.log(`orchestration: ${perScan.toFixed(1)} ms/scan`);
  } finally {
    await env.teardown();
    await db.destroy();
    await dropDatabase(admin, dbName).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
