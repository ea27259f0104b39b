// The durable per-dataset pipeline on a real Temporal dev server and a real PostgreSQL.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { getTestEnv, withWorkers, type TestEnv } from './helpers/env.js';
import { writeAbsurdDims, writeCorruptGzip, writeMissing, writeTruncated } from './helpers/fixtures.js';
import { generateSampleDataset } from '../lib/sample/dataset.js';
import { sha256File } from '../lib/files.js';
import { affineOf, readNiftiHeader } from '../lib/nifti/index.js';
import { OPENMIND_COLUMNS } from '../lib/export/table.js';
import { parseCsv } from '../lib/csv.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';
import { isAuditedStep } from '../activities/index.js';
import { renderMetrics } from '../workers/metrics.js';

const DS = 'e2e-sample';

describe('dataset pipeline (Temporal + PostgreSQL)', function () {
  let env: TestEnv;
  let dataDir: string;
  let dsDir: string;
  let exportDir: string;
  let first: CrawlSummary;

  const runCrawl = () =>
    withWorkers(env, dataDir, () =>
      env.temporal.client.workflow.execute('crawl', {
        taskQueue: 'openmind-io',
        workflowId: 'crawl/e2e',
        args: [{ name: 'e2e', sources: [{ kind: 'local', path: dsDir, datasetId: DS }], options: { exportDir, masks: { useNetwork: false } } }],
      }),
    ) as Promise<CrawlSummary>;

  before(async function () {
    this.timeout(180_000);
    env = await getTestEnv();
    dataDir = path.join(env.tmp, 'e2e');
    dsDir = path.join(dataDir, 'bids', DS);
    exportDir = path.join(dataDir, 'export');
    await generateSampleDataset(dsDir, { subjects: 2 });
    writeCorruptGzip(path.join(dsDir, 'sub-03/anat/sub-03_T1w.nii.gz'));
    writeTruncated(path.join(dsDir, 'sub-03/anat/sub-03_T2w.nii.gz'));
    writeAbsurdDims(path.join(dsDir, 'sub-03/anat/sub-03_FLAIR.nii.gz'));
    writeMissing(path.join(dsDir, 'sub-04/anat/sub-04_T1w.nii.gz'));
    first = await runCrawl();
  });

  it('runs a dataset end to end: the database, the files and the export agree', async () => {
    // 11 acquired images (7 good, 4 broken) + the T2w, ADC, FA and MD maps derived from the DWI series.
    assert.equal(first.datasets, 1);
    assert.equal(first.completed, 1);
    assert.equal(first.scans, 15);
    assert.equal(first.scansCompleted, 11);
    const scans = await env.db.selectFrom('scans').selectAll().where('dataset_id', '=', DS).orderBy('id').execute();
    assert.equal(scans.length, 15);
    const completed = scans.filter((s) => s.status === 'completed');
    assert.equal(completed.length, 11);
    for (const s of completed) assert.equal(s.content_hash, await sha256File(s.file_path), `${s.id} hash matches the file`);
    const acquired = completed.filter((s) => !s.derived_from);
    for (const s of acquired) assert.ok(Array.isArray(s.dims) && (s.dims as number[]).length >= 3);
    const dwiId = `${DS}:sub-01/dwi/sub-01_dwi`;
    assert.equal(scans.find((s) => s.id === dwiId)?.modality, 'DWI');
    const derived = completed.filter((s) => s.derived_from === dwiId).map((s) => s.modality).sort();
    assert.deepEqual(derived, ['ADC', 'FA', 'MD', 'T2w']);

    // Masks: both, for every completed 3D image, in exactly the image's geometry, with provenance.
    const threeD = completed.filter((s) => s.kind === '3d');
    assert.equal(threeD.length, 10);
    for (const s of threeD) {
      const masks = await env.db.selectFrom('derived_files').selectAll().where('scan_id', '=', s.id).where('kind', 'in', ['deface_mask', 'fb_mask']).execute();
      assert.equal(masks.length, 2, `${s.id} has both masks`);
      const img = await readNiftiHeader(s.file_path);
      for (const m of masks) {
        const h = await readNiftiHeader(m.path);
        assert.deepEqual(h.dim.slice(1, 4), img.dim.slice(1, 4));
        assert.deepEqual(affineOf(h), affineOf(img));
        assert.ok((m.provenance as any).GeneratedBy?.Version && (m.provenance as any).inputSha256 === s.content_hash);
      }
    }

    // Export: every completed 3D image in the OpenMind layout, byte-identical, with its masks, in the table.
    for (const s of threeD) {
      const out = path.join(exportDir, 'OpenMind', DS, s.path);
      assert.ok(fs.existsSync(out), `${out} exported`);
      assert.equal(await sha256File(out), s.content_hash);
      const dataDir = out.replace(/\.nii\.gz$/, '__Data');
      assert.ok(fs.existsSync(path.join(dataDir, 'deface_mask.nii.gz')) && fs.existsSync(path.join(dataDir, 'fb_mask.nii.gz')));
    }
    const rows = parseCsv(fs.readFileSync(path.join(exportDir, 'openneuro_metadata.csv'), 'utf8'));
    const mine = rows.filter((r) => r.unique_id.startsWith(`${DS}:`));
    assert.equal(mine.length, 10);
    assert.deepEqual(Object.keys(rows[0]), [...OPENMIND_COLUMNS]);
    for (const r of mine) {
      assert.ok(fs.existsSync(path.join(exportDir, 'OpenMind', r.image_path)));
      assert.ok(fs.existsSync(path.join(exportDir, 'OpenMind', r.anat_mask_path)) && fs.existsSync(path.join(exportDir, 'OpenMind', r.anon_mask_path)));
      assert.match(r.image_path, /^e2e-sample\/sub-0[12]\/(anat\/sub-0[12]_(T1w|T2w|FLAIR)|dwi\/sub-01_dwi__Data\/(T2w|ADC|FA|MD))\.nii\.gz$/);
    }
    const fa = mine.find((r) => r.modality === 'FA')!;
    assert.equal(fa.derived_from, dwiId);

    // Harmonized metadata fills the table: decimal-comma age, sex levels, inherited sidecar, TR in ms → s.
    const t1 = mine.find((r) => r.image_path.endsWith('sub-02_T1w.nii.gz'))!;
    assert.equal(Number(t1.age), 31.5);
    assert.equal(t1.sex, 'male');
    assert.equal(t1.manufacturer, 'Siemens');
    assert.equal(Number(t1.magnetic_field_strength), 3);
    assert.equal(Number(t1.repetition_time), 2.3);

    // Audit: one completed validate attempt per good acquired scan, with the content hash as its output.
    for (const s of acquired) {
      const ev = await env.db.selectFrom('scan_events').selectAll().where('scan_id', '=', s.id).where('step', '=', 'validateScan').execute();
      assert.equal(ev.length, 1);
      assert.equal(ev[0].status, 'completed');
      assert.equal(ev[0].output_hash, s.content_hash);
      assert.equal(ev[0].workflow_id, `scan/${DS}/${s.path}`);
      assert.ok(ev[0].worker_identity.startsWith('openmind-cpu@'));
      assert.ok(ev[0].finished_at && ev[0].duration_ms !== null);
    }
    const maskEvents = await env.db.selectFrom('scan_events').select(['task_queue']).where('dataset_id', '=', DS).where('step', '=', 'computeScanMasks').execute();
    assert.ok(maskEvents.length === 10 && maskEvents.every((e) => e.task_queue === 'openmind-gpu'));
  });

  it('ends a corrupt, a truncated, an absurd-dims and a missing image as readable failures', async () => {
    const failed = await env.db.selectFrom('scans').selectAll().where('dataset_id', '=', DS).where('status', '=', 'failed').orderBy('id').execute();
    const byPath = Object.fromEntries(failed.map((s) => [s.path, s]));
    assert.equal(failed.length, 4);
    assert.equal(byPath['sub-03/anat/sub-03_T1w.nii.gz'].failure_reason, 'unreadable');
    assert.equal(byPath['sub-03/anat/sub-03_T2w.nii.gz'].failure_reason, 'truncated');
    assert.match(byPath['sub-03/anat/sub-03_FLAIR.nii.gz'].failure_reason!, /too_large|truncated/);
    assert.equal(byPath['sub-04/anat/sub-04_T1w.nii.gz'].failure_reason, 'missing');
    for (const s of failed) {
      assert.equal(s.failure_step, 'validateScan');
      assert.ok(s.failure_message && s.failure_message.length > 10, 'a readable message');
      const ev = await env.db.selectFrom('scan_events').selectAll().where('scan_id', '=', s.id).execute();
      assert.equal(ev.length, 1, 'bad input is not retried');
      assert.equal(ev[0].status, 'failed');
      assert.equal(ev[0].error_type, 'InvalidInput');
    }
    assert.equal(first.scansFailed, 4);
    assert.equal(first.failures.length, 4);
    assert.ok(first.failures.every((f) => f.reason && f.message && f.scanId));
  });

  it('a second run changes nothing and records every step as skipped', async function () {
    this.timeout(180_000);
    const count = async (t: 'scans' | 'step_outputs' | 'derived_files' | 'subjects' | 'sessions') =>
      Number((await env.db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const before = { scans: await count('scans'), outputs: await count('step_outputs'), derived: await count('derived_files'), subjects: await count('subjects'), sessions: await count('sessions') };
    const lastEvent = (await env.db.selectFrom('scan_events').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m;
    const exported = fs.readdirSync(path.join(exportDir, 'OpenMind', DS), { recursive: true }).map(String).sort();
    const mtimes = Object.fromEntries(exported.map((f) => [f, fs.statSync(path.join(exportDir, 'OpenMind', DS, f)).mtimeMs]));
    const csvMtime = fs.statSync(path.join(exportDir, 'openneuro_metadata.csv')).mtimeMs;

    const second = await runCrawl();
    assert.deepEqual({ ...second, failures: second.failures.length }, { ...first, failures: first.failures.length });
    assert.deepEqual(
      { scans: await count('scans'), outputs: await count('step_outputs'), derived: await count('derived_files'), subjects: await count('subjects'), sessions: await count('sessions') },
      before,
    );
    assert.deepEqual(fs.readdirSync(path.join(exportDir, 'OpenMind', DS), { recursive: true }).map(String).sort(), exported);
    for (const f of exported) assert.equal(fs.statSync(path.join(exportDir, 'OpenMind', DS, f)).mtimeMs, mtimes[f], `${f} untouched`);
    assert.equal(fs.statSync(path.join(exportDir, 'openneuro_metadata.csv')).mtimeMs, csvMtime);

    const events = await env.db.selectFrom('scan_events').selectAll().where('id', '>', String(lastEvent)).where('dataset_id', '=', DS).execute();
    const stepsSeen = new Set(events.map((e) => e.step));
    for (const s of ['ingestDataset', 'harmonizeMetadata', 'validateScan', 'deriveDwi', 'computeScanMasks', 'measureScanQuality', 'prepareRatingTasks', 'exportDataset']) assert.ok(stepsSeen.has(s), `${s} ran`);
    const badScans = new Set((await env.db.selectFrom('scans').select('id').where('status', '=', 'failed').where('dataset_id', '=', DS).execute()).map((r) => r.id));
    for (const e of events) {
      assert.ok(isAuditedStep(e.step));
      if (e.scan_id && badScans.has(e.scan_id)) assert.equal(e.status, 'failed', 'bad input fails again, cheaply');
      else assert.equal(e.status, 'skipped', `${e.step} ${e.scan_id ?? ''} skipped`);
    }
  });

  it('replays the recorded histories deterministically', async function () {
    this.timeout(120_000);
    const ids = ['crawl/e2e', `dataset/${DS}`, `scan/${DS}/sub-01/anat/sub-01_T1w.nii.gz`, `scan/${DS}/sub-03/anat/sub-03_T1w.nii.gz`];
    for (const workflowId of ids) {
      const history = await env.temporal.client.workflow.getHandle(workflowId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: env.bundle }, history, workflowId);
    }
  });

  it('sets search attributes and answers the progress query', async () => {
    const { client } = env.temporal;
    const found: string[] = [];
    for await (const wf of client.workflow.list({ query: `DatasetId = '${DS}' AND Modality = 'T1w'` })) found.push(wf.workflowId);
    assert.ok(found.includes(`scan/${DS}/sub-01/anat/sub-01_T1w.nii.gz`), `found ${found.join(',')}`);
    const failedScans: string[] = [];
    for await (const wf of client.workflow.list({ query: `DatasetId = '${DS}' AND \`Status\` = 'failed'` })) failedScans.push(wf.workflowId);
    assert.ok(failedScans.length >= 4);
    // A closed workflow answers queries by replay, which needs a worker polling.
    const ds = await withWorkers(env, dataDir, () => client.workflow.getHandle(`dataset/${DS}`).query('progress'));
    assert.equal((ds as { phase: string }).phase, 'done');
  });

  it('exposes Prometheus metrics: scans by status, failures by reason, queue backlog', async () => {
    const text = await renderMetrics(env.db, env.temporal.nativeConnection);
    assert.match(text, /^openmind_scans\{status="completed"\} \d+$/m);
    assert.match(text, /^openmind_scan_failures\{step="validateScan",reason="truncated"\} 1$/m);
    assert.match(text, /^openmind_step_attempts_total\{step="computeScanMasks",status="(completed|skipped)"\} \d+$/m);
    assert.match(text, /^openmind_queue_backlog\{queue="openmind-cpu",type="activity"\} \d+$/m);
  });
});
