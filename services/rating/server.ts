// The two-rater web tool: a plain node:http server. Raters sign in (by name on loopback, by token
// otherwise), get the next dataset × modality they have not rated, see its montage, metrics and
// mosaics, and submit a 1-5 score with an artifact checklist. Every request but the sign-in page
// and static code needs a session or a bearer token; cookie-authenticated writes need the
// session's CSRF token and a same-origin browser context.
import fs from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { DB } from '../../db/database.js';
import {
  bearerTokenOf,
  checkHost,
  checkSameOrigin,
  clearedCookieHeader,
  cookieHeader,
  cookieOf,
  isLoopbackHost,
  sameSecret,
  SESSION_COOKIE,
  SessionStore,
  type Session,
} from './auth.js';
import { RatingError } from '../../lib/rating/errors.js';
import { JsonDepthGuard } from '../../lib/rating/json.js';
import { APP_CSS, APP_JS, loginPage, ratingPage } from './pages.js';
import {
  exportRatings,
  getRatingTask,
  importRatings,
  namedRater,
  nextTaskFor,
  ratingHistory,
  raterByToken,
  raterOfSession,
  submitRating,
  tasksForRater,
} from './ratings.js';
import type { RatingRecord, RatingTaskInput } from '../../lib/rating/ratings.js';

export interface RatingServerOptions {
  db: DB;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Sign-in by token only. Default: true unless the host is a loopback address; cannot be false off loopback. */
  requireTokens?: boolean;
  /** Folder the montages and mosaics live in; nothing outside it is served. */
  assetsDir: string;
  /** Called after each stored rating (e.g. to signal a workflow). Must be idempotent; a failure is logged, the rating stays. */
  onRated?: (r: RatingRecord) => Promise<void>;
  /** The origin browsers see (e.g. https://qc.example.org behind a TLS proxy); default http://<Host>. */
  publicOrigin?: string;
  log?: (line: string) => void;
}

export interface RatingServer {
  url: string;
  close(): Promise<void>;
}

const SMALL_BODY = 64 * 1024;
const IMPORT_BODY = 8 * 1024 * 1024;
/** How much of a refused body is read and dropped before the connection is cut instead. */
const DRAIN_LIMIT = 16 * 1024 * 1024;

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts.
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

interface Caller {
  raterId: number;
  rater: string;
  /** May export every rater's ratings (`openmind raters add --admin`). */
  isAdmin: boolean;
  session: Session | null;
}

function send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), 'application/json; charset=utf-8', extra);
}

function sendError(res: ServerResponse, err: RatingError): void {
  sendJson(res, err.status, { error: err.message, reason: err.reason, ...(err.details ?? {}) });
}

function redirect(res: ServerResponse, location: string, extra: Record<string, string> = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, Location: location, 'Content-Length': 0, ...extra });
  res.end();
}

/**
 * The body as text, refused past `limit` bytes. `json`: 'yes' when the body is JSON, 'sniff' when
 * it is JSON if it starts with [ or { (the import takes CSV too): its nesting depth is checked as
 * it arrives, so a deep body is a 400 before it is parsed (or fully read).
 */
function readBody(req: IncomingMessage, limit: number, json: 'yes' | 'sniff' | 'no' = 'no'): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let guard: JsonDepthGuard | null = json === 'yes' ? new JsonDepthGuard() : null;
    let sniffing = json === 'sniff';
    let refused = false;
    let drained = 0;
    const refuse = (err: unknown) => {
      refused = true;
      chunks.length = 0;
      reject(err);
    };
    req.on('data', (bytes: Buffer) => {
      // A refused body is read to its end and dropped (the answer goes out at once), so the
      // connection stays usable; past DRAIN_LIMIT the connection is cut instead.
      if (refused) {
        drained += bytes.length;
        if (drained > DRAIN_LIMIT) req.socket.destroy();
        return;
      }
      try {
        if (sniffing) {
          const first = bytes.findIndex((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0xef && b !== 0xbb && b !== 0xbf);
          if (first >= 0) {
            sniffing = false;
            if (bytes[first] === 0x5b || bytes[first] === 0x7b) guard = new JsonDepthGuard();
          }
        }
        guard?.feed(bytes);
        size += bytes.length;
        if (size > limit) throw new RatingError('payload_too_large', `request body is larger than ${limit} bytes`);
        chunks.push(bytes);
      } catch (err) {
        refuse(err);
      }
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!refused) refuse(err);
    });
    req.on('close', () => {
      if (!refused && !req.complete) refuse(new RatingError('invalid_input', 'the request body was cut short'));
    });
  });
}

function isJson(req: IncomingMessage): boolean {
  return /^application\/json\b/i.test(req.headers['content-type'] ?? '');
}

/** A form or JSON body as a flat record of strings (JSON values kept as they are). */
async function readFields(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req, SMALL_BODY, isJson(req) ? 'yes' : 'no');
  if (isJson(req)) {
    try {
      const parsed = JSON.parse(text || '{}');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
    } catch {
      /* fall through */
    }
    throw new RatingError('invalid_input', 'the body is not a JSON object');
  }
  return Object.fromEntries(new URLSearchParams(text));
}

/** Where a stored picture path is served from, or null when it lies outside the assets folder. */
function assetUrl(assetsDir: string, stored: string): string | null {
  if (!stored) return null;
  const rel = path.relative(assetsDir, path.resolve(assetsDir, stored));
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return '/assets/' + rel.split(path.sep).map(encodeURIComponent).join('/');
}

function taskView(assetsDir: string, task: RatingTaskInput) {
  return {
    datasetId: task.datasetId,
    modality: task.modality,
    montage: { path: task.montagePath, url: assetUrl(assetsDir, task.montagePath) },
    scans: task.scans.map((s) => ({ scanId: s.scanId, metrics: s.metrics, mosaic: { path: s.mosaicPath, url: assetUrl(assetsDir, s.mosaicPath) } })),
  };
}

export async function startRatingServer(opts: RatingServerOptions): Promise<RatingServer> {
  const host = opts.host ?? '127.0.0.1';
  const loopback = isLoopbackHost(host);
  const requireTokens = opts.requireTokens ?? !loopback;
  if (!loopback && !requireTokens) throw new RatingError('insecure_bind', `serving on ${host} needs tokens: raters would be unauthenticated`);
  const assetsDir = path.resolve(opts.assetsDir);
  const sessions = new SessionStore();
  const secureCookies = opts.publicOrigin?.startsWith('https://') ?? false;
  const log = opts.log ?? ((line: string) => console.error(line));
  const { db } = opts;

  /**
   * The signed-in rater: a bearer token, else the session cookie. Null when neither is valid. A
   * session is good only while its rater's token is the one it was opened with: rotating a token
   * (`openmind raters add --rotate`, in any process) ends the sessions opened with the old one.
   */
  async function identify(req: IncomingMessage): Promise<Caller | null> {
    const bearer = bearerTokenOf(req);
    if (bearer !== undefined) {
      const rater = await raterByToken(db, bearer);
      if (!rater) throw new RatingError('invalid_token', 'the token is not valid');
      return { raterId: rater.id, rater: rater.name, isAdmin: rater.is_admin, session: null };
    }
    const session = sessions.get(cookieOf(req, SESSION_COOKIE));
    if (!session) return null;
    const rater = await raterOfSession(db, session.raterId, session.tokenHash);
    if (!rater) {
      sessions.delete(session.id);
      return null;
    }
    return { raterId: rater.id, rater: rater.name, isAdmin: rater.is_admin && session.tokenHash !== null, session };
  }

  /** Writes through a browser session need this session's CSRF token (header or form field). */
  function checkCsrf(req: IncomingMessage, caller: Caller, formToken?: unknown): void {
    if (!caller.session) return;
    const header = req.headers['x-csrf-token'];
    const given = typeof header === 'string' ? header : typeof formToken === 'string' ? formToken : undefined;
    if (!sameSecret(given, caller.session.csrfToken)) throw new RatingError('csrf', 'missing or wrong CSRF token: reload the page');
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkSameOrigin(req, opts.publicOrigin);
    const fields = await readFields(req);
    const wantsJson = isJson(req);
    try {
      const token = typeof fields.token === 'string' ? fields.token.trim() : '';
      const name = typeof fields.name === 'string' ? fields.name.trim() : '';
      let rater;
      if (token) {
        rater = await raterByToken(db, token);
        if (!rater) throw new RatingError('invalid_token', 'the token is not valid');
      } else if (name) {
        if (requireTokens) throw new RatingError('token_required', 'this server needs a token to sign in');
        rater = await namedRater(db, name);
      } else {
        throw new RatingError(requireTokens ? 'token_required' : 'invalid_input', requireTokens ? 'give your token' : 'give your name or your token');
      }
      const session = sessions.create(rater.id, rater.name, token ? rater.token_hash : null);
      if (wantsJson) sendJson(res, 200, { rater: rater.name, csrfToken: session.csrfToken }, { 'Set-Cookie': cookieHeader(session, secureCookies) });
      else redirect(res, '/', { 'Set-Cookie': cookieHeader(session, secureCookies) });
    } catch (err) {
      if (!(err instanceof RatingError) || wantsJson) throw err;
      send(res, err.status, loginPage({ allowNames: !requireTokens, error: err.message }), 'text/html; charset=utf-8');
    }
  }

  async function serveAsset(res: ServerResponse, pathname: string): Promise<void> {
    let rel: string;
    try {
      rel = decodeURIComponent(pathname.slice('/assets/'.length));
    } catch {
      throw new RatingError('not_found', 'no such picture');
    }
    const file = path.resolve(assetsDir, rel);
    const inside = (p: string, root: string) => p.startsWith(root + path.sep);
    if (!inside(file, assetsDir) || !/\.png$/i.test(file) || rel.includes('\0')) throw new RatingError('not_found', 'no such picture');
    // Symlinks must not lead outside the assets folder either.
    const real = await fs.realpath(file).catch(() => null);
    const realRoot = await fs.realpath(assetsDir).catch(() => assetsDir);
    if (!real || !inside(real, realRoot)) throw new RatingError('not_found', 'no such picture');
    send(res, 200, await fs.readFile(real), 'image/png', { 'Cache-Control': 'private, max-age=300' });
  }

  async function taskDetail(caller: Caller, datasetId: string, modality: string) {
    const task = await getRatingTask(db, datasetId, modality);
    if (!task) throw new RatingError('unknown_task', `no rating task for dataset ${datasetId} × ${modality}`);
    const history = await ratingHistory(db, caller.raterId, datasetId, modality);
    const tasks = await tasksForRater(db, caller.raterId);
    return {
      task: taskView(assetsDir, task),
      mine: { current: history.at(-1) ?? null, history },
      remaining: tasks.filter((t) => t.myScore === null).length,
      total: tasks.length,
    };
  }

  async function rate(req: IncomingMessage, res: ServerResponse, caller: Caller): Promise<void> {
    const body = await readFields(req);
    if (!isJson(req)) throw new RatingError('invalid_input', 'send the rating as JSON');
    if (body.rater !== undefined && body.rater !== caller.rater) throw new RatingError('not_your_rating', 'you can rate only as yourself');
    // submitRating checks every field's type and range (a bad one is a 400, never a 500).
    const record = await submitRating(db, {
      raterId: caller.raterId,
      datasetId: body.datasetId as string,
      modality: body.modality as string,
      score: body.score,
      artifacts: body.artifacts,
      comment: body.comment,
      submissionId: body.submissionId,
      imagesShown: body.imagesShown as string[] | undefined,
      revises: body.revises,
    });
    const notifyError = await notify([record]);
    sendJson(res, 201, { rating: record, notified: !notifyError, ...(notifyError ? { notifyError } : {}) });
  }

  /** Run the onRated hook for stored ratings; the first failure's message (the ratings stay). */
  async function notify(records: RatingRecord[]): Promise<string | undefined> {
    let notifyError: string | undefined;
    if (!opts.onRated) return undefined;
    for (const record of records) {
      try {
        await opts.onRated(record);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        notifyError ??= message;
        log(`rating ${record.id} stored, but onRated failed: ${message}`);
      }
    }
    return notifyError;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkHost(req, loopback);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { pathname } = url;
    const method = req.method ?? 'GET';
    const isRead = method === 'GET' || method === 'HEAD';

    // Public: health, static code, the sign-in page.
    if (isRead && pathname === '/healthz') return send(res, 200, 'ok\n', 'text/plain; charset=utf-8');
    if (isRead && pathname === '/favicon.ico') return send(res, 204, '', 'image/x-icon');
    if (isRead && pathname === '/static/app.js') return send(res, 200, APP_JS, 'text/javascript; charset=utf-8');
    if (isRead && pathname === '/static/app.css') return send(res, 200, APP_CSS, 'text/css; charset=utf-8');
    if (pathname === '/login') {
      if (isRead) return send(res, 200, loginPage({ allowNames: !requireTokens }), 'text/html; charset=utf-8');
      if (method === 'POST') return login(req, res);
      throw new RatingError('method_not_allowed', `${method} /login is not supported`);
    }

    const caller = await identify(req);
    if (!caller) {
      if (isRead && pathname === '/') return redirect(res, '/login');
      throw new RatingError('unauthenticated', 'sign in first (a session or a bearer token)');
    }
    if (!isRead) checkSameOrigin(req, opts.publicOrigin);
    else if (caller.session && pathname !== '/') checkSameOrigin(req, opts.publicOrigin);

    if (pathname === '/logout' && method === 'POST') {
      const fields = await readFields(req);
      checkCsrf(req, caller, fields._csrf);
      if (caller.session) sessions.delete(caller.session.id);
      return redirect(res, '/login', { 'Set-Cookie': clearedCookieHeader() });
    }
    if (isRead && pathname === '/') {
      if (!caller.session) throw new RatingError('unauthenticated', 'the rating page needs a browser session: sign in at /login');
      return send(res, 200, ratingPage({ rater: caller.rater, csrfToken: caller.session.csrfToken }), 'text/html; charset=utf-8');
    }
    if (isRead && pathname.startsWith('/assets/')) return serveAsset(res, pathname);
    if (isRead && pathname === '/api/me') return sendJson(res, 200, { rater: caller.rater, requireTokens });
    if (isRead && pathname === '/api/next') {
      const next = await nextTaskFor(db, caller.raterId);
      return sendJson(res, 200, {
        task: next.task ? taskView(assetsDir, next.task) : null,
        mine: { current: null, history: [] },
        remaining: next.remaining,
        total: next.total,
      });
    }
    if (isRead && pathname === '/api/tasks') return sendJson(res, 200, { tasks: await tasksForRater(db, caller.raterId) });
    const taskMatch = /^\/api\/tasks\/([^/]+)\/([^/]+)$/.exec(pathname);
    if (isRead && taskMatch) {
      let ids: [string, string];
      try {
        ids = [decodeURIComponent(taskMatch[1]), decodeURIComponent(taskMatch[2])];
      } catch {
        throw new RatingError('invalid_input', 'bad dataset or modality in the address');
      }
      return sendJson(res, 200, await taskDetail(caller, ...ids));
    }
    if (pathname === '/api/ratings' && method === 'POST') {
      checkCsrf(req, caller);
      return rate(req, res, caller);
    }
    if (isRead && pathname === '/api/ratings/export') {
      // A rater sees only their own ratings (the second rating stays independent of the first);
      // every rater's (?all=1) needs an admin's token.
      const flag = (name: string) => url.searchParams.get(name) === '1' || url.searchParams.get(name) === 'true';
      const format = url.searchParams.get('format') === 'csv' ? 'csv' : 'json';
      const current = flag('current');
      const all = flag('all');
      if (all && !caller.isAdmin) throw new RatingError('admin_required', "exporting every rater's ratings needs an admin's token (openmind raters add --admin NAME)");
      const text = await exportRatings(db, { format, current, raterId: all ? undefined : caller.raterId });
      const type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8';
      const name = `openmind-ratings${all ? '-all' : ''}${current ? '-current' : ''}.${format}`;
      return send(res, 200, text, type, { 'Content-Disposition': `attachment; filename="${name}"` });
    }
    if (pathname === '/api/ratings/import' && method === 'POST') {
      checkCsrf(req, caller);
      const text = await readBody(req, IMPORT_BODY, isJson(req) ? 'yes' : 'sniff');
      // Corrections of the caller's own ratings: server time, next version, source 'import'.
      const records: RatingRecord[] = [];
      const result = await importRatings(db, text, { asRater: { id: caller.raterId, name: caller.rater }, records });
      const notifyError = await notify(records);
      return sendJson(res, 200, { ...result, ...(notifyError ? { notified: false, notifyError } : {}) });
    }
    const known = ['/', '/logout', '/api/me', '/api/next', '/api/tasks', '/api/ratings', '/api/ratings/export', '/api/ratings/import'];
    if (known.includes(pathname) || taskMatch) throw new RatingError('method_not_allowed', `${method} ${pathname} is not supported`);
    throw new RatingError('not_found', `nothing at ${pathname}`);
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const e = err instanceof RatingError ? err : new RatingError('internal', 'internal error');
      if (!(err instanceof RatingError)) log(`rating server: ${req.method} ${req.url}: ${err instanceof Error ? err.stack : String(err)}`);
      if (res.headersSent) res.destroy();
      else sendError(res, e);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
