// A worker killed with SIGKILL in the middle of a dataset (a real child process), then restarted,
// finishes the dataset with no lost and no duplicated rows or files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { getTestEnv, type TestEnv } from './helpers/env.js';
import { generateSampleDataset } from '../lib/sample/dataset.js';
import { repoRoot } from '../services/config.js';
import { parseCsv } from '../lib/csv.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';

const DS = 'kill-sample';

function startWorkerProcess(env: TestEnv, dataDir: string, log: string): ChildProcess {
  const out = fs.openSync(log, 'a');
  return spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'workers', 'all.ts')], {
    cwd: repoRoot,
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, DATABASE_URL: env.dbUrl, OPENMIND_DATA_DIR: dataDir },
    stdio: ['ignore', out, out],
  });
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('resume after a worker is killed (SIGKILL)', function () {
  this.timeout(300_000);
  let env: TestEnv;
  const workers: ChildProcess[] = [];

  after(() => workers.forEach((w) => w.exitCode === null && w.kill('SIGKILL')));

  it('finishes the dataset with no lost and no duplicated rows or files', async () => {
    env = await getTestEnv();
    const dataDir = path.join(env.tmp, 'kill');
    const dsDir = path.join(dataDir, 'bids', DS);
    const exportDir = path.join(dataDir, 'export');
    const log = path.join(dataDir, 'worker.log');
    await generateSampleDataset(dsDir, { subjects: 12, dims: [64, 64, 48] });
    const total = 12 * 3 + 1; // acquired images; the DWI series adds 4 derived maps (T2w, ADC, FA, MD)
    const derived = 4;

    const handle = await env.temporal.client.workflow.start('crawl', {
      taskQueue: 'openmind-io',
      workflowId: 'crawl/kill',
      args: [{ name: 'kill', sources: [{ kind: 'local', path: dsDir, datasetId: DS }], options: { exportDir, heartbeatSeconds: 5, scanConcurrency: 2, masks: { useNetwork: false } } }],
    });
    const doneCount = async () =>
      Number((await env.db.selectFrom('scans').select((eb) => eb.fn.countAll<number>().as('n')).where('dataset_id', '=', DS).where('status', '=', 'completed').executeTakeFirstOrThrow()).n);

    workers.push(startWorkerProcess(env, dataDir, log));
    await waitFor(async () => (await doneCount()) >= 5, 120_000, 'five scans done');
    workers[0].kill('SIGKILL');
    await new Promise((r) => workers[0].once('exit', r));
    const atKill = await doneCount();
    assert.ok(atKill < total, `killed mid-dataset (${atKill}/${total} done)`);

    workers.push(startWorkerProcess(env, dataDir, log));
    const summary = (await handle.result()) as CrawlSummary;
    assert.equal(summary.scansCompleted, total + derived, JSON.stringify(summary) + fs.readFileSync(log, "utf8").slice(-3000));
    assert.equal(summary.scansFailed, 0);

    // No lost rows: every scan completed with its hash; no duplicates: one ledger entry per step and scan.
    const scans = await env.db.selectFrom('scans').selectAll().where('dataset_id', '=', DS).execute();
    assert.equal(scans.length, total + derived);
    assert.ok(scans.every((s) => s.status === 'completed' && s.content_hash));
    const masks = await env.db.selectFrom('derived_files').select(['scan_id', 'kind']).where('kind', 'in', ['deface_mask', 'fb_mask']).where('scan_id', 'like', `${DS}:%`).execute();
    assert.equal(masks.length, 2 * (total - 1 + derived), 'two masks per 3D image, no duplicates');
    const ledger = await env.db.selectFrom('step_outputs').select(['scan_id', 'step']).where('dataset_id', '=', DS).where('step', '=', 'validateScan').execute();
    assert.equal(ledger.length, total);
    assert.equal(new Set(ledger.map((l) => l.scan_id)).size, total);
    const completedAttempts = await env.db.selectFrom('scan_events').select(['scan_id']).where('dataset_id', '=', DS).where('step', '=', 'validateScan').where('status', 'in', ['completed', 'skipped']).execute();
    assert.ok(completedAttempts.length >= total);

    // Files: each 3D image exported once, no temporary leftovers, table rows match.
    const files = fs.readdirSync(path.join(exportDir, 'OpenMind', DS), { recursive: true }).map(String).filter((f) => f.endsWith('.nii.gz'));
    const isMask = (f: string) => /(deface|fb)_mask\.nii\.gz$/.test(f);
    assert.equal(files.filter((f) => !isMask(f)).length, total - 1 + derived);
    assert.equal(files.filter(isMask).length, 2 * (total - 1 + derived));
    const leftovers = fs.readdirSync(exportDir, { recursive: true }).map(String).filter((f) => f.includes('.tmp-'));
    assert.deepEqual(leftovers, []);
    const rows = parseCsv(fs.readFileSync(path.join(exportDir, 'openneuro_metadata.csv'), 'utf8')).filter((r) => r.unique_id.startsWith(`${DS}:`));
    assert.equal(rows.length, total - 1 + derived);
    assert.equal(new Set(rows.map((r) => r.unique_id)).size, rows.length);
    workers[1].kill('SIGTERM');
  });
});
