// OpenNeuro as a source, against the local OpenNeuro-compatible server built from the real
// skeletons: catalog paging, listing (tree fallback), selection, verified downloads with
// faults on, resume with Range, skipping unchanged files, unsafe paths, and reason codes.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseNifti } from '../lib/nifti/index.js';
import {
  candidateUrls,
  classifyForDownload,
  compileGlob,
  downloadFile,
  HostLimiter,
  isAlreadyDownloaded,
  isOpenNeuroError,
  isSafeRelativePath,
  listCatalog,
  listSnapshotFiles,
  OpenNeuroError,
  parseAnnexKey,
  safeJoin,
  selectFiles,
  type DownloadFileOptions,
  type RetryPolicy,
  type Selected,
  type SnapshotFile,
} from '../services/openneuro/index.js';
import { parseFaultSpec, startFakeOpenNeuro, synthesizeNifti, type FakeOpenNeuro } from '../services/fake-openneuro/index.js';
import { parseQuery, hasFieldWithArg } from '../services/fake-openneuro/graphql.js';

// Small, mixed datasets: 20 without DWI, 5 with DWI (b-values from their real .bval files).
const PLAIN_DATASETS = [
  'ds000235', 'ds000105', 'ds000234', 'ds001600', 'ds004130', 'ds000248', 'ds001421', 'ds000216', 'ds002306', 'ds000205',
  'ds000237', 'ds000255', 'ds001912', 'ds000122', 'ds000236', 'ds000170', 'ds000231', 'ds000223', 'ds000101', 'ds000253',
];
const DWI_DATASETS = ['ds001907', 'ds003505', 'ds000244', 'ds003974', 'ds000009'];
const FAULTS = [
  'error=0.05', '429=0.02', 'reset=0.04', 'truncate=0.04', 'html504=0.03', 'versioned404=0.05', 'trickle=0.005', 'stall=0.005',
  'gqlerror=0.02', 'gqltimeout-recursive=1', 'retryafter=1', 'stallms=1500', 'trickledelayms=5', 'gqltimeoutms=300', 'seed=42',
].join(',');
const FAST_RETRY: Partial<RetryPolicy> = { baseDelayMs: 5, maxDelayMs: 50, jitter: 0.2, stallTimeoutMs: 500, maxRetries: 12, maxRetryAfterMs: 1100 };
const GQL = { baseDelayMs: 10, retries: 6, recursiveTimeoutMs: 5000 };

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'openneuro-test-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** Run tasks with a fixed number in flight. */
async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Does the file on disk match its listing id: annex key checksum, or git blob id for files kept in git? */
function verifyAgainstKey(file: string, key: string, size: number | undefined): boolean {
  const bytes = fs.readFileSync(file);
  if (size !== undefined && bytes.length !== size) return false;
  const annex = parseAnnexKey(key);
  if (annex) {
    const digest = crypto.createHash(annex.backend === 'MD5' ? 'md5' : 'sha256').update(bytes).digest('hex');
    return digest === annex.digest && bytes.length === annex.size;
  }
  return crypto.createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex') === key;
}

function downloadOptions(server: FakeOpenNeuro, datasetId: string, file: SnapshotFile, root: string, extra: Partial<DownloadFileOptions> = {}): DownloadFileOptions {
  return {
    urls: candidateUrls(file, { endpoint: server.url, datasetId }),
    dest: safeJoin(path.join(root, datasetId), file.path),
    expectedSize: file.size,
    key: file.key,
    retry: FAST_RETRY,
    ...extra,
  };
}

describe('openneuro: pure helpers', () => {
  it('refuses path traversal and odd names', () => {
    for (const bad of ['../x', '/etc/passwd', 'a/../../b', 'a/./b', 'a//b', 'a\\b', 'a\0b', 'a\nb', 'C:/x', '', 'sub 01/x.json', 'a/`x`', 'x/']) {
      assert.equal(isSafeRelativePath(bad), false, JSON.stringify(bad));
      assert.throws(() => safeJoin(tmpRoot, bad), (e: unknown) => isOpenNeuroError(e, 'unsafe_path'), JSON.stringify(bad));
    }
    for (const good of ['dataset_description.json', 'sub-01/anat/sub-01_T1w.nii.gz', 'derivatives/fs/aparc+aseg.mgz', 'sub-01/ses-1/dwi/sub-01_ses-1_dwi.bval']) {
      assert.equal(isSafeRelativePath(good), true, good);
      assert.equal(safeJoin(tmpRoot, good), path.join(tmpRoot, good));
    }
  });

  it('parses annex keys', () => {
    assert.deepEqual(parseAnnexKey('MD5E-s5663237--4608ffbd6b78ce3a325eb338fa556589.nii.gz'), {
      backend: 'MD5',
      size: 5663237,
      digest: '4608ffbd6b78ce3a325eb338fa556589',
    });
    const sha = parseAnnexKey('SHA256E-s21281--ce719e5ad2d8dfbaa4de35acd9672527520ef3bb787cf9e59334b8a27011dba7.nii.gz');
    assert.equal(sha?.backend, 'SHA256');
    assert.equal(sha?.size, 21281);
    assert.equal(parseAnnexKey('0123456789abcdef0123456789abcdef01234567'), null);
    assert.equal(parseAnnexKey('SUBMODULE:07ac4ce948876390dc3cece8db9934cfac51c584'), null);
  });

  it('selects MRI images, gradients, sidecars and metadata; leaves func/fmap/derivatives out', () => {
    const paths = [
      'dataset_description.json', 'participants.tsv', 'participants.json', 'README', 'CHANGES', 'T1w.json', 'task-rest_bold.json', 'dwi.bval',
      'sub-01/sub-01_sessions.tsv', 'sub-01/ses-1/sub-01_ses-1_scans.tsv', 'sub-01/ses-1/sub-01_ses-1_T1w.json',
      'sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz', 'sub-01/ses-1/anat/sub-01_ses-1_T1w.json', 'sub-01/ses-1/anat/sub-01_ses-1_FLAIR.nii',
      'sub-01/ses-1/anat/sub-01_ses-1_inv-1_mp2rage.nii.gz', 'sub-01/ses-1/anat/sub-01_ses-1_UNIT1.nii.gz', 'sub-01/ses-1/anat/sub-01_ses-1_defacemask.nii.gz',
      'sub-01/ses-1/anat/sub-01_ses-1_part-phase_T2starw.nii.gz', 'sub-01/ses-1/anat/sub-01_ses-1_roi.nii.gz',
      'sub-01/ses-1/dwi/sub-01_ses-1_dwi.nii.gz', 'sub-01/ses-1/dwi/sub-01_ses-1_dwi.bval', 'sub-01/ses-1/dwi/sub-01_ses-1_dwi.bvec',
      'sub-01/ses-1/dwi/sub-01_ses-1_dwi.json', 'sub-01/ses-1/dwi/sub-01_ses-1_sbref.nii.gz', 'sub-01/ses-1/pet/sub-01_ses-1_pet.nii.gz',
      'sub-01/ses-1/func/sub-01_ses-1_task-rest_bold.nii.gz', 'sub-01/ses-1/func/sub-01_ses-1_task-rest_bold.json',
      'sub-01/ses-1/fmap/sub-01_ses-1_phasediff.nii.gz', 'sub-01/ses-1/func/sub-01_ses-1_task-rest_events.tsv',
      'derivatives/fmriprep/sub-01/anat/sub-01_desc-preproc_T1w.nii.gz', 'sourcedata/sub-01/anat/sub-01_T1w.nii.gz', 'code/run.sh',
    ].map((p) => ({ path: p }));
    const byPath = new Map(selectFiles(paths).map((s) => [s.path, s.role]));
    assert.deepEqual(
      [...byPath].sort(),
      [
        ['CHANGES', 'metadata'], ['README', 'metadata'], ['T1w.json', 'metadata'], ['dataset_description.json', 'metadata'], ['dwi.bval', 'dwi_gradient'],
        ['participants.json', 'metadata'], ['participants.tsv', 'metadata'],
        ['sub-01/ses-1/anat/sub-01_ses-1_FLAIR.nii', 'image'], ['sub-01/ses-1/anat/sub-01_ses-1_T1w.json', 'metadata'],
        ['sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz', 'image'], ['sub-01/ses-1/anat/sub-01_ses-1_UNIT1.nii.gz', 'image'],
        ['sub-01/ses-1/anat/sub-01_ses-1_defacemask.nii.gz', 'defacemask'], ['sub-01/ses-1/anat/sub-01_ses-1_inv-1_mp2rage.nii.gz', 'image'],
        ['sub-01/ses-1/dwi/sub-01_ses-1_dwi.bval', 'dwi_gradient'], ['sub-01/ses-1/dwi/sub-01_ses-1_dwi.bvec', 'dwi_gradient'],
        ['sub-01/ses-1/dwi/sub-01_ses-1_dwi.json', 'metadata'], ['sub-01/ses-1/dwi/sub-01_ses-1_dwi.nii.gz', 'image'],
        ['sub-01/ses-1/pet/sub-01_ses-1_pet.nii.gz', 'image'], ['sub-01/ses-1/sub-01_ses-1_T1w.json', 'metadata'],
        ['sub-01/ses-1/sub-01_ses-1_scans.tsv', 'metadata'], ['sub-01/sub-01_sessions.tsv', 'metadata'], ['task-rest_bold.json', 'metadata'],
      ].sort(),
    );
    // Asked for: func images, derivatives; include/exclude globs.
    assert.deepEqual(classifyForDownload('sub-01/ses-1/func/sub-01_ses-1_task-rest_bold.nii.gz', { datatypes: ['anat', 'func'] })?.role, 'image');
    assert.equal(classifyForDownload('derivatives/fmriprep/sub-01/anat/sub-01_desc-preproc_T1w.nii.gz', { includeDerivatives: true })?.role, 'image');
    const withGlobs = selectFiles(paths, { include: ['code/*.sh'], exclude: ['**/pet/**', '*_defacemask.nii.gz'] }).map((s) => s.path);
    assert.ok(withGlobs.includes('code/run.sh'));
    assert.ok(!withGlobs.some((p) => p.includes('/pet/') || p.endsWith('defacemask.nii.gz')));
    assert.ok(compileGlob('sub-0{1,2}')('sub-02/anat/x.nii.gz'));
    assert.ok(!compileGlob('sub-0{1,2}')('sub-03/anat/x.nii.gz'));
  });

  it('limits concurrency per host', async () => {
    const limiter = new HostLimiter(2);
    let active = 0;
    let peak = 0;
    const task = () =>
      limiter.run('http://a.example:1/x', async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
      });
    await Promise.all(Array.from({ length: 8 }, task).concat([limiter.run('http://b.example/x', async () => undefined)]));
    assert.equal(peak, 2);
    assert.deepEqual(limiter.snapshot(), {});
  });

  it('parses fault specs and GraphQL queries', () => {
    const spec = parseFaultSpec('error=0.1,429=0.05,badsize=ds000001+ds000002:sub-01/anat/x.nii.gz,gqltimeout-recursive=1,seed=42,retryafter=0');
    assert.deepEqual(spec, { error: 0.1, '429': 0.05, badsize: ['ds000001', 'ds000002:sub-01/anat/x.nii.gz'], 'gqltimeout-recursive': 1, seed: 42, retryAfter: 0 });
    assert.throws(() => parseFaultSpec('error=2'));
    assert.throws(() => parseFaultSpec('nonsense=1'));
    const doc = parseQuery('query { snapshot(datasetId: "ds1", tag: "1.0.0") { id files(recursive: true) { filename urls size id } } }');
    assert.ok(hasFieldWithArg(doc, 'files', 'recursive', true));
    const vars = parseQuery('query Q($r: Boolean = false) { snapshot(datasetId: "x", tag: "y") { files(recursive: $r) { id } } }');
    assert.ok(!hasFieldWithArg(vars, 'files', 'recursive', true, {}));
    assert.ok(hasFieldWithArg(vars, 'files', 'recursive', true, { r: true }));
  });

  it('synthesizes deterministic, decodable images sized as listed', () => {
    const a = synthesizeNifti('ds000001', 'sub-01/anat/sub-01_T1w.nii.gz');
    const b = synthesizeNifti('ds000001', 'sub-01/anat/sub-01_T1w.nii.gz');
    const c = synthesizeNifti('ds000001', 'sub-02/anat/sub-02_T1w.nii.gz');
    assert.deepEqual(a.bytes(), b.bytes());
    assert.notEqual(a.md5, c.md5);
    for (const img of [a, c]) {
      const bytes = img.bytes();
      assert.equal(bytes.length, img.size);
      assert.equal(crypto.createHash('md5').update(bytes).digest('hex'), img.md5);
      assert.equal(crypto.createHash('sha256').update(bytes).digest('hex'), img.sha256);
      assert.ok(bytes.length <= 100 * 1024);
    }
    const parsed = parseNifti(zlib.gunzipSync(a.bytes()));
    assert.deepEqual(parsed.shape, [36, 40, 32]);
    assert.deepEqual(Array.from(parsed.header.pixdim.slice(1, 4)), [5, 5, 5], 'isotropic voxels of at most 6 mm (masks need them)');
    const bvals = [0, 1000, 1000, 2000, 0, 1000];
    const dwi = synthesizeNifti('ds000001', 'sub-01/dwi/sub-01_dwi.nii.gz', { bvals });
    const d = parseNifti(zlib.gunzipSync(dwi.bytes()));
    assert.equal(d.shape[3], bvals.length);
    assert.ok(d.shape.slice(0, 3).every((n) => n >= 16), 'at least 16 voxels per axis');
    const volume = d.shape[0] * d.shape[1] * d.shape[2];
    const mean = (t: number) => d.data.subarray(t * volume, (t + 1) * volume).reduce((s, v) => s + v, 0) / volume;
    assert.ok(mean(0) > mean(1) && mean(1) > mean(3), 'b0 brighter than b1000 brighter than b2000');
  });
});

describe('openneuro: listing, selection and download with faults on', function () {
  this.timeout(120_000);
  let server: FakeOpenNeuro;
  const root = path.join(tmpRoot, 'crawl');

  before(async () => {
    server = await startFakeOpenNeuro({ datasets: [...PLAIN_DATASETS, ...DWI_DATASETS], faults: FAULTS });
  });
  after(async () => server?.close());

  it('pages through the catalog', async () => {
    const catalog = await listCatalog(server.url, { pageSize: 7, ...GQL });
    assert.deepEqual(catalog.map((c) => c.datasetId).sort(), [...PLAIN_DATASETS, ...DWI_DATASETS].sort());
    for (const c of catalog) {
      assert.match(c.tag, /\S/);
      assert.equal(c.snapshotId, `${c.datasetId}:${c.tag}`);
      assert.match(c.hexsha ?? '', /^[0-9a-f]{40}$/);
      assert.ok(c.modalities?.includes('MRI'));
    }
    assert.equal(catalog.find((c) => c.datasetId === 'ds000009')?.tag, '00002');
  });

  it('lists (tree fallback), selects and downloads 25 datasets; every file verified', async () => {
    const catalog = await listCatalog(server.url, { ...GQL });
    const jobs: Array<{ datasetId: string; file: Selected<SnapshotFile> }> = [];
    for (const entry of catalog) {
      const listing = await listSnapshotFiles(server.url, entry.datasetId, entry.tag, GQL);
      assert.equal(listing.method, 'tree', `${entry.datasetId}: the recursive listing times out, the tree walk must take over`);
      assert.match(listing.fallbackReason ?? '', /504/);
      const served = await server.listing(entry.datasetId);
      assert.equal(listing.files.length + listing.rejected.length, served.length, `${entry.datasetId}: every served file listed`);
      for (const f of selectFiles(listing.files)) jobs.push({ datasetId: entry.datasetId, file: f });
    }
    const dwiDatasets = new Set(jobs.filter((j) => j.file.role === 'image' && j.file.datatype === 'dwi').map((j) => j.datasetId));
    assert.ok(dwiDatasets.size >= 5, `DWI images from ${dwiDatasets.size} datasets`);

    const limiter = new HostLimiter(8);
    const failures: string[] = [];
    let resumedWithinCall = 0;
    const refetched: string[] = [];
    await pool(jobs, 8, async ({ datasetId, file }) => {
      try {
        const r = await downloadFile(downloadOptions(server, datasetId, file, root, { hostLimiter: limiter }));
        // Resets, truncations and stalls continue with Range: no byte is fetched twice.
        if (r.bytesFetched !== r.bytes) refetched.push(`${datasetId}/${file.path}: ${r.bytesFetched}/${r.bytes}`);
        if (r.failures.some((f) => /mid-body|short body|body ended early|STALLED/.test(f))) resumedWithinCall++;
      } catch (e) {
        failures.push(`${datasetId}/${file.path}: ${(e as OpenNeuroError).reason} ${(e as Error).message}`);
      }
    });
    assert.deepEqual(failures, []);
    assert.deepEqual(refetched, []);
    for (const { datasetId, file } of jobs) {
      const dest = path.join(root, datasetId, file.path);
      assert.ok(verifyAgainstKey(dest, file.key, file.size), `${datasetId}/${file.path} verified`);
      assert.ok(!fs.existsSync(`${dest}.part`));
    }
    // DWI volumes match the dataset's real b-values.
    const dwi = jobs.find((j) => j.datasetId === 'ds000009' && j.file.datatype === 'dwi' && j.file.role === 'image')!;
    const bval = fs.readFileSync(path.join(root, 'ds000009', dwi.file.path.replace(/\.nii\.gz$/, '.bval')), 'utf8').trim().split(/\s+/);
    const image = parseNifti(zlib.gunzipSync(fs.readFileSync(path.join(root, 'ds000009', dwi.file.path))));
    assert.equal(image.shape[3], bval.length);

    const faults = server.stats().faults;
    for (const f of ['error', '429', 'reset', 'truncate', 'html504', 'versioned404', 'gqltimeout-recursive']) {
      assert.ok((faults[f] ?? 0) > 0, `fault ${f} injected (${JSON.stringify(faults)})`);
    }
    assert.ok(resumedWithinCall > 0, 'some downloads resumed after a reset/truncation without refetching bytes');
  });
});

describe('openneuro: resume, skip unchanged, reason codes', function () {
  this.timeout(60_000);
  let server: FakeOpenNeuro;
  const root = path.join(tmpRoot, 'clean');

  before(async () => {
    server = await startFakeOpenNeuro({ datasets: ['ds000009', 'ds000105', 'ds000234'], faults: 'badsize=ds000234,corrupt-always=ds000105:sub-1/anat/sub-1_T1w.nii.gz' });
  });
  after(async () => server?.close());

  it('resumes an interrupted download from the .part offset with Range', async () => {
    const size = 8 * 1024 * 1024 + 123;
    const url = `${server.url}/_fake/blob/${size}`;
    const reference = path.join(root, 'blob-reference');
    const whole = await downloadFile({ urls: [url], dest: reference, retry: FAST_RETRY });
    assert.equal(whole.bytes, size);

    const dest = path.join(root, 'blob');
    const controller = new AbortController();
    await assert.rejects(
      downloadFile({
        urls: [url],
        dest,
        expectedSize: size,
        signal: controller.signal,
        retry: FAST_RETRY,
        onProgress: (done) => {
          if (done >= 3 * 1024 * 1024) controller.abort();
        },
      }),
      (e: unknown) => isOpenNeuroError(e, 'aborted'),
    );
    const partSize = fs.statSync(`${dest}.part`).size;
    assert.ok(partSize >= 3 * 1024 * 1024 && partSize < size, `part holds ${partSize}`);
    const rangeBefore = server.stats().files.rangeGets;
    const resumed = await downloadFile({ urls: [url], dest, expectedSize: size, retry: FAST_RETRY });
    assert.equal(resumed.resumedFrom, partSize);
    assert.equal(resumed.bytesFetched, size - partSize, 'no byte fetched twice');
    assert.equal(resumed.bytes, size);
    assert.equal(resumed.md5, whole.md5);
    assert.equal(resumed.sha256, whole.sha256);
    assert.equal(server.stats().files.rangeGets, rangeBefore + 1);

    // A caller-recorded offset (e.g. the last heartbeat) cuts the part file back to it.
    const dest2 = path.join(root, 'blob2');
    fs.copyFileSync(reference, `${dest2}.part`);
    fs.truncateSync(`${dest2}.part`, 5_000_000);
    const fromHeartbeat = await downloadFile({ urls: [url], dest: dest2, expectedSize: size, startOffset: 4_000_000, retry: FAST_RETRY });
    assert.equal(fromHeartbeat.resumedFrom, 4_000_000);
    assert.equal(fromHeartbeat.bytesFetched, size - 4_000_000);
    assert.equal(fromHeartbeat.md5, whole.md5);
  });

  it('resumes within one call after a mid-body reset, fetching each byte once', async () => {
    const resetting = await startFakeOpenNeuro({ datasets: ['ds000009'], faults: 'reset=0.5,seed=3' });
    try {
      const listing = await listSnapshotFiles(resetting.url, 'ds000009', '00002');
      const images = selectFiles(listing.files).filter((f) => f.role === 'image');
      let resets = 0;
      for (const f of images.slice(0, 12)) {
        const r = await downloadFile(downloadOptions(resetting, 'ds000009', f, path.join(root, 'reset')));
        assert.equal(r.bytesFetched, r.bytes);
        assert.equal(r.bytes, f.size);
        if (r.retries > 0) resets++;
      }
      assert.ok(resets > 0, 'some downloads were reset mid-body');
      assert.ok(resetting.stats().files.rangeGets > 0);
    } finally {
      await resetting.close();
    }
  });

  it('downloads nothing when the listing is unchanged; only changed files after a new snapshot', async () => {
    const dsRoot = path.join(root, 'skip');
    const first = await listSnapshotFiles(server.url, 'ds000009', '00002');
    const selected = selectFiles(first.files);
    for (const f of selected) await downloadFile(downloadOptions(server, 'ds000009', f, dsRoot));
    const getsAfterFirst = server.stats().files.get;

    const again = await listSnapshotFiles(server.url, 'ds000009', '00002');
    let downloaded = 0;
    for (const f of selectFiles(again.files)) {
      if (await isAlreadyDownloaded(path.join(dsRoot, 'ds000009', f.path), f.size, f.key)) continue;
      await downloadFile(downloadOptions(server, 'ds000009', f, dsRoot));
      downloaded++;
    }
    assert.equal(downloaded, 0);
    assert.equal(server.stats().files.get, getsAfterFirst, 'no GET for an unchanged listing');

    const changed = selected.find((f) => f.role === 'image')!.path;
    server.addSnapshot('ds000009', '2.0.0', [changed]);
    const catalog = await listCatalog(server.url);
    assert.equal(catalog.find((c) => c.datasetId === 'ds000009')?.tag, '2.0.0');
    const next = await listSnapshotFiles(server.url, 'ds000009', '2.0.0');
    const fetched: string[] = [];
    for (const f of selectFiles(next.files)) {
      if (await isAlreadyDownloaded(path.join(dsRoot, 'ds000009', f.path), f.size, f.key)) continue;
      await downloadFile(downloadOptions(server, 'ds000009', f, dsRoot));
      fetched.push(f.path);
    }
    assert.deepEqual(fetched, [changed]);
  });

  it('gives size_mismatch for a wrong size in the listing, with or without a key', async () => {
    const listing = await listSnapshotFiles(server.url, 'ds000234', (await listCatalog(server.url)).find((c) => c.datasetId === 'ds000234')!.tag);
    const served = new Map((await server.listing('ds000234')).map((f) => [f.path, f]));
    const image = selectFiles(listing.files).find((f) => f.role === 'image')!;
    assert.equal(image.size, served.get(image.path)!.size + 7, 'the listing shows a wrong size');
    const dest = path.join(root, 'badsize', image.path);
    await assert.rejects(downloadFile({ ...downloadOptions(server, 'ds000234', image, root), dest }), (e: unknown) => isOpenNeuroError(e, 'size_mismatch'));
    await assert.rejects(downloadFile({ ...downloadOptions(server, 'ds000234', image, root), dest, key: undefined }), (e: unknown) => isOpenNeuroError(e, 'size_mismatch'));
    assert.ok(!fs.existsSync(dest) && !fs.existsSync(`${dest}.part`));
  });

  it('gives checksum_mismatch when the content never matches its key', async () => {
    const listing = await listSnapshotFiles(server.url, 'ds000105', (await listCatalog(server.url)).find((c) => c.datasetId === 'ds000105')!.tag);
    const file = listing.files.find((f) => f.path === 'sub-1/anat/sub-1_T1w.nii.gz');
    assert.ok(file, 'ds000105 has sub-1/anat/sub-1_T1w.nii.gz');
    const dest = path.join(root, 'corrupt', file.path);
    await assert.rejects(downloadFile({ ...downloadOptions(server, 'ds000105', file, root), dest }), (e: unknown) => isOpenNeuroError(e, 'checksum_mismatch'));
    assert.ok(!fs.existsSync(dest));
  });

  it('gives html_instead_of_data, not_found, and falls back from a versioned 404', async () => {
    const html = await startFakeOpenNeuro({ datasets: ['ds000009'], faults: 'html504=1' });
    const versioned = await startFakeOpenNeuro({ datasets: ['ds000009'], faults: 'versioned404=1,gqltimeout-recursive=1,gqltimeoutms=5000' });
    try {
      const listing = await listSnapshotFiles(html.url, 'ds000009', '00002');
      const image = selectFiles(listing.files).find((f) => f.role === 'image')!;
      await assert.rejects(
        downloadFile({ ...downloadOptions(html, 'ds000009', image, path.join(root, 'html')), retry: { ...FAST_RETRY, maxRetries: 3 } }),
        (e: unknown) => isOpenNeuroError(e, 'html_instead_of_data'),
      );
      await assert.rejects(
        downloadFile({ urls: [`${versioned.url}/s3/openneuro.org/ds000009/nope.nii.gz`], dest: path.join(root, 'nf', 'x'), retry: FAST_RETRY }),
        (e: unknown) => isOpenNeuroError(e, 'not_found'),
      );
      // The recursive listing hangs past the client's timeout: the tree walk takes over.
      const walked = await listSnapshotFiles(versioned.url, 'ds000009', '00002', { recursiveTimeoutMs: 200 });
      assert.equal(walked.method, 'tree');
      assert.match(walked.fallbackReason ?? '', /timed out/);
      assert.deepEqual(walked.files.map((f) => f.path).sort(), listing.files.map((f) => f.path).sort());
      const r = await downloadFile(downloadOptions(versioned, 'ds000009', image, path.join(root, 'v404')));
      assert.ok(!r.urlUsed.includes('versionId='), `fell back to ${r.urlUsed}`);
      assert.equal(r.bytes, image.size);
    } finally {
      await html.close();
      await versioned.close();
    }
  });

  it('replicates skeletons under new dataset ids with their own images', async () => {
    const replicated = await startFakeOpenNeuro({ datasets: ['ds000105'], replicate: 2 });
    try {
      assert.deepEqual(replicated.datasetIds(), ['ds000105', 'ds900001', 'ds900002']);
      const original = new Map((await replicated.listing('ds000105')).map((f) => [f.path, f.key]));
      const copy = await replicated.listing('ds900001');
      assert.deepEqual(copy.map((f) => f.path), [...original.keys()]);
      const image = copy.find((f) => f.path.endsWith('_T1w.nii.gz'))!;
      assert.notEqual(image.key, original.get(image.path), 'images are seeded by the new id');
      assert.equal(copy.find((f) => f.path === 'participants.tsv')?.key, original.get('participants.tsv'), 'metadata is verbatim');
    } finally {
      await replicated.close();
    }
  });

  it('refuses unsafe names in a listing (reason unsafe_path)', async () => {
    const evil = ['../x', '/etc/passwd', 'a/../../b', 'ok/dataset.json'];
    const srv = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: { snapshot: { id: 'ds1:1', files: evil.map((f, i) => ({ id: `id${i}`, key: `id${i}`, filename: f, size: 1, annexed: false, directory: false, urls: [] })) } } }));
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const listing = await listSnapshotFiles(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`, 'ds1', '1');
      assert.deepEqual(listing.files.map((f) => f.path), ['ok/dataset.json']);
      assert.deepEqual(listing.rejected.map((r) => [r.path, r.reason]), [['../x', 'unsafe_path'], ['/etc/passwd', 'unsafe_path'], ['a/../../b', 'unsafe_path']]);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
    await assert.rejects(fsp.access(path.join(tmpRoot, '..', 'x')));
  });
});
