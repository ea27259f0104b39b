// Chaos at small scale: workers SIGKILLed at random and restarted, the Temporal dev server killed
// and restarted once, OpenNeuro faults on. The database, the files and the export must match a
// clean run's exactly (the `openmind verify` checker reports zero differences).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { Connection, Client } from '@temporalio/client';
import { createDatabase, dropDatabase, migrateToLatest, openDatabase, type DB } from '../db/database.js';
import { ADMIN_DB_URL, getTestEnv } from './helpers/env.js';
import { startDevServer, type DevServer } from '../services/temporal.js';
import { startFakeOpenNeuro, type FakeOpenNeuro } from '../lib/fake-openneuro/index.js';
import { repoRoot } from '../services/config.js';
import { diffSnapshots, snapshotExport } from '../lib/export/verify.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';

const DATASETS = ['ds001421', 'ds000235', 'ds000234', 'ds000248'];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

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

function startWorker(run: Run, address: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'workers', 'all.ts')], {
    cwd: repoRoot,
    env: { ...process.env, TEMPORAL_ADDRESS: address, DATABASE_URL: run.dbUrl, OPENMIND_DATA_DIR: run.dataDir, OPENMIND_LOG_LEVEL: 'ERROR' },
    stdio: 'ignore',
  });
}

/** Wait for a workflow's result across server restarts (the long poll breaks when the server dies). */
async function resultOf(address: string, workflowId: string, deadlineMs: number): Promise<CrawlSummary> {
  for (;;) {
    try {
      const connection = await Connection.connect({ address });
      try {
        return (await new Client({ connection }).workflow.getHandle(workflowId).result()) as CrawlSummary;
      } finally {
        await connection.close();
      }
    } catch (e) {
      if (Date.now() > deadlineMs) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function dbState(db: DB) {
  const scans = await db.selectFrom('scans').select(['id', 'status', 'content_hash', 'derived_from', 'failure_reason']).orderBy('id').execute();
  const files = await db.selectFrom('derived_files').select(['scan_id', 'kind', 'content_hash']).orderBy('scan_id').orderBy('kind').execute();
  const ledger = await db.selectFrom('step_outputs').select(['step_key', 'step', 'output_hash']).orderBy('step_key').execute();
  return { scans, files, ledger };
}

// Minutes long on a 2-core machine: run with OPENMIND_CHAOS=1 (it is not yet proven green here).
const chaosDescribe = process.env.OPENMIND_CHAOS ? describe : describe.skip;

chaosDescribe('chaos: killed workers, a restarted Temporal server and OpenNeuro faults change nothing', function () {
  this.timeout(900_000);
  let server: FakeOpenNeuro;
  const children: ChildProcess[] = [];
  const servers: DevServer[] = [];
  const runs: Run[] = [];

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
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
    server = await startFakeOpenNeuro({ datasets: DATASETS });
    const input = (name: string) => ({
      name,
      sources: [{ kind: 'openneuro', endpoint: server.url, datasets: DATASETS }],
      options: { heartbeatSeconds: 3, masks: { useNetwork: false }, datasetConcurrency: 2, scanConcurrency: 4 },
    });

    // The clean run: the shared test server, one worker, no faults.
    const clean = await newRun('clean', tmp);
    runs.push(clean);
    const w0 = startWorker(clean, env.address);
    children.push(w0);
    await env.temporal.client.workflow.start('crawl', { taskQueue: 'openmind-io', workflowId: 'crawl/chaos-clean', args: [input('chaos-clean')] });
    const cleanSummary = await resultOf(env.address, 'crawl/chaos-clean', Date.now() + 600_000);
    w0.kill('SIGTERM');
    assert.equal(cleanSummary.scansFailed, 0);

    // The chaos run: its own persistent dev server, two workers killed at random, faults on.
    const chaos = await newRun('chaos', tmp);
    runs.push(chaos);
    const port = await freePort();
    const dbFile = path.join(tmp, 'temporal-chaos.db');
    const dev = () => startDevServer({ dbFile, port, uiPort: port + 1, logFile: path.join(tmp, 'temporal-chaos.log') });
    let devServer = await dev();
    servers.push(devServer);
    const address = devServer.address;
    await server.close();
    server = await startFakeOpenNeuro({ datasets: DATASETS, faults: 'error=0.1,429=0.05,reset=0.05,truncate=0.05,html504=0.05,versioned404=0.2,retryAfter=0,seed=11' });
    const chaosInput = input('chaos-run');
    chaosInput.sources[0].endpoint = server.url;
    const workers = [startWorker(chaos, address), startWorker(chaos, address)];
    children.push(...workers);
    const connection = await Connection.connect({ address });
    await new Client({ connection }).workflow.start('crawl', { taskQueue: 'openmind-io', workflowId: 'crawl/chaos-run', args: [chaosInput] });
    await connection.close();

    let kills = 0;
    let serverRestarted = false;
    let done = false;
    const result = resultOf(address, 'crawl/chaos-run', Date.now() + 600_000).finally(() => (done = true));
    const chaosLoop = (async () => {
      let tick = 0;
      while (!done) {
        await new Promise((r) => setTimeout(r, 2500));
        if (done) break;
        tick++;
        const i = tick % workers.length;
        workers[i].kill('SIGKILL');
        await new Promise((r) => workers[i].once('exit', r));
        kills++;
        if (tick === 3 && !serverRestarted) {
          devServer.process?.kill('SIGKILL');
          await new Promise((r) => devServer.process?.once('exit', r));
          devServer = await dev();
          servers.push(devServer);
          serverRestarted = true;
        }
        workers[i] = startWorker(chaos, address);
        children.push(workers[i]);
      }
    })();
    const chaosSummary = await result;
    await chaosLoop;
    for (const w of workers) w.kill('SIGTERM');
    assert.ok(kills >= 2, `workers were killed (${kills})`);
    assert.ok(serverRestarted, 'the Temporal server was restarted');

    // Same outcome, same database rows and hashes, same export.
    assert.deepEqual({ ...chaosSummary, crawlId: '' , failures: chaosSummary.failures.length }, { ...cleanSummary, crawlId: '', failures: cleanSummary.failures.length });
    const [a, b] = [await dbState(clean.db), await dbState(chaos.db)];
    assert.deepEqual(b.scans, a.scans);
    assert.deepEqual(b.files, a.files);
    // Per-file export entries hash their export root, which differs between the two runs by design.
    const ledger = (s: typeof a) => s.ledger.filter((l) => l.step !== 'export').map((l) => `${l.step}:${l.output_hash}`).sort();
    assert.deepEqual(ledger(b), ledger(a));
    const diff = diffSnapshots(await snapshotExport(path.join(clean.dataDir, 'export')), await snapshotExport(path.join(chaos.dataDir, 'export')), ['clean', 'chaos']);
    assert.deepEqual(diff.differences, []);
    assert.ok(diff.identical);
    assert.ok(fs.existsSync(path.join(chaos.dataDir, 'export', 'openneuro_metadata.csv')));
  });
});
