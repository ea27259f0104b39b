// Crawling OpenNeuro through the workflows, against the local OpenNeuro-compatible server built from
// the real skeletons, with faults on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { getTestEnv, withWorkers, type TestEnv } from './helpers/env.js';
import { startFakeOpenNeuro, type FakeOpenNeuro } from '../services/fake-openneuro/index.js';
import { selectFiles } from '../lib/openneuro/index.js';
import { repoRoot } from '../services/config.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';

// 5 skeletons with DWI and 15 without, chosen small so the test stays quick.
const DWI_SETS = ['ds001907', 'ds003505', 'ds000244', 'ds002685', 'ds000009'];
const OTHER_SETS = ['ds001600', 'ds004130', 'ds000248', 'ds000235', 'ds001421', 'ds000234', 'ds000105', 'ds000255', 'ds002306', 'ds000216', 'ds000231', 'ds000205', 'ds000200', 'ds000237', 'ds004835'];
const DATASETS = [...DWI_SETS, ...OTHER_SETS];
const FAULTS = 'error=0.04,429=0.03,reset=0.03,truncate=0.03,html504=0.03,versioned404=0.2,gqltimeout-recursive=1,gqlTimeoutMs=300,retryAfter=0,seed=7';

const md5 = (file: string) => crypto.createHash('md5').update(fs.readFileSync(file)).digest('hex');

describe('OpenNeuro crawl through the workflows (local server, faults on)', function () {
  this.timeout(900_000);
  let env: TestEnv;
  let server: FakeOpenNeuro;
  let dataDir: string;
  let first: CrawlSummary;

  const crawl = (name: string) =>
    withWorkers(env, dataDir, () =>
      env.temporal.client.workflow.execute('crawl', {
        taskQueue: 'openmind-io',
        workflowId: `crawl/${name}`,
        args: [{ name, sources: [{ kind: 'openneuro', endpoint: server.url, datasets: DATASETS }], options: { datasetConcurrency: 3, scanConcurrency: 16, skipExport: true, intakeOnly: true } }],
      }),
    ) as Promise<CrawlSummary>;

  before(async () => {
    env = await getTestEnv();
    dataDir = path.join(env.tmp, 'openneuro');
    server = await startFakeOpenNeuro({ datasets: DATASETS, faults: FAULTS });
    first = await crawl('on-1');
  });
  after(async () => server?.close());

  it('finishes a crawl of 20 real skeletons (5 with DWI) with every selected file present and verified', async () => {
    assert.equal(first.datasets, 20);
    assert.equal(first.failed, 0, JSON.stringify(first.failures.slice(0, 5)));
    assert.equal(first.scansFailed, 0, JSON.stringify(first.failures.slice(0, 5)));
    let files = 0;
    for (const ds of DATASETS) {
      const listing = await server.listing(ds);
      const selected = selectFiles(listing.map((f) => ({ ...f, path: f.path })));
      for (const f of selected) {
        const local = path.join(dataDir, 'raw', ds, f.path);
        assert.ok(fs.existsSync(local), `${ds}/${f.path} downloaded`);
        assert.equal(md5(local), f.md5, `${ds}/${f.path} verified`);
        files++;
      }
    }
    assert.ok(files > 300, `${files} files checked`);
    const dwi = await env.db.selectFrom('scans').select(['id', 'status', 'dims']).where('modality', '=', 'DWI').where('dataset_id', 'in', DWI_SETS).execute();
    assert.ok(dwi.length >= 5 && dwi.every((s) => s.status === 'completed'));
    const stats = server.stats();
    assert.ok(stats.graphql.tree > 0, 'the recursive listing timed out and the tree walk took over');
    assert.ok(Object.values(stats.faults).reduce((a, b) => a + b, 0) > 10, 'faults were injected');
  });

  it('a second crawl downloads nothing', async () => {
    const before = server.stats().files.get;
    const second = await crawl('on-2');
    assert.equal(second.scansCompleted, first.scansCompleted);
    assert.equal(server.stats().files.get, before);
  });

  it('picks up a new snapshot of one dataset alone', async () => {
    const target = 'ds000244';
    const image = (await server.listing(target)).find((f) => /_T1w\.nii\.gz$/.test(f.path))!.path;
    server.addSnapshot(target, '9.9.9', [image]);
    const getsBefore = { ...server.stats().getsByFile };
    const third = await crawl('on-3');
    assert.equal(third.scansFailed, 0);
    const after = server.stats().getsByFile;
    const fetched = Object.keys(after).filter((k) => after[k] !== getsBefore[k]);
    assert.deepEqual(fetched.map((k) => k.replace(/^\/?/, '')), [`${target}/${image}`]);
    const ds = await env.db.selectFrom('datasets').select(['id', 'version']).where('id', 'in', DATASETS).execute();
    assert.equal(ds.find((d) => d.id === target)?.version, '9.9.9');
    const events = await env.db
      .selectFrom('scan_events')
      .select(['dataset_id', 'status'])
      .where('step', '=', 'registerOpenNeuroScans')
      .where('workflow_id', '=', `dataset/${target}`)
      .orderBy('id', 'desc')
      .limit(1)
      .execute();
    assert.equal(events[0].status, 'completed');
    const local = path.join(dataDir, 'raw', target, image);
    assert.equal(md5(local), (await server.listing(target)).find((f) => f.path === image)!.md5);
  });

  it('re-lists a dataset whose earlier ingest died mid-registration, registering every scan', async () => {
    // What a worker SIGKILLed inside registerOpenNeuroScans leaves: the dataset row not yet marked
    // ingested and only some of its scans registered (found by the scale bench's chaos run).
    const target = 'ds000231';
    const all = await env.db.selectFrom('scans').select('id').where('dataset_id', '=', target).orderBy('id').execute();
    assert.ok(all.length >= 5);
    const lost = all.slice(2).map((r) => r.id);
    await env.db.deleteFrom('step_outputs').where('scan_id', 'in', lost).execute();
    await env.db.deleteFrom('scan_events').where('scan_id', 'in', lost).execute();
    await env.db.deleteFrom('scans').where('id', 'in', lost).execute();
    await env.db.updateTable('datasets').set({ status: 'registered' }).where('id', '=', target).execute();
    const listings = () => server.stats().graphql.recursive + server.stats().graphql.tree;
    const listingsBefore = listings();

    const summary = (await withWorkers(env, dataDir, () =>
      env.temporal.client.workflow.execute('crawl', {
        taskQueue: 'openmind-io',
        workflowId: 'crawl/partial-ingest',
        args: [{ name: 'partial-ingest', sources: [{ kind: 'openneuro', endpoint: server.url, datasets: [target] }], options: { skipExport: true, intakeOnly: true } }],
      }),
    )) as CrawlSummary;
    assert.equal(summary.scans, all.length);
    assert.equal(summary.scansCompleted, all.length);
    const after = await env.db.selectFrom('scans').select(['id', 'status']).where('dataset_id', '=', target).orderBy('id').execute();
    assert.deepEqual(after.map((r) => r.id), all.map((r) => r.id));
    const ds = await env.db.selectFrom('datasets').select('status').where('id', '=', target).executeTakeFirstOrThrow();
    assert.equal(ds.status, 'completed');
    // The listing the first crawl stored (ledger + file) is reused: a kill after listing costs no re-listing.
    assert.equal(listings(), listingsBefore);
    const steps = await env.db.selectFrom('scan_events').select('step').where('workflow_id', '=', 'dataset/' + target).where('status', '=', 'completed').execute();
    for (const step of ['listOpenNeuroSnapshot', 'fetchOpenNeuroMetadata', 'registerOpenNeuroScans']) assert.ok(steps.some((s) => s.step === step), step);
  });

  it('refuses path-traversal names from a listing and records them', async () => {
    const { safeJoin } = await import('../lib/files.js');
    for (const bad of ['../x.nii.gz', '/etc/passwd', 'a/../../b', 'sub-01/anat/..\\x', 'sub-01/anat/x\u0000.nii.gz']) {
      assert.throws(() => safeJoin(path.join(dataDir, 'raw', 'dsX'), bad), /unsafe|refused|leaves/);
    }
  });
});

describe('OpenNeuro download resumes after its worker is killed mid-file', function () {
  this.timeout(600_000);
  let env: TestEnv;
  let server: FakeOpenNeuro;
  let worker: ChildProcess | undefined;

  after(async () => {
    worker?.kill('SIGKILL');
    await server?.close();
  });

  it('resumes from the heartbeat offset, downloading no byte twice beyond the last heartbeat', async () => {
    env = await getTestEnv();
    // A dataset the crawl above did not touch (the test database is shared: its scans would be found done).
    const ds = 'ds004737';
    // Every body trickles: 1 KiB every 100 ms, about 10 KB/s, so a kill lands mid-file.
    server = await startFakeOpenNeuro({ datasets: [ds], faults: 'trickle=1,trickleChunk=1024,trickleDelayMs=100,seed=3' });
    const dataDir = path.join(env.tmp, 'kill-download');
    const start = () =>
      spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'workers', 'all.ts')], {
        cwd: repoRoot,
        env: { ...process.env, TEMPORAL_ADDRESS: env.address, DATABASE_URL: env.dbUrl, OPENMIND_DATA_DIR: dataDir },
        stdio: 'ignore',
      });
    const listing = await server.listing(ds);
    const dwi = listing.find((f) => /_dwi\.nii\.gz$/.test(f.path))!;
    // Only this one image (and the metadata) is selected, so the kill lands in its download.
    const exclude = listing.filter((f) => /\.nii(\.gz)?$/.test(f.path) && f.path !== dwi.path).map((f) => f.path);
    const handle = await env.temporal.client.workflow.start('crawl', {
      taskQueue: 'openmind-io',
      workflowId: 'crawl/kill-download',
      args: [{ name: 'kill-download', sources: [{ kind: 'openneuro', endpoint: server.url, datasets: [ds], exclude }], options: { heartbeatSeconds: 4, scanConcurrency: 4, skipExport: true, intakeOnly: true } }],
    });
    worker = start();
    const scanWf = `scan/${ds}/${dwi.path}`;
    // Wait until that file's download has heartbeated an offset.
    let offset = 0;
    const deadline = Date.now() + 400_000;
    while (offset <= 0) {
      if (Date.now() > deadline) throw new Error('no heartbeat offset seen');
      await new Promise((r) => setTimeout(r, 200));
      try {
        const d = await env.temporal.client.workflow.getHandle(scanWf).describe();
        const pending = (d.raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'fetchScan');
        const details = pending?.heartbeatDetails?.payloads?.[0]?.data;
        if (details) offset = JSON.parse(Buffer.from(details).toString()).offset ?? 0;
      } catch {
        /* not started yet */
      }
    }
    const servedBeforeKill = server.stats().files.bytesServed;
    worker.kill('SIGKILL');
    await new Promise((r) => worker!.once('exit', r));
    const partBytes = fs.statSync(path.join(dataDir, 'raw', ds, `${dwi.path}.part`)).size;
    assert.ok(partBytes >= offset, 'the .part file holds at least the heartbeated bytes');
    worker = start();
    const summary = (await handle.result()) as CrawlSummary;
    assert.equal(summary.scansFailed, 0);
    const fetched = await env.db.selectFrom('step_outputs').select(['result']).where('scan_id', '=', `${ds}:${dwi.path.replace(/\.nii\.gz$/, '')}`).where('step', '=', 'fetchScan').executeTakeFirstOrThrow();
    const r = fetched.result as { resumedFrom: number; bytesFetched: number; bytes: number };
    // The server may have recorded a later heartbeat between our look and the kill.
    assert.ok(r.resumedFrom >= offset && r.resumedFrom <= partBytes, `resumed at the last heartbeat offset (${r.resumedFrom})`);
    assert.equal(r.bytesFetched, dwi.size - r.resumedFrom, 'fetched only the rest of the file');
    assert.equal(md5(path.join(dataDir, 'raw', ds, dwi.path)), dwi.md5);
    assert.ok(server.stats().files.rangeGets >= 1);
    assert.ok(servedBeforeKill > 0);
    worker.kill('SIGTERM');
  });
});
