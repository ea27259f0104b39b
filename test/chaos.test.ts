// Chaos at small scale: worker processes SIGKILLed at random and restarted, the Temporal dev server
// SIGKILLed and restarted once, OpenNeuro faults on. The database, the files and the export must
// match a clean run's exactly: the same checks `openmind verify --against` and the scale bench use.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createDatabase, dropDatabase, migrateToLatest, openDatabase, type DB } from '../db/database.js';
import { ADMIN_DB_URL, getTestEnv } from './helpers/env.js';
import { startDevServer, type DevServer } from '../services/temporal.js';
import { startFakeOpenNeuro, type FakeOpenNeuro } from '../services/fake-openneuro/index.js';
import { ChaosMonkey, diffPipelineStates, freePort, uiPortNear, pipelineState, startWorkerChild, stopChild, workflowResult, type ChildHandle } from '../bench/harness/simulation.js';
import { diffSnapshots, snapshotExport } from '../lib/export/verify.js';
import { workflowBundle } from '../workers/run-workers.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';

// 30 images: T1w (.nii and .nii.gz), FLASH, inplaneT2 and PET, over six datasets.
const DATASETS = ['ds001421', 'ds000235', 'ds000234', 'ds000248', 'ds000216', 'ds000255'];
const FAULTS = 'error=0.1,429=0.05,reset=0.05,truncate=0.05,html504=0.05,versioned404=0.2,retryAfter=0,seed=11';

interface Run {
  dataDir: string;
  dbUrl: string;
  dbName: string;
  db: DB;
}

async function newRun(tag: string, tmp: string): Promise<Run> {
  const dbName = `openmind_chaos_${tag}_${process.pid}`;
  const dbUrl = await createDatabase(ADMIN_DB_URL, dbName);
  const db = await openDatabase({ url: dbUrl });
  await migrateToLatest(db);
  return { dataDir: path.join(tmp, tag), dbUrl, dbName, db };
}

describe('chaos: killed workers, a restarted Temporal server and OpenNeuro faults change nothing', function () {
  this.timeout(900_000);
  let server: FakeOpenNeuro | undefined;
  const workers: ChildHandle[] = [];
  const servers: DevServer[] = [];
  const runs: Run[] = [];
  let monkey: ChaosMonkey | undefined;

  after(async function () {
    this.timeout(60_000);
    await monkey?.stop();
    for (const w of workers) await stopChild(w, 'SIGKILL');
    for (const s of servers) await s.stop().catch(() => undefined);
    await server?.close();
    for (const r of runs) {
      await r.db.destroy();
      await dropDatabase(ADMIN_DB_URL, r.dbName).catch(() => undefined);
    }
  });

  it('matches a clean run: same rows, same hashes, no duplicates, no orphans', async () => {
    const env = await getTestEnv();
    const tmp = path.join(env.tmp, 'chaos');
    await workflowBundle(); // cached on disk, so restarted workers skip webpack
    server = await startFakeOpenNeuro({ datasets: DATASETS });
    const input = (name: string, endpoint: string) => ({
      name,
      sources: [{ kind: 'openneuro', endpoint, datasets: DATASETS }],
      options: { heartbeatSeconds: 3, masks: { useNetwork: false }, datasetConcurrency: 2, scanConcurrency: 4 },
    });

    // The clean run: the shared test server, one worker process, no faults.
    const clean = await newRun('clean', tmp);
    runs.push(clean);
    const w0 = startWorkerChild({ name: 'clean-worker', address: env.address, dbUrl: clean.dbUrl, dataDir: clean.dataDir });
    workers.push(w0);
    await env.temporal.client.workflow.start('crawl', { taskQueue: 'openmind-io', workflowId: 'crawl/chaos-clean', args: [input('chaos-clean', server.url)] });
    const cleanSummary = await workflowResult<CrawlSummary>(env.address, 'crawl/chaos-clean', Date.now() + 600_000);
    await stopChild(w0);
    assert.equal(cleanSummary.scansFailed, 0, JSON.stringify(cleanSummary.failures));
    assert.ok(cleanSummary.scansCompleted >= 25, `${cleanSummary.scansCompleted} scans`);

    // The chaos run: its own persistent dev server, two worker processes, faults on.
    const chaos = await newRun('chaos', tmp);
    runs.push(chaos);
    const port = await freePort();
    const dbFile = path.join(tmp, 'temporal-chaos.db');
    const startServer = () => startDevServer({ dbFile, port, uiPort: uiPortNear(port), logFile: path.join(tmp, 'temporal-chaos.log') });
    let devServer = await startServer();
    servers.push(devServer);
    const address = devServer.address;
    await server.close();
    server = await startFakeOpenNeuro({ datasets: DATASETS, faults: FAULTS });
    const startWorker = (slot: number) => {
      const w = startWorkerChild({ name: `chaos-worker-${slot}`, address, dbUrl: chaos.dbUrl, dataDir: chaos.dataDir });
      workers.push(w);
      return w;
    };
    const pool = [startWorker(0), startWorker(1)];
    const connection = await Connection.connect({ address });
    await new Client({ connection }).workflow.start('crawl', { taskQueue: 'openmind-io', workflowId: 'crawl/chaos-run', args: [input('chaos-run', server.url)] });
    await connection.close();
    monkey = new ChaosMonkey({
      workers: pool,
      startWorker,
      lifeSeconds: [2, 6],
      serverRestartAfterKills: 2,
      seed: 5,
      restartServer: async () => {
        devServer.process?.kill('SIGKILL');
        await new Promise((r) => devServer.process?.once('exit', r));
        devServer = await startServer();
        servers.push(devServer);
      },
    });
    monkey.start();
    const chaosSummary = await workflowResult<CrawlSummary>(address, 'crawl/chaos-run', Date.now() + 600_000);
    await monkey.stop();
    for (const w of pool) await stopChild(w);
    assert.ok(monkey.kills >= 2, `workers were killed (${monkey.kills})`);
    assert.equal(monkey.serverRestarts, 1, 'the Temporal server was killed and restarted');
    assert.ok(Object.values(server.stats().faults).reduce((a, b) => a + b, 0) > 0, 'faults were injected');

    // Same outcome, same database rows and hashes, same export.
    assert.deepEqual({ ...chaosSummary, crawlId: '', failures: chaosSummary.failures.length }, { ...cleanSummary, crawlId: '', failures: cleanSummary.failures.length });
    assert.deepEqual(diffPipelineStates(await pipelineState(clean.db), await pipelineState(chaos.db), ['clean', 'chaos']), []);
    const diff = diffSnapshots(await snapshotExport(path.join(clean.dataDir, 'export')), await snapshotExport(path.join(chaos.dataDir, 'export')), ['clean', 'chaos']);
    assert.deepEqual(diff.differences, []);
    assert.ok(diff.identical);
    assert.ok(fs.existsSync(path.join(chaos.dataDir, 'export', 'openneuro_metadata.csv')));
  });
});

