// `openmind rate [--host h] [--port p]`: serve the two-rater web tool; `openmind raters add [--admin] [--rotate] <name>`.
import type { DB } from '../../db/database.js';
import { addRater, startRatingServer, type RatingRecord, type RatingServer } from '../../services/rating/index.js';
import { untilSignal } from '../signals.js';

export interface RateCommandOptions {
  port?: number;
  host?: string;
  db: DB;
  assetsDir: string;
  onRated?: (r: RatingRecord) => Promise<void>;
  /** Resolve once the server is up instead of waiting for SIGINT/SIGTERM (tests, embedding). */
  detach?: boolean;
  print?: (text: string) => void;
}

/**
 * Serve the rating tool. On loopback (the default) raters name themselves; with a non-loopback
 * --host they must sign in with a token from `openmind raters add`. Runs until SIGINT/SIGTERM
 * unless `detach` is set.
 */
export async function runRate(opts: RateCommandOptions): Promise<RatingServer> {
  const print = opts.print ?? ((t: string) => process.stdout.write(t + '\n'));
  const server = await startRatingServer({ db: opts.db, host: opts.host, port: opts.port ?? 8765, assetsDir: opts.assetsDir, onRated: opts.onRated });
  const loopback = !opts.host || /^(127\.|localhost$|::1$|\[::1\]$)/.test(opts.host);
  print(`rating tool at ${server.url}/  (${loopback ? 'loopback: name yourself or use a token' : 'sign in with a token from `openmind raters add <name>`'})`);
  print('keys on the rating page: 1-5 choose the score, Enter submits');
  if (opts.detach) return server;
  await untilSignal();
  await server.close();
  return server;
}

/**
 * Create a rater and print their token once (only its hash is stored). `rotate`: replace an
 * existing rater's token (sessions opened with the old one end). `admin`: the rater may also
 * export every rater's ratings (GET /api/ratings/export?all=1) with this token.
 */
export async function runRatersAdd(db: DB, name: string, opts: { rotate?: boolean; admin?: boolean; print?: (text: string) => void } = {}): Promise<string> {
  const print = opts.print ?? ((t: string) => process.stdout.write(t + '\n'));
  const token = await addRater(db, name, { rotate: opts.rotate, admin: opts.admin });
  print(`rater ${name.trim()}${opts.admin ? ' (admin)' : ''}: token ${token}`);
  print('give this token to the rater; it is not shown again (only its hash is kept)');
  if (opts.rotate) print('the old token no longer works, and sessions opened with it are ended');
  return token;
}
