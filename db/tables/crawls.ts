import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Json } from './json.js';
import type { Timestamps } from './common.js';

/** One crawl: a named list of dataset sources, run as workflow `crawl/<id>`. */
export interface CrawlsTable extends Timestamps {
  id: string;
  status: 'running' | 'completed' | 'failed';
  input: Json;
  summary: Json | null;
}
export type Crawl = Selectable<CrawlsTable>;
export type NewCrawl = Insertable<CrawlsTable>;
export type CrawlUpdate = Updateable<CrawlsTable>;
