// The rating page in a real headless Chromium: two raters rate the same dataset × modality, one
// with the mouse, one with the keyboard shortcuts (digit, Enter). Both ratings must land in
// PostgreSQL and aggregate to their mean; then, end to end, ratings given in the browser drive the
// dataset's qualityRating Temporal workflow to completion and the export carries the score.
// Skips when playwright-core or /usr/bin/chromium is absent.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, dropDatabase, migrateToLatest, openDatabase, type DB } from '../db/database.js';
import { affineOf, readNifti, voxelSizes } from '../lib/nifti/index.js';
import { computeIqms, estimateAnatomyMask, writeMontage, writeScanMosaic } from '../lib/quality/index.js';
import { aggregateTask, currentRatings, registerRatingTask, startRatingServer, type RatingRecord, type RatingServer } from '../services/rating/index.js';
import { generateSampleDataset } from '../lib/sample/dataset.js';
import { parseCsv } from '../lib/csv.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';
import { signalQualityWorkflow } from '../services/quality-signal.js';
import { qualityWorkflowId, type QualityState } from '../workflows/quality-rating.js';
import { getTestEnv, withWorkers, type TestEnv } from './helpers/env.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.OPENMIND_SHARED ?? path.resolve(repoRoot, '../shared');
const T1W = path.join(shared, 'images/t1w_head_brainchop.nii.gz');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN_DB_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SCREENSHOT = path.join(repoRoot, 'test-artifacts/rating.png');

/** playwright-core when installed (a variable specifier keeps the type-check independent of it). */
async function loadPlaywright(): Promise<any | null> {
  const name = 'playwright-core';
  try {
    return await import(name);
  } catch {
    return null;
  }
}

/** 2x2x2 block means: a 128³ head renders and measures quickly. */
function downsampleBy2(data: Float32Array, shape: number[]): { data: Float32Array; shape: [number, number, number] } {
  const [nx, ny] = shape;
  const out: [number, number, number] = [shape[0] >> 1, shape[1] >> 1, shape[2] >> 1];
  const result = new Float32Array(out[0] * out[1] * out[2]);
  for (let z = 0; z < out[2]; z++)
    for (let y = 0; y < out[1]; y++)
      for (let x = 0; x < out[0]; x++) {
        let sum = 0;
        for (let d = 0; d < 8; d++) sum += data[2 * x + (d & 1) + nx * (2 * y + ((d >> 1) & 1) + ny * (2 * z + (d >> 2)))];
        result[x + out[0] * (y + out[1] * z)] = sum / 8;
      }
  return { data: result, shape: out };
}

describe('rating page in headless Chromium', function () {
  this.timeout(180_000);
  const dbName = `openmind_quality_browser_${process.pid}`;
  let playwright: any;
  let browser: any;
  let db: DB | undefined;
  let server: RatingServer | undefined;
  let assets: string;
  const hooked: RatingRecord[] = [];

  before(async function () {
    playwright = await loadPlaywright();
    if (!playwright || !fs.existsSync(CHROMIUM)) {
      console.log(`      skipped: ${playwright ? '' : 'playwright-core is not installed; '}${fs.existsSync(CHROMIUM) ? '' : `no Chromium at ${CHROMIUM}`}`);
      return this.skip();
    }
    assert.ok(fs.existsSync(T1W), `shared image missing at ${T1W} (set OPENMIND_SHARED)`);
    db = await openDatabase({ url: await createDatabase(ADMIN_DB_URL, dbName) });
    await migrateToLatest(db);

    // Real pictures: the T1w head and a noisier copy, as two scans of one dataset × modality.
    assets = fs.mkdtempSync(path.join(os.tmpdir(), 'openmind-browser-'));
    const t1 = await readNifti(T1W);
    const vol = downsampleBy2(t1.data, t1.shape);
    const voxelSize = voxelSizes(t1.header).map((v) => 2 * v);
    const anatomy = estimateAnatomyMask(vol.data, vol.shape);
    let seed = 1;
    const noisy = vol.data.map((v) => Math.abs(v + 12 * (((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1)));
    const scans = [];
    for (const [i, data] of [vol.data, noisy].entries()) {
      const image = { data, shape: vol.shape, voxelSize, affine: affineOf(t1.header) };
      const mosaicPath = path.join(assets, 'ds000001', `sub-0${i + 1}_T1w.png`);
      await writeScanMosaic(mosaicPath, image, { anatomy }, { tileSize: 128 });
      scans.push({ scanId: `ds000001:sub-0${i + 1}/anat/sub-0${i + 1}_T1w`, mosaicPath, metrics: computeIqms(image, { anatomy }).metrics });
    }
    const montagePath = path.join(assets, 'ds000001', 'montage_T1w.png');
    await writeMontage(montagePath, scans.map((s) => s.mosaicPath), { seed: 'ds000001/T1w', n: 4, columns: 2 });
    await registerRatingTask(db, { datasetId: 'ds000001', modality: 'T1w', montagePath, scans });

    server = await startRatingServer({ db, assetsDir: assets, onRated: async (r) => void hooked.push(r), log: () => undefined });
    browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });

  after(async function () {
    await browser?.close();
    await server?.close();
    await db?.destroy();
    if (db) await dropDatabase(ADMIN_DB_URL, dbName).catch(() => undefined);
    if (assets) fs.rmSync(assets, { recursive: true, force: true });
  });

  /** A fresh browser context (own cookies) signed in by name; collects page errors. */
  async function openAs(name: string): Promise<{ page: any; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e: Error) => errors.push(e.message));
    page.on('console', (m: any) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${server!.url}/`);
    assert.match(page.url(), /\/login$/, 'unauthenticated visitors land on the sign-in page');
    await page.fill('#name', name);
    await page.click('#sign-in');
    await page.waitForSelector('#task-title:has-text("ds000001 × T1w")');
    await page.waitForSelector('#metrics tbody tr');
    return { page, errors };
  }

  it('two raters rate with the mouse and with keys 1-5 + Enter; both ratings land and average', async function () {
    // Rater 1, with the mouse: score 2, "noise" checked, a comment.
    const ana = await openAs('ana');
    await ana.page.click('label.score:has-text("2")');
    await ana.page.check('#artifact-noise');
    await ana.page.fill('#comment', 'slight noise in the second scan');
    await ana.page.click('#submit');
    await ana.page.waitForSelector('#message:has-text("Saved ds000001 × T1w: score 2")');
    await ana.page.waitForSelector('#task-title:has-text("Nothing left to rate")');

    // Rater 2, with the keyboard only: "3" picks the score, Enter submits.
    const ben = await openAs('ben');
    assert.equal(await ben.page.locator('#metrics tbody tr').count(), 2);
    assert.equal(await ben.page.locator('#scans img').count(), 2);
    await ben.page.waitForFunction(() => Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0));
    await ben.page.keyboard.press('3');
    assert.equal(await ben.page.isChecked('#score-3'), true);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await ben.page.screenshot({ path: SCREENSHOT, fullPage: true });
    await ben.page.keyboard.press('Enter');
    await ben.page.waitForSelector('#message:has-text("Saved ds000001 × T1w: score 3")');

    const current = await currentRatings(db!, 'ds000001', 'T1w');
    assert.deepEqual(
      current.map((r) => [r.rater, r.score, r.artifacts, r.comment, r.version]),
      [
        ['ana', 2, ['noise'], 'slight noise in the second scan', 1],
        ['ben', 3, [], '', 1],
      ],
    );
    for (const r of current) assert.equal(r.imagesShown.length, 3, 'montage and both mosaics recorded as shown');
    assert.deepEqual(await aggregateTask(db!, 'ds000001', 'T1w'), { status: 'final', score: 2.5, raters: ['ana', 'ben'], disagreement: 1 });
    assert.deepEqual(
      hooked.map((r) => [r.rater, r.score]),
      [
        ['ana', 2],
        ['ben', 3],
      ],
    );
    assert.deepEqual([...ana.errors, ...ben.errors], [], 'no script errors or CSP violations');
    assert.ok(fs.statSync(SCREENSHOT).size > 10_000);
  });

  it('revises from the list: a new version, the old one kept, and the rule re-evaluated', async function () {
    const ana = await openAs2('ana');
    await ana.page.click('#my-tasks button:has-text("Revise")');
    await ana.page.waitForSelector('#task-note:has-text("Revising your rating (version 1, score 2)")');
    assert.equal(await ana.page.isChecked('#score-2'), true, 'the form starts from the current rating');
    await ana.page.keyboard.press('1');
    await ana.page.keyboard.press('Enter');
    await ana.page.waitForSelector('#message:has-text("(version 2)")');
    const versions = await db!.selectFrom('ratings').innerJoin('raters', 'raters.id', 'ratings.rater_id').select(['version', 'score']).where('raters.name', '=', 'ana').orderBy('version').execute();
    assert.deepEqual(versions, [
      { version: 1, score: 2 },
      { version: 2, score: 1 },
    ]);
    // ana 1 vs ben 3: two points apart, so the rule now waits for a third rater.
    assert.deepEqual(await aggregateTask(db!, 'ds000001', 'T1w'), { status: 'needs_third', raters: ['ana', 'ben'], disagreement: 2 });
  });

  /** Sign in as someone who has rated everything: the page shows the "your ratings" list. */
  async function openAs2(name: string): Promise<{ page: any }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server!.url}/login`);
    await page.fill('#name', name);
    await page.click('#sign-in');
    await page.waitForSelector('#my-tasks button');
    return { page };
  }
});

describe('browser ratings drive the qualityRating workflow to the export', function () {
  this.timeout(600_000);
  const DS = 'rating-flow';
  const dbName = `openmind_rating_flow_${process.pid}`;
  let playwright: any;
  let browser: any;
  let env: TestEnv;
  // A database of its own, so the page's "next task" is this dataset's and no other test's.
  let db: DB | undefined;
  let dataDir: string;
  let dsDir: string;
  let exportDir: string;

  before(async function () {
    playwright = await loadPlaywright();
    if (!playwright || !fs.existsSync(CHROMIUM)) return this.skip();
    env = await getTestEnv();
    db = await openDatabase({ url: await createDatabase(ADMIN_DB_URL, dbName) });
    await migrateToLatest(db);
    dataDir = path.join(env.tmp, DS);
    dsDir = path.join(dataDir, 'bids', DS);
    exportDir = path.join(dataDir, 'export');
    await generateSampleDataset(dsDir, { subjects: 2, contrasts: ['T1w'], dwiSubjects: 0 });
    browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });

  after(async function () {
    await browser?.close();
    await db?.destroy();
    if (db) await dropDatabase(ADMIN_DB_URL, dbName).catch(() => undefined);
  });

  const scoresInExport = (): string[] =>
    parseCsv(fs.readFileSync(path.join(exportDir, 'openneuro_metadata.csv'), 'utf8'))
      .filter((r) => r.unique_id.startsWith(`${DS}:`) && r.modality === 'T1w')
      .map((r) => r.image_quality_score);

  it('two browser raters complete the workflow; every T1w row of the export carries their mean', async function () {
    await withWorkers(
      env,
      dataDir,
      async () => {
        const client = env.temporal.client;
        const summary: CrawlSummary = await client.workflow.execute('crawl', {
          taskQueue: 'openmind-io',
          workflowId: `crawl/${DS}`,
          args: [{ name: DS, sources: [{ kind: 'local', path: dsDir, datasetId: DS }], options: { exportDir, masks: { useNetwork: false } } }],
        });
        assert.equal(summary.completed, 1);
        assert.deepEqual(scoresInExport(), ['', ''], 'no human score yet: the export leaves it empty (predicted scores are kept apart)');

        // The pipeline left the dataset × modality's rating workflow waiting for two raters.
        const handle = client.workflow.getHandle(qualityWorkflowId(DS, 'T1w'));
        const waiting = await handle.query<QualityState>('progress');
        assert.equal(waiting.status, 'waiting');
        assert.equal(waiting.source, 'predicted');
        const described = await handle.describe();
        assert.equal(described.status.name, 'RUNNING');

        const server = await startRatingServer({ db: db!, assetsDir: path.join(dataDir, 'qc'), onRated: (r) => signalQualityWorkflow(client, r), log: () => undefined });
        try {
          const signIn = async (name: string) => {
            const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
            await page.goto(`${server.url}/login`);
            await page.fill('#name', name);
            await page.click('#sign-in');
            await page.waitForSelector(`#task-title:has-text("${DS} × T1w")`);
            return page;
          };
          // Rater 1 with the mouse.
          const ana = await signIn('ana');
          await ana.click('label.score:has-text("2")');
          await ana.click('#submit');
          await ana.waitForSelector(`#message:has-text("Saved ${DS} × T1w: score 2")`);
          // The signal reached the workflow: it now waits for a second rater.
          let mid = await handle.query<QualityState>('progress');
          for (let i = 0; i < 100 && mid.raters.length < 1; i++) {
            await new Promise((r) => setTimeout(r, 100));
            mid = await handle.query<QualityState>('progress');
          }
          assert.deepEqual([mid.status, mid.raters], ['waiting', ['ana']]);

          // Rater 2 with the keyboard.
          const ben = await signIn('ben');
          await ben.keyboard.press('3');
          await ben.keyboard.press('Enter');
          await ben.waitForSelector(`#message:has-text("Saved ${DS} × T1w: score 3")`);
        } finally {
          await server.close();
        }

        const final = await handle.result();
        assert.deepEqual(final, { status: 'final', score: 2.5, source: 'raters', raters: ['ana', 'ben'] });
      },
      { exportDir, db },
    );

    // The workflow wrote the score to every image and rewrote the export table.
    assert.deepEqual(scoresInExport(), ['2.5', '2.5']);
    const scans = await db!.selectFrom('scans').select(['metadata']).where('dataset_id', '=', DS).where('modality', '=', 'T1w').execute();
    assert.equal(scans.length, 2);
    for (const s of scans) assert.deepEqual((s.metadata as any).quality, { score: 2.5, kind: 'raters', raters: ['ana', 'ben'] });
  });
});
