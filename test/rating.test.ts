// The rating tool over real HTTP against a real PostgreSQL: access control (tokens, sessions,
// CSRF, cross-site), bad input, duplicate and concurrent submissions, revisions, aggregation,
// and CSV/JSON export-import round trips.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropDatabase, type DB } from '../db/database.js';
import { runRate, runRatersAdd } from '../cli/commands/rate.js';
import { IQM_VERSION, measureImageQuality, qcAssetPaths } from '../lib/quality/index.js';
import { upsertScanIqms } from '../db/repositories/quality-metrics.js';
import { writeNifti } from '../lib/nifti/index.js';
import {
  addRater,
  aggregateTask,
  finishRatingTask,
  getRatingTask,
  exportRatings,
  importRatings,
  qualityScoreOf,
  registerRatingTask,
  startRatingServer,
  storePredictedScore,
  type RatingRecord,
  type RatingServer,
} from '../services/rating/index.js';
import { ADMIN_DB_URL, countRatings as countDbRatings, freshDatabase, pngAssets, request, signIn as signInAs, type Browser } from './helpers/http.js';


/** Sign in, and check the session cookie's flags. */
async function signIn(base: string, fields: { token?: string; name?: string }): Promise<Browser> {
  const browser = await signInAs(base, fields);
  assert.match(browser.cookie, /^om_session=/);
  assert.match(browser.setCookie, /HttpOnly/);
  assert.match(browser.setCookie, /SameSite=Strict/);
  return browser;
}

let counter = 0;
const submissionId = (label: string) => `test-${label}-${process.pid}-${++counter}`;

describe('rating tool over HTTP', function () {
  this.timeout(60_000);
  const dbName = `openmind_quality_${process.pid}`;
  let db: DB;
  let assets: string;
  let server: RatingServer;
  let base: string;
  let aliceToken: string;
  let bobToken: string;
  const hooked: RatingRecord[] = [];

  const bearer = (token: string, extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${token}`, ...extra });
  const rate = (token: string, body: Record<string, unknown>) => request(base, 'POST', '/api/ratings', { headers: bearer(token), body });
  const countRatings = () => countDbRatings(db);

  before(async function () {
    db = await freshDatabase(dbName);
    assets = pngAssets('openmind-rating-', ['ds000001', 'ds000002'], ['montage-T1w.png', 'mosaic-1.png', 'mosaic-2.png']);
    const png = fs.readFileSync(path.join(assets, 'ds000001', 'mosaic-1.png'));
    fs.writeFileSync(path.join(os.tmpdir(), `openmind-secret-${process.pid}.png`), png);
    const task = (datasetId: string, modality: string) => ({
      datasetId,
      modality,
      montagePath: path.join(assets, datasetId, 'montage-T1w.png'),
      scans: [
        { scanId: `${datasetId}:sub-01/anat/sub-01_${modality}`, mosaicPath: `${datasetId}/mosaic-1.png`, metrics: { efc: 0.45, snr_total: 9.5, qi_1: 0.001, cjv: 0.5 } },
        { scanId: `${datasetId}:sub-02/anat/sub-02_${modality}`, mosaicPath: `${datasetId}/mosaic-2.png`, metrics: { efc: 0.5, snr_total: 8, qi_1: 0.002, cjv: 0.55 } },
      ],
    });
    await registerRatingTask(db, task('ds000001', 'T1w'));
    await registerRatingTask(db, task('ds000001', 'T2w'));
    await registerRatingTask(db, task('ds000002', 'T1w'));
    aliceToken = await addRater(db, 'alice');
    bobToken = await addRater(db, 'bob');
    server = await startRatingServer({
      db,
      port: 0,
      requireTokens: true,
      assetsDir: assets,
      onRated: async (r) => {
        hooked.push(r);
      },
      log: () => undefined,
    });
    base = server.url;
  });

  after(async function () {
    await server?.close();
    await db?.destroy();
    await dropDatabase(ADMIN_DB_URL, dbName).catch(() => undefined);
    fs.rmSync(assets, { recursive: true, force: true });
    fs.rmSync(path.join(os.tmpdir(), `openmind-secret-${process.pid}.png`), { force: true });
  });

  describe('access', function () {
    it('keeps only a hash of each token', async function () {
      const rows = await db.selectFrom('raters').select(['name', 'token_hash']).orderBy('name').execute();
      assert.deepEqual(
        rows.map((r) => r.token_hash),
        [aliceToken, bobToken].map((t) => createHash('sha256').update(t).digest('hex')),
      );
      assert.ok(!JSON.stringify(rows).includes(aliceToken));
    });

    it('refuses to read or write anything without a valid token', async function () {
      for (const [method, p] of [
        ['GET', '/api/next'],
        ['GET', '/api/tasks'],
        ['GET', '/api/tasks/ds000001/T1w'],
        ['GET', '/api/ratings/export?format=csv'],
        ['GET', '/assets/ds000001/montage-T1w.png'],
        ['POST', '/api/ratings'],
        ['POST', '/api/ratings/import'],
      ]) {
        const anonymous = await request(base, method, p, method === 'POST' ? { body: { score: 1 } } : {});
        assert.equal(anonymous.status, 401, `${method} ${p}`);
        assert.equal(anonymous.json.reason, 'unauthenticated');
        assert.ok(anonymous.json.error);
        const forged = await request(base, method, p, { headers: bearer('om_not-a-real-token-at-all-xxxxxxxx'), ...(method === 'POST' ? { body: { score: 1 } } : {}) });
        assert.equal(forged.status, 401, `${method} ${p} with a bad token`);
        assert.equal(forged.json.reason, 'invalid_token');
      }
      const page = await request(base, 'GET', '/');
      assert.equal(page.status, 303);
      assert.equal(page.headers.location, '/login');
      assert.equal(await countRatings(), 0);
    });

    it('signs in with a token only (names are refused off the loopback-only mode)', async function () {
      const byName = await request(base, 'POST', '/login', { body: { name: 'alice' } });
      assert.equal(byName.status, 403);
      assert.equal(byName.json.reason, 'token_required');
      const wrong = await request(base, 'POST', '/login', { body: { token: 'om_wrong-token-wrong-token-wrong' } });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.reason, 'invalid_token');
      const alice = await signIn(base, { token: aliceToken });
      const me = await request(base, 'GET', '/api/me', { headers: alice.headers() });
      assert.deepEqual(me.json, { rater: 'alice', requireTokens: true });
      const page = await request(base, 'GET', '/', { headers: { Cookie: alice.cookie } });
      assert.equal(page.status, 200);
      assert.match(page.text, /<meta name="csrf-token" content="[^"]+">/);
      assert.match(page.text, /press <kbd>1<\/kbd>–<kbd>5<\/kbd>/);
      assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
      const picture = await request(base, 'GET', '/assets/ds000001/montage-T1w.png', { headers: { Cookie: alice.cookie, 'Sec-Fetch-Site': 'same-origin' } });
      assert.equal(picture.status, 200);
      assert.equal(picture.headers['content-type'], 'image/png');
    });

    it('refuses cross-site requests and writes without the session CSRF token', async function () {
      const alice = await signIn(base, { token: aliceToken });
      const body = { datasetId: 'ds000001', modality: 'T1w', score: 2, submissionId: submissionId('xsite') };
      const cases: [string, Record<string, string>, string][] = [
        ['foreign Origin', alice.headers({ Origin: 'http://evil.example' }), 'cross_site'],
        ['Sec-Fetch-Site cross-site', alice.headers({ 'Sec-Fetch-Site': 'cross-site', Origin: base }), 'cross_site'],
        ['Sec-Fetch-Site same-site', alice.headers({ 'Sec-Fetch-Site': 'same-site' }), 'cross_site'],
        ['no CSRF token', { Cookie: alice.cookie, Origin: base }, 'csrf'],
        ['another session CSRF token', alice.headers({ 'X-CSRF-Token': 'x'.repeat(43) }), 'csrf'],
      ];
      for (const [what, headers, reason] of cases) {
        const reply = await request(base, 'POST', '/api/ratings', { headers, body });
        assert.equal(reply.status, 403, what);
        assert.equal(reply.json.reason, reason, what);
      }
      const read = await request(base, 'GET', '/api/next', { headers: { Cookie: alice.cookie, 'Sec-Fetch-Site': 'cross-site' } });
      assert.equal(read.status, 403);
      const login = await request(base, 'POST', '/login', { body: { token: aliceToken }, headers: { Origin: 'http://evil.example' } });
      assert.equal(login.status, 403);
      assert.equal(login.json.reason, 'cross_site');
      const logoutForm = await request(base, 'POST', '/logout', { headers: { Cookie: alice.cookie, 'Content-Type': 'application/x-www-form-urlencoded' }, body: '_csrf=wrong' });
      assert.equal(logoutForm.status, 403);
      assert.equal(await countRatings(), 0);
      // The same request from the page itself is accepted.
      const ok = await request(base, 'POST', '/api/ratings', { headers: alice.headers(), body });
      assert.equal(ok.status, 201, ok.text);
      assert.equal(ok.json.rating.rater, 'alice');
    });

    it("lets a rater change only their own ratings, even with another rater's token", async function () {
      const mine = await rate(aliceToken, { datasetId: 'ds000002', modality: 'T1w', score: 4, submissionId: submissionId('own') });
      assert.equal(mine.status, 201);
      const aliceId = mine.json.rating.id;
      const revise = await rate(bobToken, { datasetId: 'ds000002', modality: 'T1w', score: 1, submissionId: submissionId('steal'), revises: aliceId });
      assert.equal(revise.status, 403);
      assert.equal(revise.json.reason, 'not_your_rating');
      const asAlice = await rate(bobToken, { rater: 'alice', datasetId: 'ds000002', modality: 'T1w', score: 1, submissionId: submissionId('steal') });
      assert.equal(asAlice.status, 403);
      assert.equal(asAlice.json.reason, 'not_your_rating');
      const exported = JSON.parse(await exportRatings(db, { format: 'json' })).ratings.filter((r: any) => r.rater === 'alice');
      const imported = await request(base, 'POST', '/api/ratings/import', { headers: bearer(bobToken), body: { ratings: exported.map((r: any) => ({ ...r, score: 1, version: 9, submission_id: submissionId('imp') })) } });
      assert.equal(imported.status, 403);
      assert.equal(imported.json.reason, 'not_your_rating');
      const history = await request(base, 'GET', '/api/tasks/ds000002/T1w', { headers: bearer(aliceToken) });
      assert.deepEqual(
        history.json.mine.history.map((r: RatingRecord) => [r.rater, r.score, r.version]),
        [['alice', 4, 1]],
      );
      // Bob's view of the same task holds only his own (no) history.
      const bobView = await request(base, 'GET', '/api/tasks/ds000002/T1w', { headers: bearer(bobToken) });
      assert.deepEqual(bobView.json.mine, { current: null, history: [] });
    });

    it('answers only loopback Host names and name sign-in on a loopback server', async function () {
      const local = await startRatingServer({ db, assetsDir: assets, log: () => undefined });
      try {
        const rebound = await request(local.url, 'GET', '/login', { headers: { Host: 'attacker.example' } });
        assert.equal(rebound.status, 421);
        assert.equal(rebound.json.reason, 'bad_host');
        const carol = await signIn(local.url, { name: 'carol' });
        assert.equal((await request(local.url, 'GET', '/api/me', { headers: carol.headers() })).json.rater, 'carol');
        const impostor = await request(local.url, 'POST', '/login', { body: { name: 'alice' } });
        assert.equal(impostor.status, 403, 'a name with a token needs the token');
        assert.equal(impostor.json.reason, 'token_required');
      } finally {
        await local.close();
      }
      await assert.rejects(startRatingServer({ db, assetsDir: assets, host: '0.0.0.0', requireTokens: false }), (e: any) => e.reason === 'insecure_bind');
    });

    it('serves no file outside the assets folder', async function () {
      for (const p of [
        '/assets/../openmind-secret.png',
        `/assets/%2e%2e/openmind-secret-${process.pid}.png`,
        `/assets/..%2fopenmind-secret-${process.pid}.png`,
        '/assets/ds000001/missing.png',
        '/assets/%00',
      ]) {
        const reply = await request(base, 'GET', p, { headers: bearer(aliceToken) });
        assert.equal(reply.status, 404, p);
      }
    });
  });

  describe('submissions', function () {
    it('refuses a score outside 1-5 and an unknown dataset with a clear error', async function () {
      const before = await countRatings();
      for (const score of [0, 6, 2.5, '3', null, -1]) {
        const reply = await rate(bobToken, { datasetId: 'ds000001', modality: 'T1w', score, submissionId: submissionId('bad') });
        assert.equal(reply.status, 400, `score ${JSON.stringify(score)}`);
        assert.equal(reply.json.reason, 'invalid_score');
        assert.match(reply.json.error, /1 \(best\) to 5 \(worst\)/);
      }
      const unknown = await rate(bobToken, { datasetId: 'ds999999', modality: 'T1w', score: 2, submissionId: submissionId('unknown') });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json.reason, 'unknown_task');
      const artifact = await rate(bobToken, { datasetId: 'ds000001', modality: 'T1w', score: 2, artifacts: ['sparkles'], submissionId: submissionId('art') });
      assert.equal(artifact.status, 400);
      assert.equal(artifact.json.reason, 'invalid_input');
      const noKey = await rate(bobToken, { datasetId: 'ds000001', modality: 'T1w', score: 2 });
      assert.equal(noKey.status, 400);
      assert.equal(await countRatings(), before);
    });

    it('refuses a replayed submission and the same content twice, counting it once', async function () {
      const before = await countRatings();
      const hookedBefore = hooked.length;
      const body = { datasetId: 'ds000001', modality: 'T2w', score: 3, artifacts: ['noise', 'motion'], comment: 'grainy', submissionId: submissionId('dup') };
      const first = await rate(bobToken, body);
      assert.equal(first.status, 201);
      assert.equal(first.json.notified, true);
      const replay = await rate(bobToken, body);
      assert.equal(replay.status, 409);
      assert.equal(replay.json.reason, 'duplicate_submission');
      assert.equal(replay.json.ratingId, first.json.rating.id);
      const sameContent = await rate(bobToken, { ...body, artifacts: ['motion', 'noise'], submissionId: submissionId('dup2') });
      assert.equal(sameContent.status, 409);
      assert.equal(sameContent.json.reason, 'duplicate_content');
      assert.equal(await countRatings(), before + 1);
      assert.equal(hooked.length, hookedBefore + 1, 'the hook heard of the stored rating once');
      assert.deepEqual(hooked.at(-1), first.json.rating);
      assert.deepEqual(first.json.rating.imagesShown, [
        path.join(assets, 'ds000001', 'montage-T1w.png'),
        'ds000001/mosaic-1.png',
        'ds000001/mosaic-2.png',
      ]);
    });

    it('stores one rating from a concurrent double submit', async function () {
      const before = await countRatings();
      // The same click delivered five times at once (same idempotency key).
      const body = { datasetId: 'ds000001', modality: 'T1w', score: 2, submissionId: submissionId('race') };
      const same = await Promise.all(Array.from({ length: 5 }, () => rate(bobToken, body)));
      assert.deepEqual(same.map((r) => r.status).sort(), [201, 409, 409, 409, 409]);
      for (const r of same.filter((r) => r.status === 409)) assert.equal(r.json.reason, 'duplicate_submission');
      // Two tabs submitting the same revision at once, each with its own key.
      const tabs = await Promise.all(
        Array.from({ length: 4 }, (_, i) => rate(bobToken, { datasetId: 'ds000001', modality: 'T1w', score: 3, submissionId: submissionId(`tab${i}`) })),
      );
      assert.deepEqual(tabs.map((r) => r.status).sort(), [201, 409, 409, 409]);
      for (const r of tabs.filter((r) => r.status === 409)) assert.ok(['duplicate_content', 'concurrent_submission'].includes(r.json.reason), r.json.reason);
      assert.equal(await countRatings(), before + 2);
      const versions = await db.selectFrom('ratings').innerJoin('raters', 'raters.id', 'ratings.rater_id').select(['version', 'score']).where('raters.name', '=', 'bob').where('dataset_id', '=', 'ds000001').where('modality', '=', 'T1w').orderBy('version').execute();
      assert.deepEqual(versions, [
        { version: 1, score: 2 },
        { version: 2, score: 3 },
      ]);
    });

    it('keeps every version of a revised rating; the latest is current', async function () {
      const first = await rate(aliceToken, { datasetId: 'ds000001', modality: 'T2w', score: 4, comment: 'ringing?', artifacts: ['ringing'], submissionId: submissionId('rev1') });
      assert.equal(first.status, 201);
      const second = await rate(aliceToken, {
        datasetId: 'ds000001',
        modality: 'T2w',
        score: 3,
        comment: 'fine on a second look',
        submissionId: submissionId('rev2'),
        revises: first.json.rating.id,
      });
      assert.equal(second.status, 201);
      assert.equal(second.json.rating.version, 2);
      const detail = await request(base, 'GET', '/api/tasks/ds000001/T2w', { headers: bearer(aliceToken) });
      assert.deepEqual(
        detail.json.mine.history.map((r: RatingRecord) => [r.version, r.score, r.comment]),
        [
          [1, 4, 'ringing?'],
          [2, 3, 'fine on a second look'],
        ],
      );
      assert.equal(detail.json.mine.current.version, 2);
      const all = JSON.parse(await exportRatings(db, { format: 'json' })).ratings.filter((r: any) => r.rater === 'alice' && r.modality === 'T2w');
      const current = JSON.parse(await exportRatings(db, { format: 'json', current: true })).ratings.filter((r: any) => r.rater === 'alice' && r.modality === 'T2w');
      assert.equal(all.length, 2);
      assert.deepEqual(current.map((r: any) => r.score), [3]);
    });

    it('aggregates the current ratings: bob 3 and alice 3 -> 3; a 2-point gap waits for a third', async function () {
      assert.deepEqual(await aggregateTask(db, 'ds000001', 'T2w'), { status: 'final', score: 3, raters: ['bob', 'alice'], disagreement: 0 });
      // ds000001/T1w: bob 3 (current). Alice rated it 2 earlier (cross-site test) -> mean 2.5.
      assert.deepEqual(await aggregateTask(db, 'ds000001', 'T1w'), { status: 'final', score: 2.5, raters: ['alice', 'bob'], disagreement: 1 });
      // ds000002/T1w: alice 4; bob 2 -> needs a third.
      assert.equal((await rate(bobToken, { datasetId: 'ds000002', modality: 'T1w', score: 2, submissionId: submissionId('gap') })).status, 201);
      assert.equal((await aggregateTask(db, 'ds000002', 'T1w')).status, 'needs_third');
      const quality = await qualityScoreOf(db, 'ds000002', 'T1w');
      assert.equal(quality.source, 'none');
      // No human score yet: a stored prediction is reported, marked as predicted.
      for (const scan of ['a', 'b']) {
        await upsertScanIqms(db, { scanId: `ds000002:${scan}`, datasetId: 'ds000002', modality: 'T1w', result: { metrics: { efc: 0.5, snr_total: 6, qi_1: 0.01, cjv: 0.6 }, warnings: [], version: IQM_VERSION } });
      }
      await storePredictedScore(db, 'ds000002', 'T1w');
      const predicted = await qualityScoreOf(db, 'ds000002', 'T1w');
      assert.equal(predicted.source, 'predicted');
      assert.ok(predicted.score! >= 1 && predicted.score! <= 5);
      assert.deepEqual(await qualityScoreOf(db, 'ds000001', 'T1w').then((q) => [q.source, q.score]), ['raters', 2.5]);
    });

    it('gives each rater the next dataset × modality they have not rated', async function () {
      const bob = await request(base, 'GET', '/api/next', { headers: bearer(bobToken) });
      assert.equal(bob.json.task, null, 'bob rated all three');
      assert.equal(bob.json.remaining, 0);
      const dave = await addRater(db, 'dave');
      const next = await request(base, 'GET', '/api/next', { headers: bearer(dave) });
      assert.equal(next.json.task.datasetId, 'ds000001');
      assert.equal(next.json.task.modality, 'T1w');
      assert.equal(next.json.remaining, 3);
      assert.equal(next.json.task.montage.url, '/assets/ds000001/montage-T1w.png');
      assert.deepEqual(next.json.task.scans.map((s: any) => s.mosaic.url), ['/assets/ds000001/mosaic-1.png', '/assets/ds000001/mosaic-2.png']);
      assert.equal(next.json.task.scans[0].metrics.efc, 0.45);
    });
  });

  describe('commands', function () {
    it('raters add prints a token once; rate serves the tool', async function () {
      const printed: string[] = [];
      const token = await runRatersAdd(db, 'erin', { print: (t) => printed.push(t) });
      assert.match(printed.join('\n'), new RegExp(`rater erin: token ${token}`));
      await assert.rejects(runRatersAdd(db, 'erin', { print: () => undefined }), (e: any) => e.reason === 'rater_exists');
      await assert.rejects(runRatersAdd(db, '../bad', { print: () => undefined }), (e: any) => e.reason === 'invalid_name');
      const lines: string[] = [];
      const served = await runRate({ db, assetsDir: assets, port: 0, detach: true, print: (t) => lines.push(t) });
      try {
        assert.match(lines[0], /^rating tool at http:\/\/127\.0\.0\.1:\d+\//);
        const me = await request(served.url, 'GET', '/api/me', { headers: bearer(token) });
        assert.equal(me.json.rater, 'erin');
      } finally {
        await served.close();
      }
    });
  });

  describe('preparing a task from images', function () {
    it('measures each scan, draws its mosaic, then the montage, prediction and task', async function () {
      const n = 24;
      const scans = [];
      for (const sub of ['01', '02', '03']) {
        const image = path.join(assets, 'src', `sub-${sub}_T1w.nii.gz`);
        const data = Float32Array.from({ length: n ** 3 }, (_, i) => {
          const r = Math.hypot((i % n) - 11.5, (Math.floor(i / n) % n) - 11.5, Math.floor(i / n / n) - 11.5);
          return (r < 5 ? 120 : r < 9 ? 80 : 2) + ((i * 7919 * Number(sub)) % 13);
        });
        await writeNifti(image, { dims: [n, n, n], pixdim: [1, 2, 2, 2] }, data, { datatype: 'int16' });
        const scanId = `ds000003:sub-${sub}/anat/sub-${sub}_T1w`;
        const measured = await measureImageQuality({ modality: 'T1w', imagePath: image, mosaicPath: qcAssetPaths(assets, 'ds000003', 'T1w', scanId).mosaic! });
        await upsertScanIqms(db, { scanId, datasetId: 'ds000003', modality: 'T1w', result: measured });
        assert.ok(fs.existsSync(measured.mosaicPath));
        assert.ok(Number.isFinite(measured.metrics.snr_total));
        scans.push({ scanId, mosaicPath: measured.mosaicPath });
      }
      const montagePath = qcAssetPaths(assets, 'ds000003', 'T1w').montage;
      const done = await finishRatingTask(db, { datasetId: 'ds000003', modality: 'T1w', scans, montagePath, montageScans: 2 });
      assert.equal(done.chosen.length, 2);
      assert.ok(done.predicted && done.predicted.score >= 1 && done.predicted.score <= 5);
      const task = await getRatingTask(db, 'ds000003', 'T1w');
      assert.equal(task?.scans.length, 3);
      assert.ok(task!.scans.every((s) => typeof s.metrics.efc === 'number'));
      const next = await request(base, 'GET', '/api/tasks/ds000003/T1w', { headers: bearer(aliceToken) });
      assert.equal(next.json.task.montage.url, '/assets/ds000003/T1w/montage.png');
      const picture = await request(base, 'GET', next.json.task.scans[0].mosaic.url, { headers: bearer(aliceToken) });
      assert.equal(picture.status, 200);
    });
  });

  describe('export and import', function () {
    it('round-trips every version through CSV and through JSON', async function () {
      const csv = await exportRatings(db, { format: 'csv' });
      const json = await exportRatings(db, { format: 'json' });
      const rows = JSON.parse(json).ratings;
      assert.ok(rows.length >= 8, `${rows.length} ratings`);
      assert.equal(csv.trim().split('\r\n').length, rows.length + 1);
      // Commas, quotes and line breaks in comments survive CSV.
      assert.equal((await rate(aliceToken, { datasetId: 'ds000002', modality: 'T1w', score: 3, comment: 'odd, "quoted"\nsecond line', submissionId: submissionId('csv') })).status, 201);
      const csv2 = await exportRatings(db, { format: 'csv' });
      const json2 = await exportRatings(db, { format: 'json' });
      const total = await countRatings();

      for (const [format, text] of [
        ['csv', csv2],
        ['json', json2],
      ] as const) {
        await db.deleteFrom('ratings').execute();
        assert.deepEqual(await importRatings(db, text), { inserted: total, unchanged: 0 }, format);
        assert.equal(await exportRatings(db, { format: 'csv' }), csv2, `${format}: CSV export after import`);
        assert.equal(await exportRatings(db, { format: 'json' }), json2, `${format}: JSON export after import`);
        // Importing the same file again changes nothing.
        assert.deepEqual(await importRatings(db, text), { inserted: 0, unchanged: total }, `${format} again`);
      }
      assert.match(csv2, /"odd, ""quoted""\nsecond line"/);
    });

    it('refuses a conflicting import as a whole', async function () {
      const rows = JSON.parse(await exportRatings(db, { format: 'json' })).ratings;
      const before = await countRatings();
      const changed = [{ ...rows[0], submission_id: submissionId('new') }, { ...rows[1], score: rows[1].score === 5 ? 4 : 5 }];
      await assert.rejects(importRatings(db, { ratings: changed }), (e: any) => e.reason === 'import_conflict');
      assert.equal(await countRatings(), before, 'nothing of the refused import was stored');
      await assert.rejects(importRatings(db, 'not,a,ratings,file\n1,2,3,4\n'), (e: any) => e.reason === 'invalid_input');
    });

    it('exports and imports over HTTP (a rater imports only their own rows)', async function () {
      const csv = await request(base, 'GET', '/api/ratings/export?format=csv', { headers: bearer(bobToken) });
      assert.equal(csv.status, 200);
      assert.match(String(csv.headers['content-type']), /^text\/csv/);
      // A rater's export holds only their own ratings (test/rating-security.test.ts covers the rest).
      const bobId = (await db.selectFrom('raters').select('id').where('name', '=', 'bob').executeTakeFirstOrThrow()).id;
      assert.equal(csv.text, await exportRatings(db, { format: 'csv', raterId: bobId }));
      const current = await request(base, 'GET', '/api/ratings/export?format=json&current=1', { headers: bearer(bobToken) });
      const bobRows = current.json.ratings;
      assert.ok(bobRows.every((r: any) => r.rater === 'bob'));
      assert.ok(bobRows.length >= 3);
      const again = await request(base, 'POST', '/api/ratings/import', { headers: bearer(bobToken), body: { ratings: bobRows } });
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.json, { inserted: 0, unchanged: bobRows.length });
    });
  });
});
