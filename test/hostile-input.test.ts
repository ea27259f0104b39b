// Hostile local folders (issue #18): one crawl over the generated corpus. Each input gets its stated
// outcome on the first attempt, the rest of each dataset completes, nothing outside a dataset reaches
// the database or the export, the export step succeeds, and the crawl ends in bounded time.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { getTestEnv, withWorkers, type TestEnv } from './helpers/env.js';
import { makeHostileCorpus, SECRET, type HostileCorpus } from './helpers/hostile-corpus.js';
import { sha256File } from '../lib/files.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';
import { freePort, isOurServer, startDevServer } from '../services/temporal.js';

const CRAWL_LIMIT_MS = 300_000;

describe('hostile input: a crawl of the generated corpus', function () {
  this.timeout(CRAWL_LIMIT_MS + 120_000);
  let env: TestEnv;
  let corpus: HostileCorpus;
  let exportDir: string;
  let summary: CrawlSummary;
  let crawlMs = 0;

  before(async function () {
    env = await getTestEnv();
    const dataDir = path.join(env.tmp, 'hostile');
    corpus = makeHostileCorpus(path.join(dataDir, 'corpus'));
    exportDir = path.join(dataDir, 'export');
    const t0 = Date.now();
    summary = (await withWorkers(env, dataDir, () =>
      env.temporal.client.workflow.execute('crawl', {
        taskQueue: 'openmind-io',
        workflowId: 'crawl/hostile',
        args: [{ name: 'hostile', sources: corpus.sources.map((s) => ({ kind: 'local', path: s.path })), options: { exportDir, masks: { useNetwork: false }, datasetConcurrency: 3 } }],
        workflowExecutionTimeout: `${CRAWL_LIMIT_MS / 1000} seconds`,
      }),
    )) as CrawlSummary;
    crawlMs = Date.now() - t0;
  });

  after(() => {
    // Named pipes in the corpus would block a later recursive read of the temp folder.
    fs.rmSync(corpus.root, { recursive: true, force: true });
  });

  it('finishes the crawl in bounded time, with the export written', () => {
    assert.ok(crawlMs < CRAWL_LIMIT_MS, `crawl took ${crawlMs} ms`);
    for (const f of ['openneuro_metadata.csv', 'pretrain_data.json', 'README.md']) assert.ok(fs.existsSync(path.join(exportDir, f)), `${f} written`);
    assert.equal(summary.datasets, corpus.sources.length);
  });

  it('gives every input its stated outcome, each on the first attempt', async () => {
    const rows: string[] = [];
    let clear = 0;
    for (const input of corpus.inputs) {
      const e = input.expect;
      const ds = await env.db.selectFrom('datasets').selectAll().where('id', '=', input.dataset).executeTakeFirst();
      if (e.kind === 'card_escaped') {
        const card = fs.readFileSync(path.join(exportDir, 'README.md'), 'utf8');
        for (const raw of ['<script>', '<img']) assert.ok(!card.includes(raw), `${input.name}: the card holds ${raw} raw`);
        assert.ok(!/(^|[^\\])\]\(javascript:/m.test(card), `${input.name}: the card holds a live javascript: link`);
        assert.ok(card.includes('&lt;script&gt;'), `${input.name}: the name is shown as text`);
      } else if (e.kind === 'dataset_failed') {
        assert.equal(ds?.status, 'failed', input.name);
        assert.match(ds?.failure_reason ?? '', new RegExp(e.reason), input.name);
      } else if (e.kind === 'issue') {
        const meta = (ds?.metadata ?? {}) as { ingestIssues?: { path: string; reason: string }[]; report?: { issues: { file: string; reason: string }[] } };
        const issues = [...(meta.ingestIssues ?? []).map((i) => ({ file: i.path, reason: i.reason })), ...(meta.report?.issues ?? [])];
        assert.ok(issues.some((i) => i.file === e.file && i.reason === e.reason), `${input.name}: ${JSON.stringify(issues)}`);
      } else {
        const scan = await env.db.selectFrom('scans').selectAll().where('id', '=', `${input.dataset}:${e.scan}`).executeTakeFirst();
        assert.ok(scan, `${input.name}: scan registered`);
        if (e.kind === 'completed') assert.equal(scan.status, 'completed', `${input.name}: ${scan.failure_reason} ${scan.failure_message}`);
        else {
          assert.equal(scan.status, 'failed', input.name);
          assert.equal(scan.failure_reason, e.reason, `${input.name}: ${scan.failure_message}`);
          const attempts = await env.db.selectFrom('scan_events').select('attempt').where('scan_id', '=', scan.id).where('step', '=', scan.failure_step!).execute();
          assert.ok(attempts.every((a) => a.attempt === 1), `${input.name}: failed on the first attempt, never retried`);
        }
      }
      if (e.kind !== 'completed' && e.kind !== 'card_escaped') clear++;
      rows.push(`${input.name}: ${e.kind} ${'reason' in e ? e.reason : ''}`);
    }
    console.log(`      inputs ${corpus.inputs.length}, clear reasons ${clear}, processed ${corpus.inputs.length - clear}`);
  });

  it('completes the rest of every dataset: named pipes hang nothing, the other datasets are served', async () => {
    const fifo = await env.db.selectFrom('datasets').select('status').where('id', '=', 'hostile-fifo').executeTakeFirst();
    assert.equal(fifo?.status, 'completed', 'the dataset with two named pipes completes');
    for (const id of corpus.valid) {
      const scan = await env.db.selectFrom('scans').select(['status', 'failure_reason']).where('id', '=', id).executeTakeFirst();
      assert.equal(scan?.status, 'completed', `${id}: ${scan?.failure_reason}`);
    }
    const twins = await env.db.selectFrom('datasets').select(['id', 'status', 'metadata']).where('id', 'like', 'my-ds%').orderBy('id').execute();
    assert.equal(twins.length, 2, 'two folders whose names slug alike stay two datasets');
    const licences = twins.map((t) => (t.metadata as { description?: { License?: string } }).description?.License).sort();
    assert.deepEqual(licences, ['CC-BY-4.0', 'CC0']);
  });

  it('reads nothing from outside a dataset: no secret in the database or the export', async () => {
    const dumps = await Promise.all(
      (['datasets', 'scans', 'subjects', 'sessions', 'derived_files', 'step_outputs'] as const).map(async (t) => JSON.stringify(await env.db.selectFrom(t).selectAll().execute())),
    );
    for (const d of dumps) {
      assert.ok(!d.includes(SECRET), 'no outside value in the database');
      assert.ok(!d.includes('root:x:0:0'), 'no line of /etc/passwd in the database');
    }
    const secretHash = await sha256File(path.join(corpus.outside, 'secret_T1w.nii.gz'));
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) e.isDirectory() ? walk(path.join(dir, e.name)) : files.push(path.join(dir, e.name));
    };
    walk(exportDir);
    for (const f of files) {
      if (/\.(csv|json|md|tsv)$/.test(f)) assert.ok(!fs.readFileSync(f, 'utf8').includes(SECRET), `${f} holds no outside value`);
      if (f.endsWith('.nii.gz')) assert.notEqual(await sha256File(f), secretHash, `${f} is not the outside image`);
    }
  });
});

describe('the embedded Temporal dev server', function () {
  this.timeout(120_000);

  it('never joins another program on its port: it starts its own on free ports and says which', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const server = await startDevServer({ port, uiPort: await freePort() });
    try {
      assert.notEqual(server.address, `127.0.0.1:${port}`);
      assert.match(server.notice ?? '', new RegExp(`port ${port} is held by something that is not an OpenMind Temporal server`));
      assert.ok(await isOurServer(server.address), 'the server started is ours');
      const again = await startDevServer({ port: Number(server.address.split(':')[1]) });
      assert.equal(again.address, server.address, 'an OpenMind server on the port is reused');
      assert.equal(again.process, undefined);
      assert.match(again.notice ?? '', /already on/);
    } finally {
      await server.stop();
      blocker.close();
    }
  });
});
