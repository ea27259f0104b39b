import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';
import type { Json } from './json.js';

/** One crawl: a named list of dataset sources, run as workflow `crawl/<id>`. */
export interface CrawlsTable {
  id: string;
  status: 'running' | 'completed' | 'failed';
  input: Json;
  summary: Json | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
export type Crawl = Selectable<CrawlsTable>;
export type NewCrawl = Insertable<CrawlsTable>;
export type CrawlUpdate = Updateable<CrawlsTable>;
