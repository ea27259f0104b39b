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

/** Insert or update a crawl's row; fields left undefined keep their stored value. */
export async function recordCrawl(db: DB, c: { crawlId: string; status: 'running' | 'completed' | 'failed'; input?: unknown; summary?: unknown }): Promise<void> {
  await db
    .insertInto('crawls')
    .values({ id: c.crawlId, status: c.status, input: JSON.stringify(c.input ?? null), summary: c.summary === undefined ? null : JSON.stringify(c.summary) })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        status: c.status,
        ...(c.input !== undefined ? { input: JSON.stringify(c.input) } : {}),
        ...(c.summary !== undefined ? { summary: JSON.stringify(c.summary) } : {}),
        updated_at: new Date(),
      }),
    )
    .execute();
}
