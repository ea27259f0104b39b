// The rating-tool tests' plumbing: a raw HTTP client (node:http, so that Origin and Sec-Fetch-* can be set
// as a browser would, and the path is sent as given, as a hostile client could).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, migrateToLatest, openDatabase, type DB } from '../../db/database.js';
import { encodePng } from '../../lib/png.js';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

export function request(base: string, method: string, pathname: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
  const { hostname, port } = new URL(base);
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: pathname, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    // The server may answer (and stop reading) before a large body is fully sent.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A signed-in browser-like client of the rating tool: session cookie, CSRF token, same-origin headers. */
export interface Browser {
  cookie: string;
  /** The Set-Cookie header the sign-in answered with. */
  setCookie: string;
  csrf: string;
  headers(extra?: Record<string, string>): Record<string, string>;
}

export async function signIn(base: string, fields: { token?: string; name?: string }): Promise<Browser> {
  const reply = await request(base, 'POST', '/login', { body: fields, headers: { Origin: base, 'Sec-Fetch-Site': 'same-origin' } });
  if (reply.status !== 200) throw new Error(`sign-in answered ${reply.status}: ${reply.text}`);
  const setCookie = String(reply.headers['set-cookie']?.[0] ?? '');
  const cookie = setCookie.split(';')[0];
  const csrf = reply.json.csrfToken as string;
  return { cookie, setCookie, csrf, headers: (extra = {}) => ({ Cookie: cookie, 'X-CSRF-Token': csrf, Origin: base, 'Sec-Fetch-Site': 'same-origin', ...extra }) };
}

/** A fresh, migrated database on the test server (dropped by the caller with dropDatabase). */
export async function freshDatabase(name: string): Promise<DB> {
  const db = await openDatabase({ url: await createDatabase(ADMIN_DB_URL, name) });
  await migrateToLatest(db);
  return db;
}

/** A temporary assets folder holding a tiny PNG under each `<dataset>/<file>`. */
export function pngAssets(prefix: string, datasets: string[], files: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const png = encodePng({ width: 2, height: 2, pixels: new Uint8Array(12).fill(128) });
  for (const ds of datasets) {
    fs.mkdirSync(path.join(dir, ds), { recursive: true });
    for (const f of files) fs.writeFileSync(path.join(dir, ds, f), png);
  }
  return dir;
}

export async function countRatings(db: DB): Promise<number> {
  return Number((await db.selectFrom('ratings').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
}

export const ADMIN_DB_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
