// OpenMind scale: a synthetic catalog of 800 datasets (the 135 real skeletons plus 665 replicas
// under new ids, ~122k images at the fake server's small grid), crawled through the whole graph by
// separate worker processes against a Temporal dev server and PostgreSQL. Runs a fraction of the
// catalog (default 10%: every 10th dataset), then, unless --no-chaos, the same crawl again with
// workers SIGKILLed at random, one Temporal server kill + restart and OpenNeuro faults on, and
// compares database and export with the clean run (`openmind verify`'s checker).
//
//   npm run bench -- scale [--fraction 0.1] [--no-chaos] [--intake-only] [--workers 1]
//                          [--dataset-concurrency 4] [--scan-concurrency 16] [--keep]
//                          [--temporal-db memory|file|shm]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { createDatabase, dropDatabase, migrateToLatest, openDatabase, type DB } from '../db/database.js';
import { mergeQueryStats, type QueryStat } from '../db/query-stats.js';
import { scanStatusCounts } from '../db/repositories/scans.js';
import { startDevServer, type DevServer } from '../services/temporal.js';
import { installLogger } from '../services/logging.js';
import {
  ChaosMonkey, diffPipelineStates, freePort, uiPortNear, pipelineState, ProcessSampler, startFakeOpenNeuroChild, startWorkerChild, stopChild, workflowResult, type ChildHandle,
} from './harness/simulation.js';
import { diffSnapshots, snapshotExport } from '../lib/export/verify.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';
import { workflowBundle } from '../workers/run-workers.js';
import { listCatalog } from '../services/openneuro/client.js';

const CATALOG = 800;
const REAL = 135;
const FAULTS = 'error=0.05,429=0.03,reset=0.03,truncate=0.03,html504=0.02,versioned404=0.1,retryAfter=0,seed=11';

interface RunFigures {
  summary: CrawlSummary;
  wallMs: number;
  sampler: ProcessSampler;
  db: DB;
  dbName: string;
  dataDir: string;
  address: string;
  /** Kept up after the crawl for the history figures; finish() stops it. */
  server: DevServer;
  /** The dev server's SQLite file, when it has one. */
  temporalDbFile?: string;
  queryStats: QueryStat[];
}

const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;

export default async function main(argv: string[]): Promise<void> {
  installLogger('ERROR');
  const { values: o } = parseArgs({
    args: argv,
    options: {
      fraction: { type: 'string', default: '0.1' },
      'no-chaos': { type: 'boolean', default: false },
      'intake-only': { type: 'boolean', default: false },
      workers: { type: 'string', default: '1' },
      'dataset-concurrency': { type: 'string', default: '4' },
      'scan-concurrency': { type: 'string', default: '16' },
      keep: { type: 'boolean', default: false },
      dir: { type: 'string' },
      // memory: the dev server's default; its RSS grows with every closed run it retains (~125 kB
      // each). file: SQLite under --dir (~32 kB per run), but every commit waits for the disk (half
      // the throughput here). shm: the same file on tmpfs, standing in for a database server with
      // its own disk: flat server RSS at full scale at in-memory speed.
      'temporal-db': { type: 'string', default: 'memory' },
    },
  });
  const fraction = Number(o.fraction);
  const admin = process.env.DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const root = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'openmind-bench-scale-'));
  fs.mkdirSync(root, { recursive: true });
  const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

  // Warm the workflow bundle cache once, so worker start-up (and restarts) skip webpack.
  await workflowBundle();

  const serverLog = path.join(root, 'fake-openneuro.log');
  let fake = startFakeOpenNeuroChild({ replicate: CATALOG - REAL, logFile: serverLog });
  let endpoint = await fake.ready;
  // The catalog's ids in order; the run takes every (1/fraction)-th, so replicas and real skeletons mix.
  const ids = [...(await realIds(endpoint)), ...Array.from({ length: CATALOG - REAL }, (_, i) => `ds9${String(i + 1).padStart(5, '0')}`)];
  const step = Math.max(1, Math.round(1 / fraction));
  const chosen = ids.filter((_, i) => i % step === 0);
  log(`catalog ${ids.length} datasets at ${endpoint}; this run: ${chosen.length} datasets (fraction ${fraction})`);

  const options = {
    masks: { useNetwork: false },
    intakeOnly: o['intake-only'],
    datasetConcurrency: Number(o['dataset-concurrency']),
    scanConcurrency: Number(o['scan-concurrency']),
    heartbeatSeconds: 10,
  };
  const nWorkers = Number(o.workers);
  if (!['memory', 'file', 'shm'].includes(o['temporal-db']!)) throw new Error(`--temporal-db is memory, file or shm, not ${o['temporal-db']}`);
  const temporalDb = o['temporal-db'] as 'memory' | 'file' | 'shm';

  // ---- the clean run ----
  const clean = await crawlOnce({ tag: 'clean', root, admin, endpoint, chosen, options, nWorkers, fakePid: () => fake.process.pid, log, temporalDb });
  const stateSize = clean.temporalDbFile ? ` (${mb(fs.statSync(clean.temporalDbFile).size)} at the end)` : '';
  console.log(`Temporal dev server state: ${{ memory: 'in memory', file: 'SQLite file (--db-filename)', shm: 'SQLite file on tmpfs (/dev/shm)' }[temporalDb]}${stateSize}`);
  printFigures(clean);
  const cleanHistory = await largestHistory(clean.address, log);
  console.log(`largest workflow history: ${cleanHistory.events} events (${cleanHistory.eventsId}), ${(cleanHistory.bytes / 1024).toFixed(0)} KiB (${cleanHistory.bytesId}); ${cleanHistory.over10k} histories over 10k events, ${cleanHistory.count} workflows`);
  await printSlowQueries(clean);

  let chaosDiffs: number | null = null;
  if (!o['no-chaos']) {
    await stopChild(fake);
    fake = startFakeOpenNeuroChild({ replicate: CATALOG - REAL, faults: FAULTS, logFile: serverLog });
    endpoint = await fake.ready;
    const chaos = await crawlOnce({ tag: 'chaos', root, admin, endpoint, chosen, options, nWorkers: Math.max(2, nWorkers), fakePid: () => fake.process.pid, log, chaos: true });
    const diffs = diffPipelineStates(await pipelineState(clean.db), await pipelineState(chaos.db), ['clean', 'chaos']);
    const exportDiff = diffSnapshots(await snapshotExport(path.join(clean.dataDir, 'export')), await snapshotExport(path.join(chaos.dataDir, 'export')), ['clean', 'chaos']);
    const all = [...diffs, ...exportDiff.differences];
    for (const d of all.slice(0, 20)) console.log(`  difference: ${d}`);
    chaosDiffs = all.length;
    console.log(`chaos run: ${chaos.summary.scansCompleted} scans completed, ${chaos.summary.scansFailed} failed in ${(chaos.wallMs / 1000).toFixed(0)} s`);
    console.log(`chaos checker: ${chaosDiffs} differences (database rows, hashes, ledger; export files, hashes, table rows, duplicates, orphans)`);
    await finish(chaos, admin, o.keep);
  }
  await stopChild(fake);
  await finish(clean, admin, o.keep);
  if (!o.keep) fs.rmSync(root, { recursive: true, force: true });
  const throughput = clean.summary.scansCompleted / (clean.wallMs / 1000);
  if (chaosDiffs !== null && chaosDiffs > 0) process.exitCode = 1;
  console.log(`scale: ${throughput.toFixed(1)} scans/s`);
}

async function realIds(endpoint: string): Promise<string[]> {
  // The real skeletons are the ids that are not replicas, in catalog order.
  return (await listCatalog(endpoint)).map((e) => e.datasetId).filter((id) => !id.startsWith('ds9')).sort();
}

async function crawlOnce(a: {
  tag: string;
  root: string;
  admin: string;
  endpoint: string;
  chosen: string[];
  options: Record<string, unknown>;
  nWorkers: number;
  fakePid: () => number | undefined;
  log: (s: string) => void;
  chaos?: boolean;
  temporalDb?: 'memory' | 'file' | 'shm';
}): Promise<RunFigures> {
  const dataDir = path.join(a.root, a.tag);
  fs.mkdirSync(dataDir, { recursive: true });
  const dbName = `openmind_scale_${a.tag}_${process.pid}`;
  const dbUrl = await createDatabase(a.admin, dbName);
  const db = await openDatabase({ url: dbUrl });
  await migrateToLatest(db);
  const port = await freePort();
  // The chaos run's server must survive a SIGKILL (SQLite file); the clean run keeps it in memory
  // unless told otherwise, as the dev server's default and the orchestration bench do.
  const dbFile =
    a.temporalDb === 'shm' ? path.join('/dev/shm', `openmind-scale-${a.tag}-${process.pid}`, 'temporal.db')
    : a.chaos || a.temporalDb === 'file' ? path.join(dataDir, 'temporal.db') : undefined;
  const startServer = () => startDevServer({ port, uiPort: uiPortNear(port), dbFile, logFile: path.join(dataDir, 'temporal.log') });
  let server: DevServer = await startServer();
  const address = server.address;
  const statsPrefix = path.join(dataDir, 'query-stats', 'q');
  const startWorker = (slot: number) =>
    startWorkerChild({ name: `worker-${slot}`, address, dbUrl, dataDir, env: { OPENMIND_QUERY_STATS: statsPrefix }, logFile: path.join(dataDir, `worker-${slot}.log`) });
  const workers: ChildHandle[] = Array.from({ length: a.nWorkers }, (_, i) => startWorker(i));
  await Promise.all(workers.map((w) => w.ready));

  const sampler = new ProcessSampler();
  sampler.trackPid('temporal', () => server.process?.pid);
  sampler.trackPid('fake-openneuro', a.fakePid);
  sampler.track('workers', () => workers.map((w) => w.process.pid!).filter(Boolean));
  sampler.trackComm('postgres', 'postgres');
  sampler.trackPid('bench driver', () => process.pid);
  sampler.start(2000);

  const workflowId = `crawl/scale-${a.tag}`;
  const connection = await Connection.connect({ address });
  const t0 = performance.now();
  await new Client({ connection }).workflow.start('crawl', {
    taskQueue: 'openmind-io',
    workflowId,
    args: [{ name: `scale-${a.tag}`, sources: [{ kind: 'openneuro', endpoint: a.endpoint, datasets: a.chosen }], options: a.options }],
  });
  await connection.close();

  const monkey = a.chaos
    ? new ChaosMonkey({
        workers,
        startWorker,
        lifeSeconds: [8, 40],
        serverRestartAfterKills: 3,
        seed: 17,
        log: a.log,
        restartServer: async () => {
          server.process?.kill('SIGKILL');
          await new Promise((r) => server.process?.once('exit', r));
          server = await startServer();
        },
      })
    : null;
  monkey?.start();

  // Progress from the database: scans finished (completed or failed) of those registered.
  let expected = 0;
  const progress = setInterval(async () => {
    try {
      const counts = await scanStatusCounts(db);
      const r = { all: counts.reduce((a, c) => a + c.n, 0), done: counts.filter((c) => c.status === 'completed' || c.status === 'failed').reduce((a, c) => a + c.n, 0) };
      expected = Math.max(expected, Number(r.all));
      sampler.progress = expected ? Number(r.done) / expected : 0;
      const s = (performance.now() - t0) / 1000;
      a.log(`${a.tag}: ${r.done}/${r.all} scans done, ${(Number(r.done) / s).toFixed(1)} scans/s, workers RSS ${sampler.timeline.at(-1)?.rssMb.workers ?? '?'} MB`);
    } catch {
      // The database is busy or a restart is under way; the next tick reports.
    }
  }, 30_000);
  const summary = await workflowResult<CrawlSummary>(address, workflowId, Date.now() + 24 * 3600_000);
  const wallMs = performance.now() - t0;
  clearInterval(progress);
  sampler.progress = 1;
  await monkey?.stop();
  if (monkey) a.log(`chaos: ${monkey.kills} worker kills, ${monkey.serverRestarts} server restart(s)`);
  sampler.stop();
  for (const w of workers) await stopChild(w);
  const queryStats = mergeQueryStats(
    fs.existsSync(path.dirname(statsPrefix))
      ? fs.readdirSync(path.dirname(statsPrefix)).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(path.dirname(statsPrefix), f), 'utf8')) as QueryStat[])
      : [],
  );
  return { summary, wallMs, sampler, db, dbName, dataDir, address, server, queryStats, temporalDbFile: dbFile };
}

function printFigures(r: RunFigures): void {
  const s = r.summary;
  const figures = r.sampler.figures();
  const n = s.scans || 1;
  console.log(`datasets: ${s.completed}/${s.datasets} completed; scans: ${s.scans} (${s.scansCompleted} completed, ${s.scansFailed} failed)`);
  console.log(`wall time: ${(r.wallMs / 1000).toFixed(0)} s; throughput ${(s.scansCompleted / (r.wallMs / 1000)).toFixed(2)} scans/s (${(r.wallMs / n).toFixed(1)} ms/scan wall, ${os.cpus().length} cores)`);
  for (const [name, f] of Object.entries(figures)) {
    console.log(`  ${name.padEnd(15)} peak RSS ${mb(f.peakRssBytes).padStart(8)} (largest of ${f.processes} process${f.processes === 1 ? '' : 'es'}); CPU ${(f.cpuMs / 1000).toFixed(0)} s = ${(f.cpuMs / n).toFixed(1)} ms/scan`);
  }
  const q = r.queryStats.reduce((acc, x) => ({ count: acc.count + x.count, ms: acc.ms + x.totalMs }), { count: 0, ms: 0 });
  console.log(`overhead per scan: Temporal server ${(figures.temporal.cpuMs / n).toFixed(1)} ms CPU; PostgreSQL ${(figures.postgres.cpuMs / n).toFixed(1)} ms CPU, ${(q.count / n).toFixed(1)} queries taking ${(q.ms / n).toFixed(1)} ms (client-side)`);
  const fr = [0.1, 0.25, 0.5, 0.75, 1];
  const rss = r.sampler.rssAt('workers', fr);
  console.log(`worker RSS over the run (at ${fr.map((f) => `${f * 100}%`).join(', ')}): ${rss.map((v) => (v === null ? '?' : `${v} MB`)).join(', ')}`);
  const tRss = r.sampler.rssAt('temporal', fr);
  console.log(`Temporal server RSS over the run: ${tRss.map((v) => (v === null ? '?' : `${v} MB`)).join(', ')}`);
}

async function largestHistory(address: string, log: (s: string) => void) {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const out = { events: 0, eventsId: '', bytes: 0, bytesId: '', over10k: 0, count: 0 };
  try {
    for await (const wf of client.workflow.list()) {
      out.count++;
      if (wf.historyLength > out.events) [out.events, out.eventsId] = [wf.historyLength, wf.workflowId];
      if ((wf.historySize ?? 0) > out.bytes) [out.bytes, out.bytesId] = [wf.historySize ?? 0, wf.workflowId];
      if (wf.historyLength > 10_000) out.over10k++;
    }
  } catch (e) {
    log(`listing workflows failed: ${(e as Error).message}`);
  } finally {
    await connection.close();
  }
  return out;
}

async function printSlowQueries(r: RunFigures): Promise<void> {
  await sql`analyze`.execute(r.db);
  const size = await sql<{ size: string }>`select pg_size_pretty(pg_database_size(current_database())) as size`.execute(r.db);
  const tables = await sql<{ name: string; size: string; rows: number }>`
    select c.relname as name, pg_size_pretty(pg_total_relation_size(c.oid)) as size, c.reltuples::bigint as rows
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r' order by pg_total_relation_size(c.oid) desc limit 6`.execute(r.db);
  console.log(`database size: ${size.rows[0].size} (${tables.rows.map((t) => `${t.name} ${t.size}, ~${t.rows} rows`).join('; ')})`);
  console.log('slowest statements (total client-side time), with plans for their slowest call:');
  for (const q of r.queryStats.slice(0, 5)) {
    console.log(`  ${q.totalMs.toFixed(0)} ms total, ${q.count} calls, mean ${(q.totalMs / q.count).toFixed(2)} ms, max ${q.maxMs.toFixed(1)} ms: ${q.sql.replace(/\s+/g, ' ').slice(0, 160)}`);
    try {
      // EXPLAIN ANALYZE runs the statement: inside a transaction that is rolled back, so writes leave no trace.
      const plan = await r.db.connection().execute(async (conn) => {
        await sql`begin`.execute(conn);
        try {
          const res = await conn.executeQuery<{ 'QUERY PLAN': string }>({ sql: `explain (analyze, costs off, timing off, summary off) ${q.sql}`, parameters: q.params, query: { kind: 'RawNode' } as any, queryId: { queryId: 'explain' } as any });
          return res.rows.map((row) => row['QUERY PLAN']);
        } finally {
          await sql`rollback`.execute(conn);
        }
      });
      for (const line of plan.slice(0, 8)) console.log(`      ${line}`);
    } catch (e) {
      console.log(`      (no plan: ${(e as Error).message.split('\n')[0]})`);
    }
  }
}

async function finish(r: RunFigures, admin: string, keep?: boolean): Promise<void> {
  await r.server.stop();
  // A tmpfs file is memory: never leave it behind.
  if (r.temporalDbFile?.startsWith('/dev/shm/')) fs.rmSync(path.dirname(r.temporalDbFile), { recursive: true, force: true });
  await r.db.destroy();
  if (!keep) await dropDatabase(admin, r.dbName).catch(() => undefined);
}
