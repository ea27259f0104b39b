// Per-statement timing for benchmarks: kysely's `log` hook aggregates count, total and max time
// by SQL text and keeps one parameter set per statement, so the slowest can be EXPLAINed later.
// Enabled in a process by OPENMIND_QUERY_STATS=<file>; the file is rewritten every few seconds,
// so a worker killed by SIGKILL still leaves its figures behind.
import fs from 'node:fs';
import path from 'node:path';
import type { LogEvent } from 'kysely';

export interface QueryStat {
  sql: string;
  count: number;
  totalMs: number;
  maxMs: number;
  /** Parameters of the slowest call. */
  params: unknown[];
}

export class QueryStats {
  private readonly stats = new Map<string, QueryStat>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly file?: string) {
    if (file) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      this.timer = setInterval(() => this.flush(), 5000);
      this.timer.unref();
      process.once('beforeExit', () => this.flush());
    }
  }

  readonly log = (event: LogEvent): void => {
    if (event.level !== 'query') return;
    const sql = event.query.sql;
    let s = this.stats.get(sql);
    if (!s) this.stats.set(sql, (s = { sql, count: 0, totalMs: 0, maxMs: 0, params: [] }));
    s.count++;
    s.totalMs += event.queryDurationMillis;
    if (event.queryDurationMillis >= s.maxMs) {
      s.maxMs = event.queryDurationMillis;
      s.params = [...event.query.parameters];
    }
  };

  all(): QueryStat[] {
    return [...this.stats.values()];
  }

  flush(): void {
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.all()));
    fs.renameSync(tmp, this.file);
  }
}

/** Merge the per-process files into one list, slowest total first. */
export function mergeQueryStats(lists: QueryStat[][]): QueryStat[] {
  const merged = new Map<string, QueryStat>();
  for (const list of lists)
    for (const s of list) {
      const m = merged.get(s.sql);
      if (!m) merged.set(s.sql, { ...s });
      else {
        m.count += s.count;
        m.totalMs += s.totalMs;
        if (s.maxMs > m.maxMs) [m.maxMs, m.params] = [s.maxMs, s.params];
      }
    }
  return [...merged.values()].sort((a, b) => b.totalMs - a.totalMs);
}
