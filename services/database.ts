// The application database: DATABASE_URL, else an embedded PGlite in the data folder. Migrated on open.
import { openDatabase, migrateToLatest, type DB } from '../db/database.js';
import { dataPaths, type Config } from './config.js';

export async function openAppDatabase(config: Config): Promise<DB> {
  const db = await openDatabase({ url: config.databaseUrl, pgliteDir: dataPaths(config.dataDir).pglite });
  await migrateToLatest(db);
  return db;
}
