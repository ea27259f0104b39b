// A per-host concurrency limit: a tiny semaphore keyed by host name, so one worker
// never opens more than N transfers to the same server. Share one instance per worker.
import { OpenNeuroError } from '../../lib/openneuro/errors.js';

export type Release = () => void;

interface HostQueue {
  active: number;
  waiting: Array<{ grant: () => void; signal?: AbortSignal; onAbort?: () => void }>;
}

export class HostLimiter {
  readonly maxPerHost: number;
  private readonly hosts = new Map<string, HostQueue>();

  constructor(maxPerHost = 8) {
    if (!Number.isInteger(maxPerHost) || maxPerHost < 1) throw new RangeError('maxPerHost must be a positive integer');
    this.maxPerHost = maxPerHost;
  }

  /** Wait for a slot on `host`; the returned function frees it (idempotent). */
  acquire(host: string, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortedError());
    const q = this.queueFor(host);
    if (q.active < this.maxPerHost) {
      q.active++;
      return Promise.resolve(this.releaser(host, q));
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: HostQueue['waiting'][number] = { grant: () => resolve(this.releaser(host, q)), signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = q.waiting.indexOf(waiter);
          if (i >= 0) q.waiting.splice(i, 1);
          reject(abortedError());
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      q.waiting.push(waiter);
    });
  }

  /** Run fn while holding a slot for the URL's host. */
  async run<T>(url: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(hostOf(url), signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Transfers running now and waiting, per host (for stats and tests). */
  snapshot(): Record<string, { active: number; waiting: number }> {
    const out: Record<string, { active: number; waiting: number }> = {};
    for (const [host, q] of this.hosts) out[host] = { active: q.active, waiting: q.waiting.length };
    return out;
  }

  private queueFor(host: string): HostQueue {
    let q = this.hosts.get(host);
    if (!q) {
      q = { active: 0, waiting: [] };
      this.hosts.set(host, q);
    }
    return q;
  }

  private releaser(host: string, q: HostQueue): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = q.waiting.shift();
      if (next) {
        if (next.signal && next.onAbort) next.signal.removeEventListener('abort', next.onAbort);
        next.grant(); // the slot passes straight to the next waiter
      } else {
        q.active--;
        if (q.active === 0) this.hosts.delete(host);
      }
    };
  }
}

/** host:port of a URL, the key the limiter uses. */
export function hostOf(url: string): string {
  return new URL(url).host;
}

function abortedError(): OpenNeuroError {
  return new OpenNeuroError('aborted', 'aborted while waiting for a host slot');
}

/** One limiter for the whole process, for callers that do not bring their own. */
export const defaultHostLimiter = new HostLimiter(8);
