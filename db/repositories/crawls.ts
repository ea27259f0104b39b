// Queries on `crawls`: one row per crawl (its input and summary). Rows are written by activities/scan-status.ts.
import type { DB } from '../database.js';
import type { Crawl } from '../tables/crawls.js';

export async function findCrawl(db: DB, crawlId: string): Promise<Crawl | undefined> {
  return db.selectFrom('crawls').selectAll().where('id', '=', crawlId).executeTakeFirst();
}

/** Every crawl (or the one named), newest first. */
export async function listCrawls(db: DB, crawlId?: string): Promise<Crawl[]> {
  return db.selectFrom('crawls').selectAll().$if(!!crawlId, (q) => q.where('id', '=', crawlId!)).orderBy('created_at', 'desc').execute();
}
