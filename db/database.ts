import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import fs from 'node:fs';
import type { Database } from './schema.js';
import { staticMigrationProvider } from './migrations/index.js';
import { QueryStats } from './query-stats.js';

export type DB = Kysely<Database>;

// int8 (bigint) columns hold byte counts and ids well below 2^53: read them as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));

/** A database from a postgres:// URL, or an embedded PGlite database in `pgliteDir`. */
export async function openDatabase(opts: { url?: string; pgliteDir?: string; poolSize?: number }): Promise<DB> {
  if (opts.url) {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 });
    // An idle connection the server closes (restart, failover, a dropped test database) must not
    // crash the process: the pool replaces it, and the next query on a dead server fails normally.
    pool.on('error', (e) => console.warn(`database connection lost: ${e.message}`));
    // Benchmarks: per-statement timings to a file (see db/query-stats.ts).
    const statsFile = process.env.OPENMIND_QUERY_STATS;
    const log = statsFile ? new QueryStats(`${statsFile}.${process.pid}.json`).log : undefined;
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
  }
  if (!opts.pgliteDir) throw new Error('openDatabase: give DATABASE_URL or an embedded data folder');
  fs.mkdirSync(opts.pgliteDir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const { KyselyPGlite } = await import('kysely-pglite');
  const client = new PGlite(opts.pgliteDir, { parsers: { 20: (v: string) => Number(v) } });
  return new Kysely<Database>({ dialect: new KyselyPGlite(client).dialect });
}

export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider: staticMigrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  for (const r of results ?? []) if (r.status === 'Error') console.error(`migration ${r.migrationName} failed`);
  if (error) throw error;
}

/** Create a fresh database on a server (tests, benches). Returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
