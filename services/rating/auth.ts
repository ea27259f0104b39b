// Who is asking, and may they: sessions (cookie + per-session CSRF token), bearer tokens, and the
// cross-site checks (Origin, Sec-Fetch-Site, Host) that keep other web pages from acting for a rater.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RatingError } from '../../lib/rating/errors.js';

export const SESSION_COOKIE = 'om_session';
const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface Session {
  id: string;
  raterId: number;
  rater: string;
  /** Hash of the token the session was opened with (null: a loopback name sign-in). A rotated token ends the session. */
  tokenHash: string | null;
  csrfToken: string;
  expiresAt: number;
}

/** In-memory sessions: a restart signs everybody out, which is fine for a rating tool. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  create(raterId: number, rater: string, tokenHash: string | null): Session {
    this.sweep();
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      raterId,
      rater,
      tokenHash,
      csrfToken: randomBytes(32).toString('base64url'),
      expiresAt: Date.now() + SESSION_TTL_MS,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s || s.expiresAt < Date.now()) {
      if (s) this.sessions.delete(id);
      return null;
    }
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expiresAt < now) this.sessions.delete(id);
  }
}

/** The session cookie: never readable by scripts, never sent cross-site, Secure when served over https. */
export function cookieHeader(session: Session, secure = false): string {
  return `${SESSION_COOKIE}=${session.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}${secure ? '; Secure' : ''}`;
}

export function clearedCookieHeader(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function bearerTokenOf(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m ? m[1] : undefined;
}

export function sameSecret(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Served on loopback, only loopback Host names are answered: a page on another site that
 * rebinds its DNS name to 127.0.0.1 must not reach the tool.
 */
export function checkHost(req: IncomingMessage, loopbackOnly: boolean): void {
  if (!loopbackOnly) return;
  const host = req.headers.host ?? '';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  if (!isLoopbackHost(name)) throw new RatingError('bad_host', `this rating tool answers only on loopback addresses, not ${JSON.stringify(host)}`);
}

/**
 * Refuse requests a browser makes on behalf of another site: Sec-Fetch-Site must be same-origin
 * (or none: typed URL, bookmark) when sent, and Origin must be this server's own when sent
 * (`publicOrigin` when served behind a TLS proxy, else http://<Host>).
 */
export function checkSameOrigin(req: IncomingMessage, publicOrigin?: string): void {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
    throw new RatingError('cross_site', `cross-site request refused (Sec-Fetch-Site: ${site})`);
  }
  const origin = req.headers.origin;
  if (typeof origin === 'string') {
    const own = publicOrigin ?? `http://${req.headers.host ?? ''}`;
    if (origin !== own) throw new RatingError('cross_site', `cross-origin request refused (Origin ${origin} is not ${own})`);
  }
}
