// The rating tool's security review (issue #18, items 6-8) over real HTTP against a real
// PostgreSQL: backdated imports cannot move a final score, raters export only their own ratings
// (every rater's needs an admin token), CSV cells cannot start a formula, a rotated token ends its
// sessions, and deep or out-of-range JSON bodies are a 400, never a 500.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { dropDatabase, type DB } from '../db/database.js';
import { runRatersAdd } from '../cli/commands/rate.js';
import { parseCsv, parseCsvRows } from '../lib/csv.js';
import {
  addRater,
  aggregateTask,
  currentRatings,
  listRaters,
  neutraliseCsvText,
  registerRatingTask,
  restoreCsvText,
  startRatingServer,
  type RatingRecord,
  type RatingServer,
} from '../services/rating/index.js';
import { ADMIN_DB_URL, countRatings as countDbRatings, freshDatabase, pngAssets, request, signIn } from './helpers/http.js';


let counter = 0;
const submissionId = (label: string) => `sec-${label}-${process.pid}-${++counter}`;

describe('rating tool security (issue #18)', function () {
  this.timeout(60_000);
  const dbName = `openmind_rating_security_${process.pid}`;
  let db: DB;
  let assets: string;
  let server: RatingServer;
  let base: string;
  const tokens: Record<string, string> = {};
  const hooked: RatingRecord[] = [];

  const bearer = (token: string, extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${token}`, ...extra });
  const rate = (who: string, body: Record<string, unknown>) => request(base, 'POST', '/api/ratings', { headers: bearer(tokens[who]), body });
  const importAs = (who: string, body: unknown, headers: Record<string, string> = {}) =>
    request(base, 'POST', '/api/ratings/import', { headers: bearer(tokens[who], headers), body });
  const exportAs = (who: string, query: string) => request(base, 'GET', `/api/ratings/export${query}`, { headers: bearer(tokens[who]) });
  const countRatings = () => countDbRatings(db);

  before(async function () {
    db = await freshDatabase(dbName);
    assets = pngAssets('openmind-rating-sec-', ['ds000001', 'ds000002'], ['montage.png', 'mosaic-1.png']);
    for (const [datasetId, modality] of [
      ['ds000001', 'T1w'],
      ['ds000001', 'T2w'],
      ['ds000002', 'T1w'],
    ]) {
      await registerRatingTask(db, {
        datasetId,
        modality,
        montagePath: `${datasetId}/montage.png`,
        scans: [{ scanId: `${datasetId}:sub-01_${modality}`, mosaicPath: `${datasetId}/mosaic-1.png`, metrics: { efc: 0.5 } }],
      });
    }
    for (const name of ['alice', 'bob', 'carol']) tokens[name] = await addRater(db, name);
    tokens.root = await addRater(db, 'root', { admin: true });
    server = await startRatingServer({ db, port: 0, requireTokens: true, assetsDir: assets, onRated: async (r) => void hooked.push(r), log: () => undefined });
    base = server.url;
  });

  after(async function () {
    await server?.close();
    await db?.destroy();
    await dropDatabase(ADMIN_DB_URL, dbName).catch(() => undefined);
    fs.rmSync(assets, { recursive: true, force: true });
  });

  describe('6. imports are corrections, stored at server time', function () {
    it('a backdated import by a third rater cannot change a final score', async function () {
      assert.equal((await rate('alice', { datasetId: 'ds000001', modality: 'T1w', score: 1, submissionId: submissionId('a') })).status, 201);
      assert.equal((await rate('bob', { datasetId: 'ds000001', modality: 'T1w', score: 2, submissionId: submissionId('b') })).status, 201);
      assert.deepEqual(await aggregateTask(db, 'ds000001', 'T1w'), { status: 'final', score: 1.5, raters: ['alice', 'bob'], disagreement: 1 });

      const before = Date.now();
      const sid = submissionId('backdated');
      const reply = await importAs('carol', {
        ratings: [{ submission_id: sid, rater: 'carol', dataset_id: 'ds000001', modality: 'T1w', version: 7, score: 3, source: 'web', created_at: '1999-01-01T00:00:00.000Z' }],
      });
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json.inserted, 1);
      // Before the fix carol counted as first (1999) and the final 1.5 became 2.
      assert.deepEqual(await aggregateTask(db, 'ds000001', 'T1w'), { status: 'final', score: 1.5, raters: ['alice', 'bob'], disagreement: 1 });
      const stored = await db.selectFrom('ratings').selectAll().where('submission_id', '=', sid).executeTakeFirstOrThrow();
      assert.equal(stored.source, 'import');
      assert.equal(stored.version, 1, 'the server sets the version (carol had none)');
      const at = new Date(stored.created_at).getTime();
      assert.ok(at >= before - 5_000 && at <= Date.now() + 5_000, `stored at server time, not 1999: ${new Date(stored.created_at).toISOString()}`);
      assert.deepEqual(
        (await currentRatings(db, 'ds000001', 'T1w')).map((r) => r.rater),
        ['alice', 'bob', 'carol'],
      );
      assert.ok(hooked.some((r) => r.submissionId === sid && r.source === 'import'), 'the import woke the rating hook');
    });

    it("a rater's own backdated import is a revision: next version, server time, place kept", async function () {
      const [aliceFirst] = (await currentRatings(db, 'ds000001', 'T1w')).filter((r) => r.rater === 'alice');
      const sid = submissionId('fix');
      const reply = await importAs('alice', [{ submission_id: sid, rater: 'alice', dataset_id: 'ds000001', modality: 'T1w', version: 1, score: 2, created_at: '1999-01-01T00:00:00Z' }]);
      assert.equal(reply.status, 200, reply.text);
      assert.deepEqual(reply.json, { inserted: 1, unchanged: 0 });
      const stored = await db.selectFrom('ratings').selectAll().where('submission_id', '=', sid).executeTakeFirstOrThrow();
      assert.equal(stored.version, 2);
      assert.equal(stored.source, 'import');
      assert.ok(new Date(stored.created_at).getTime() > Date.parse('2020-01-01'));
      const [aliceNow] = (await currentRatings(db, 'ds000001', 'T1w')).filter((r) => r.rater === 'alice');
      assert.equal(aliceNow.firstRatedAt, aliceFirst.firstRatedAt, 'an import never makes a rater earlier');
      // The score moves by the rule only: alice's corrected 2 and bob's 2.
      assert.deepEqual(await aggregateTask(db, 'ds000001', 'T1w'), { status: 'final', score: 2, raters: ['alice', 'bob'], disagreement: 0 });
      // The same file again changes nothing.
      assert.deepEqual((await importAs('alice', [{ submission_id: sid, rater: 'alice', dataset_id: 'ds000001', modality: 'T1w', score: 2 }])).json, { inserted: 0, unchanged: 1 });
    });

    it("never stores a row for another rater, nor reuses another rating's submission id", async function () {
      const n = await countRatings();
      const other = await importAs('carol', [{ submission_id: submissionId('x'), rater: 'alice', dataset_id: 'ds000001', modality: 'T1w', score: 5 }]);
      assert.equal(other.status, 403);
      assert.equal(other.json.reason, 'not_your_rating');
      const bobsId = (await db.selectFrom('ratings').innerJoin('raters', 'raters.id', 'ratings.rater_id').select('submission_id').where('raters.name', '=', 'bob').executeTakeFirstOrThrow()).submission_id;
      const reused = await importAs('carol', [{ submission_id: bobsId, dataset_id: 'ds000001', modality: 'T1w', score: 5 }]);
      assert.equal(reused.status, 409);
      assert.equal(reused.json.reason, 'import_conflict');
      assert.equal(await countRatings(), n);
      assert.deepEqual(await aggregateTask(db, 'ds000001', 'T1w'), { status: 'final', score: 2, raters: ['alice', 'bob'], disagreement: 0 });
    });
  });

  describe("7. raters see only their own ratings; every rater's needs an admin token", function () {
    it("a rater's export (JSON and CSV) holds only their ratings", async function () {
      for (const who of ['alice', 'bob', 'carol']) {
        const json = await exportAs(who, '?format=json');
        assert.equal(json.status, 200, json.text);
        assert.ok(json.json.ratings.length >= 1);
        assert.deepEqual([...new Set(json.json.ratings.map((r: any) => r.rater))], [who]);
        const csv = await exportAs(who, '?format=csv&current=1');
        assert.equal(csv.status, 200);
        assert.deepEqual([...new Set(parseCsv(csv.text).map((r) => r.rater))], [who]);
      }
      assert.ok(!(await exportAs('bob', '?format=json')).text.includes('alice'));
    });

    it('the all-ratings export needs an admin token: 401 without sign-in, 403 for a rater', async function () {
      const anonymous = await request(base, 'GET', '/api/ratings/export?all=1');
      assert.equal(anonymous.status, 401);
      const forged = await request(base, 'GET', '/api/ratings/export?all=1', { headers: bearer('om_not-a-real-token-at-all-xxxxxxxx') });
      assert.equal(forged.status, 401);
      for (const who of ['alice', 'bob']) {
        const refused = await exportAs(who, '?all=1&format=csv');
        assert.equal(refused.status, 403);
        assert.equal(refused.json.reason, 'admin_required');
        assert.match(refused.json.error, /admin/);
      }
      const admin = await exportAs('root', '?all=1&format=json');
      assert.equal(admin.status, 200, admin.text);
      assert.deepEqual([...new Set(admin.json.ratings.map((r: any) => r.rater))].sort(), ['alice', 'bob', 'carol']);
      assert.equal(admin.json.ratings.length, await countRatings());
      // A session opened with the admin token may too; without ?all the admin sees their own (none).
      const session = await signIn(base, { token: tokens.root });
      const viaSession = await request(base, 'GET', '/api/ratings/export?all=1&format=csv', { headers: session.headers() });
      assert.equal(viaSession.status, 200);
      assert.equal(parseCsv(viaSession.text).length, await countRatings());
      assert.deepEqual((await exportAs('root', '?format=json')).json.ratings, []);
      assert.deepEqual(
        (await listRaters(db)).filter((r) => r.isAdmin).map((r) => r.name),
        ['root'],
      );
    });

    it('raters add --admin prints an admin token that exports all', async function () {
      const printed: string[] = [];
      const token = await runRatersAdd(db, 'auditor', { admin: true, print: (t) => printed.push(t) });
      assert.match(printed[0], /^rater auditor \(admin\): token om_/);
      assert.equal((await request(base, 'GET', '/api/ratings/export?all=1', { headers: bearer(token) })).status, 200);
      // Rotating keeps the admin an admin; --rotate --admin makes an existing rater one.
      const rotated = await runRatersAdd(db, 'auditor', { rotate: true, print: () => undefined });
      assert.equal((await request(base, 'GET', '/api/ratings/export?all=1', { headers: bearer(rotated) })).status, 200);
      tokens.carol = await runRatersAdd(db, 'carol', { rotate: true, admin: true, print: () => undefined });
      assert.equal((await exportAs('carol', '?all=1')).status, 200);
    });
  });

  describe('8a. CSV export cells cannot start a formula', function () {
    it('neutralises text cells starting with = + - @ (and round-trips them)', async function () {
      const comments = ['=HYPERLINK("http://evil.example","click")', '+1+1', '-2 slices moved', '@SUM(A1:A9)'];
      const tasks = [
        ['ds000001', 'T2w'],
        ['ds000002', 'T1w'],
      ];
      let i = 0;
      for (const comment of comments) {
        const [datasetId, modality] = tasks[i++ % 2];
        const sid = i === 1 ? `-cmd-${process.pid}-formula` : submissionId('f');
        const reply = await rate('bob', { datasetId, modality, score: 1 + (i % 5), comment, submissionId: sid });
        assert.equal(reply.status, 201, reply.text);
      }
      const csv = await exportAs('bob', '?format=csv');
      const rows = parseCsvRows(csv.text);
      for (const row of rows) for (const cell of row) assert.doesNotMatch(cell, /^[=+\-@\t\r]/, `cell ${JSON.stringify(cell)}`);
      const cells = rows.flat();
      for (const c of comments) assert.ok(cells.includes(`'${c}`), `${c} is exported as '${c}`);
      assert.ok(cells.includes(`'-cmd-${process.pid}-formula`), 'a submission id starting with - is neutralised too');
      // Numbers stay numbers.
      const header = rows[0];
      for (const row of rows.slice(1)) assert.match(row[header.indexOf('score')], /^[1-5]$/);
      // Importing one's own CSV export restores the cells: nothing changes.
      const again = await request(base, 'POST', '/api/ratings/import', { headers: bearer(tokens.bob, { 'Content-Type': 'text/csv' }), body: csv.text });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.json.inserted, 0);
      // The JSON export keeps the text as rated.
      const json = await exportAs('bob', '?format=json');
      assert.deepEqual(
        json.json.ratings.filter((r: any) => comments.includes(r.comment)).length,
        comments.length,
      );
    });

    it('undoes the neutralising exactly', function () {
      for (const text of ['=1', "'=1", "''=1", "'plain", 'plain', '-', '\tx', "'\tx", ' =x', '', "'"]) {
        assert.equal(restoreCsvText(neutraliseCsvText(text)), text, JSON.stringify(text));
      }
      assert.equal(neutraliseCsvText('plain'), 'plain');
      assert.equal(neutraliseCsvText("'plain"), "'plain");
      assert.equal(neutraliseCsvText('@x'), "'@x");
    });
  });

  describe('8b. a rotated token ends its sessions', function () {
    it('a session opened with the old token gets 401 after the rotation', async function () {
      const old = tokens.alice;
      const session = await signIn(base, { token: old });
      assert.equal((await request(base, 'GET', '/api/me', { headers: session.headers() })).status, 200);
      tokens.alice = await runRatersAdd(db, 'alice', { rotate: true, print: () => undefined });
      const after = await request(base, 'GET', '/api/me', { headers: session.headers() });
      assert.equal(after.status, 401);
      assert.equal(after.json.reason, 'unauthenticated');
      const write = await request(base, 'POST', '/api/ratings', { headers: session.headers(), body: { datasetId: 'ds000002', modality: 'T1w', score: 2, submissionId: submissionId('stale') } });
      assert.equal(write.status, 401);
      assert.equal((await request(base, 'GET', '/api/me', { headers: session.headers() })).status, 401, 'and stays ended');
      assert.equal((await request(base, 'GET', '/api/me', { headers: bearer(old) })).status, 401);
      const fresh = await signIn(base, { token: tokens.alice });
      assert.equal((await request(base, 'GET', '/api/me', { headers: fresh.headers() })).json.rater, 'alice');
    });

    it('a loopback name session ends once the rater is given a token', async function () {
      const loopback = await startRatingServer({ db, port: 0, assetsDir: assets, log: () => undefined });
      try {
        const session = await signIn(loopback.url, { name: 'dora' });
        assert.equal((await request(loopback.url, 'GET', '/api/me', { headers: session.headers() })).status, 200);
        await addRater(db, 'dora');
        assert.equal((await request(loopback.url, 'GET', '/api/me', { headers: session.headers() })).status, 401);
      } finally {
        await loopback.close();
      }
    });
  });

  describe('8c. bad bodies are a 400, not a 500', function () {
    it('refuses a 100,000-deep JSON body with a clear 400', async function () {
      const deepList = '['.repeat(100_000) + ']'.repeat(100_000);
      const deepObject = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
      const deepInside = JSON.stringify({ datasetId: 'ds000001', modality: 'T2w', score: 2, submissionId: submissionId('deep') }).replace(/}$/, `,"artifacts":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
      const cases: [string, string, Record<string, string>][] = [
        ['/api/ratings', deepObject, {}],
        ['/api/ratings', deepInside, {}],
        ['/api/ratings/import', deepList, {}],
        ['/api/ratings/import', JSON.stringify({ ratings: [] }).replace('[]', deepList), { 'Content-Type': 'text/plain' }],
        ['/login', deepObject, { Origin: base }],
      ];
      for (const [p, body, headers] of cases) {
        const reply = await request(base, 'POST', p, { headers: p === '/login' ? headers : bearer(tokens.bob, headers), body });
        assert.equal(reply.status, 400, `${p}: ${reply.text}`);
        assert.equal(reply.json.reason, 'invalid_input');
        assert.match(reply.json.error, /nested deeper than \d+ levels/);
      }
      assert.equal((await request(base, 'GET', '/healthz')).status, 200);
    });

    it('refuses revises: 1e20 and other out-of-range numbers with a 400', async function () {
      const n = await countRatings();
      const body = (extra: Record<string, unknown>) => ({ datasetId: 'ds000001', modality: 'T2w', score: 2, submissionId: submissionId('num'), ...extra });
      const cases: [string, Record<string, unknown>, string][] = [
        ['revises 1e20', { revises: 1e20 }, 'revises'],
        ['revises -1', { revises: -1 }, 'revises'],
        ['revises 1.5', { revises: 1.5 }, 'revises'],
        ['revises text', { revises: 'abc' }, 'revises'],
        ['revises list', { revises: [1] }, 'revises'],
        ['score 1e20', { score: 1e20 }, 'score'],
        ['datasetId object', { datasetId: { $gt: '' } }, 'datasetId'],
        ['imagesShown numbers', { imagesShown: [1, 2] }, 'imagesShown'],
      ];
      for (const [what, extra, field] of cases) {
        const reply = await rate('bob', body(extra));
        assert.equal(reply.status, 400, `${what}: ${reply.text}`);
        assert.match(reply.json.reason, /^invalid_/, what);
        assert.match(reply.json.error, new RegExp(field), what);
      }
      // The raw text, as a client could send it.
      const raw = await request(base, 'POST', '/api/ratings', {
        headers: bearer(tokens.bob),
        body: `{"datasetId":"ds000001","modality":"T2w","score":2,"submissionId":"${submissionId('raw')}","revises":1e20}`,
      });
      assert.equal(raw.status, 400, raw.text);
      assert.match(raw.json.error, /revises must be an integer from 1 to/);
      const badRow = await importAs('bob', [{ submission_id: submissionId('r'), dataset_id: 'ds000001', modality: 'T2w', score: 1e20 }]);
      assert.equal(badRow.status, 400);
      assert.match(badRow.json.error, /^row 1: score/);
      assert.equal(await countRatings(), n);
    });
  });
});
