// Conformance of the fake OpenNeuro with a real third-party client: openneuro-py downloads
// datasets from it (GraphQL listing, S3-style URLs, ETag checks, Range resumes after resets)
// and gets exactly the bytes the server serves.
//
// openneuro-py has no option for the server URL: its GraphQL endpoint is the module-level
// `openneuro._download.gql_url`, so the test runs its CLI through a two-line Python wrapper
// that points `gql_url` at the fake. File URLs come from the listing, so they hit the fake too.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startFakeOpenNeuro, type FakeOpenNeuro } from '../services/fake-openneuro/index.js';

const run = promisify(execFile);
const PYTHON = process.env.PYTHON ?? 'python3';
const WRAPPER = [
  'import sys, openneuro._download as d',
  "d.gql_url = sys.argv[1].rstrip('/') + '/crn/graphql'",
  'from openneuro._cli import app',
  "sys.argv = ['openneuro-py'] + sys.argv[2:]",
  'app()',
].join('\n');

/** Is openneuro-py importable? Installs it with pip when missing (unless OPENMIND_NO_PIP_INSTALL is set). */
async function ensureOpenneuroPy(): Promise<string | null> {
  const shown = await run(PYTHON, ['-m', 'pip', 'show', 'openneuro-py']).then(() => true, () => false);
  if (!shown) {
    if (process.env.OPENMIND_NO_PIP_INSTALL) return 'openneuro-py is not installed (OPENMIND_NO_PIP_INSTALL set)';
    try {
      await run(PYTHON, ['-m', 'pip', 'install', '--quiet', 'openneuro-py'], { timeout: 240_000 });
    } catch (e) {
      return `openneuro-py is not installed and "pip install openneuro-py" failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return run(PYTHON, ['-c', 'import openneuro._download as d, openneuro._cli; d.gql_url']).then(
    () => null,
    (e: Error) => `openneuro-py does not import as expected (gql_url / _cli): ${e.message.split('\n')[0]}`,
  );
}

async function openneuroPyDownload(server: FakeOpenNeuro, datasetId: string, targetDir: string, extra: string[] = []): Promise<void> {
  await run(PYTHON, ['-c', WRAPPER, server.url, 'download', '--dataset', datasetId, '--target-dir', targetDir, ...extra], {
    timeout: 150_000,
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 16 * 1024 * 1024,
  });
}

function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p).split(path.sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

/** Every listed file except dotfiles (openneuro-py skips those unless included) is on disk with the served bytes. */
async function assertMatchesServer(server: FakeOpenNeuro, datasetId: string, dir: string, tag?: string): Promise<number> {
  const listing = (await server.listing(datasetId, tag)).filter((f) => !f.path.split('/').some((seg) => seg.startsWith('.')));
  assert.deepEqual(filesUnder(dir), listing.map((f) => f.path).sort());
  for (const f of listing) {
    const bytes = fs.readFileSync(path.join(dir, f.path));
    assert.equal(bytes.length, f.size, f.path);
    assert.equal(crypto.createHash('md5').update(bytes).digest('hex'), f.md5, f.path);
  }
  return listing.length;
}

describe('openneuro-py against the fake OpenNeuro', function () {
  this.timeout(300_000);
  let tmp: string;

  before(async function () {
    const why = await ensureOpenneuroPy();
    if (why) {
      console.warn(`    skipping openneuro-py conformance: ${why}`);
      this.skip();
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openneuro-py-'));
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('downloads whole datasets (latest and tagged snapshot) byte for byte', async () => {
    const server = await startFakeOpenNeuro({ datasets: ['ds000105', 'ds000009'] });
    try {
      const a = path.join(tmp, 'ds000105');
      await openneuroPyDownload(server, 'ds000105', a);
      assert.ok((await assertMatchesServer(server, 'ds000105', a)) > 100);
      // A second run over a complete folder checks sizes/ETags and downloads nothing.
      const getsBefore = server.stats().files.get;
      await openneuroPyDownload(server, 'ds000105', a);
      assert.equal(server.stats().files.get, getsBefore);

      const b = path.join(tmp, 'ds000009');
      await openneuroPyDownload(server, 'ds000009', b, ['--tag', '00002', '--include', 'sub-0[12]/**']);
      const got = filesUnder(b);
      assert.ok(got.includes('sub-01/dwi/sub-01_dwi.nii.gz') && got.includes('sub-02/anat/sub-02_T1w.nii.gz'));
      assert.ok(!got.some((p) => p.startsWith('sub-03/')));
      for (const p of got) assert.deepEqual(fs.readFileSync(path.join(b, p)), await server.fileBytes('ds000009', p, '00002'), p);
    } finally {
      await server.close();
    }
  });

  it('survives injected 5xx errors and mid-body resets (Range resume) with identical bytes', async () => {
    const server = await startFakeOpenNeuro({ datasets: ['ds000105'], faults: 'error=0.04,reset=0.04,seed=11' });
    try {
      const dir = path.join(tmp, 'faulty');
      await openneuroPyDownload(server, 'ds000105', dir, ['--max-retries', '8']);
      await assertMatchesServer(server, 'ds000105', dir);
      const stats = server.stats();
      assert.ok((stats.faults.error ?? 0) + (stats.faults.reset ?? 0) > 0, 'faults were injected');
      if (stats.faults.reset) assert.ok(stats.files.rangeGets > 0, 'openneuro-py resumed reset downloads with Range');
    } finally {
      await server.close();
    }
  });
});
