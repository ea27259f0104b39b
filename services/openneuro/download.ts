// Download one file from OpenNeuro (S3 or the OpenNeuro object endpoint): HEAD then GET,
// resume from `<dest>.part` with Range, verify size and the annex-key checksum, retry
// transient failures with backoff, write atomically (part file, fsync, rename).
// Knows nothing about Temporal: progress goes to a callback, cancellation comes by AbortSignal.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAnnexKey, type AnnexKey } from '../../lib/openneuro/annex-key.js';
import { OpenNeuroError, type OpenNeuroReason } from '../../lib/openneuro/errors.js';
import { createStreamHasher, hashFile, type HashAlgorithm, type StreamHasher } from '../../lib/openneuro/hashing.js';
import { defaultHostLimiter, hostOf, type HostLimiter } from './host-limiter.js';

export interface RetryPolicy {
  /** Transient failures (5xx, 429, resets, stalls, HTML pages) tolerated before giving up. */
  maxRetries: number;
  /** First backoff delay; doubles per consecutive failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Random spread of each delay, as a fraction (0.3 = ±30 %). */
  jitter: number;
  /** Abort an attempt when no byte arrives for this long (connect included). */
  stallTimeoutMs: number;
  /** Upper bound on a server's Retry-After that we honour. */
  maxRetryAfterMs: number;
  /** Fresh re-downloads after a size/checksum mismatch before calling it reproducible. */
  verifyRetries: number;
  /** Consecutive transient failures on one URL before trying the next URL. */
  failuresBeforeNextUrl: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 8,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  jitter: 0.3,
  stallTimeoutMs: 60_000,
  maxRetryAfterMs: 120_000,
  verifyRetries: 2,
  failuresBeforeNextUrl: 3,
};

export interface DownloadFileOptions {
  /** Tried in order: versioned S3 URL, unversioned S3 URL, `<endpoint>/crn/datasets/<ds>/objects/<id>`. */
  urls: string[];
  dest: string;
  /** Size from the listing. */
  expectedSize?: number;
  /** git-annex key (file id); MD5E/SHA256E keys carry the size and checksum to verify. */
  key?: string;
  /** Resume point recorded by the caller (e.g. last heartbeat); the .part file is cut back to it. */
  startOffset?: number;
  onProgress?: (bytesDone: number, total: number | undefined) => void;
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  hostLimiter?: HostLimiter;
  headers?: Record<string, string>;
  /**
   * HEAD before GET: 'auto' (default) only when neither key nor expectedSize gives the size
   * (the GET answers the same questions otherwise, one round trip sooner); 'always'; 'never'.
   */
  head?: 'auto' | 'always' | 'never';
  /** fsync the file before the rename (default true). Verification on skip catches torn files either way. */
  fsync?: boolean;
  /** Digests to compute (default both). The key's algorithm is always computed, to verify. */
  hashes?: readonly HashAlgorithm[];
  /** Hash MD5 on a background thread from this expected size up (default 8 MiB). */
  offloadHashingFrom?: number;
}

export interface DownloadResult {
  bytes: number;
  /** Hex digests of the file ('' for an algorithm not asked for in `hashes`). */
  md5: string;
  sha256: string;
  /** Offset of the .part file the download resumed from (0 when fresh). */
  resumedFrom: number;
  /** Body bytes received over the network by this call, all attempts included. */
  bytesFetched: number;
  urlUsed: string;
  /** HTTP rounds (HEAD/GET) made. */
  attempts: number;
  /** Transient failures that were retried. */
  retries: number;
  /** Short log of what went wrong on the way (most recent last). */
  failures: string[];
}

type Outcome =
  | { kind: 'body'; complete: boolean; progressed: boolean }
  | { kind: 'not_found'; status: number }
  | { kind: 'transient'; reason: OpenNeuroReason | 'network'; detail: string; retryAfterMs?: number; progressed?: boolean }
  | { kind: 'size_observed'; total: number }
  | { kind: 'fatal'; error: OpenNeuroError };

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524]);
const NOT_FOUND_STATUS = new Set([403, 404, 410]);
const HTML_OK_EXTENSIONS = /\.(html?|svg|xml|xhtml)$/i;
const WRITE_HIGH_WATER_MARK = 1024 * 1024;

export async function downloadFile(opts: DownloadFileOptions): Promise<DownloadResult> {
  if (!opts.urls.length) throw new OpenNeuroError('not_found', `no URL to download ${opts.dest} from`);
  return new FileDownload(opts).run();
}

/** One call of downloadFile: the .part file, its hash state and the retry bookkeeping. */
class FileDownload {
  private readonly policy: RetryPolicy;
  private readonly key: AnnexKey | null;
  private readonly partPath: string;
  /** The .part file descriptor, open for the whole call (one open, positioned writes, one close). */
  private part = -1;
  private readonly limiter: HostLimiter;
  private readonly htmlAllowed: boolean;
  private hasher!: StreamHasher;
  private offset = 0;
  private resumedFrom = 0;
  /** Total size the server reported (Content-Length of a 200, Content-Range total, HEAD). */
  private remoteTotal: number | undefined;
  private urlIndex = 0;
  private readonly deadUrls = new Set<string>();
  private readonly headDone = new Set<string>();
  private attempts = 0;
  private retries = 0;
  /** Transient failures without progress: the retry budget. */
  private strikes = 0;
  private consecutiveFailures = 0;
  private verifyFailures = 0;
  private readonly badDigests = new Set<string>();
  private readonly badSizes = new Set<number>();
  private bytesFetched = 0;
  private readonly failures: string[] = [];
  private urlUsed = '';

  constructor(private readonly opts: DownloadFileOptions) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    this.key = parseAnnexKey(opts.key);
    this.partPath = `${opts.dest}.part`;
    this.limiter = opts.hostLimiter ?? defaultHostLimiter;
    this.htmlAllowed = HTML_OK_EXTENSIONS.test(opts.dest);
  }

  /** The size the finished file must have: the key's (content truth), else the listing's, else the server's. */
  private target(): number | undefined {
    return this.key?.size ?? this.opts.expectedSize ?? this.remoteTotal;
  }

  async run(): Promise<DownloadResult> {
    await fsp.mkdir(path.dirname(this.opts.dest), { recursive: true });
    this.part = await openPart(this.partPath);
    try {
      await this.preparePart();
      for (;;) {
        this.throwIfAborted();
        const target = this.target();
        if (target !== undefined && this.offset === target && (this.key || this.opts.expectedSize !== undefined)) {
          const done = await this.finish();
          if (done) return done;
          continue;
        }
        const url = this.currentUrl();
        this.attempts++;
        const release = await this.limiter.acquire(hostOf(url), this.opts.signal);
        let outcome: Outcome;
        try {
          outcome = await this.attempt(url);
        } finally {
          release();
        }
        const done = await this.handle(outcome, url);
        if (done) return done;
      }
    } catch (e) {
      this.hasher?.dispose();
      await this.closePart(); // the .part stays for a later resume
      throw e;
    }
  }

  /** Pick up an existing .part (cut back to startOffset if given) and hash what it holds. */
  private async preparePart(): Promise<void> {
    const partSize = (await fdOps.fstat(this.part)).size;
    let offset = partSize;
    if (this.opts.startOffset !== undefined) offset = Math.min(offset, Math.max(0, this.opts.startOffset));
    const target = this.target();
    if (target !== undefined && offset > target) offset = 0;
    if (partSize !== offset) await fdOps.ftruncate(this.part, offset);
    this.hasher = this.newHasher();
    if (offset > 0) {
      // Feed the kept bytes to the hash: local I/O, not counted as fetched.
      const stream = fs.createReadStream(this.partPath, { fd: this.part, autoClose: false, start: 0, end: offset - 1, highWaterMark: WRITE_HIGH_WATER_MARK });
      for await (const chunk of stream) this.hasher.update(chunk as Buffer);
    }
    this.offset = offset;
    this.resumedFrom = offset;
    this.opts.onProgress?.(offset, target);
  }

  private async resetPart(why: string): Promise<void> {
    this.note(`restart from byte 0: ${why}`);
    this.hasher.dispose();
    await fdOps.ftruncate(this.part, 0);
    this.offset = 0;
    this.hasher = this.newHasher();
  }

  private newHasher(): StreamHasher {
    const wanted = new Set<HashAlgorithm>(this.opts.hashes ?? ['md5', 'sha256']);
    if (this.key) wanted.add(this.key.backend === 'MD5' ? 'md5' : 'sha256'); // needed to verify
    return createStreamHasher({ algorithms: [...wanted], expectedBytes: this.target(), offloadThreshold: this.opts.offloadHashingFrom });
  }

  private currentUrl(): string {
    const urls = this.opts.urls;
    for (let i = 0; i < urls.length; i++) {
      const url = urls[(this.urlIndex + i) % urls.length];
      if (!this.deadUrls.has(url)) {
        this.urlIndex = (this.urlIndex + i) % urls.length;
        return url;
      }
    }
    throw new OpenNeuroError('not_found', `every URL of ${this.opts.dest} answered "not found"`, { urls, failures: this.failures });
  }

  private async handle(outcome: Outcome, url: string): Promise<DownloadResult | null> {
    switch (outcome.kind) {
      case 'fatal':
        throw outcome.error;
      case 'not_found':
        this.note(`HTTP ${outcome.status} from ${url}`);
        this.deadUrls.add(url);
        this.consecutiveFailures = 0;
        this.currentUrl(); // throws not_found when no URL is left
        return null;
      case 'size_observed':
        await this.sizeMismatchObserved(outcome.total, 'server reports a different total size');
        return null;
      case 'transient':
        await this.transientFailure(outcome, url);
        return null;
      case 'body': {
        this.urlUsed = url;
        const target = this.target();
        if (!outcome.complete) {
          await this.transientFailure({ kind: 'transient', reason: 'network', detail: 'body ended early', progressed: outcome.progressed }, url);
          return null;
        }
        if (target === undefined) return this.finish();
        if (this.offset > target) {
          await this.sizeMismatchObserved(this.remoteTotal ?? this.offset, `received more than the expected ${target} bytes`);
          return null;
        }
        if (this.offset < target) {
          // A short but "complete" body (truncated response): continue with a Range request.
          if (!outcome.progressed) await this.transientFailure({ kind: 'transient', reason: 'network', detail: 'short body' }, url);
          else this.note(`short body (${this.offset}/${target}), continuing with Range`);
          return null;
        }
        return this.finish();
      }
    }
  }

  private async transientFailure(outcome: Extract<Outcome, { kind: 'transient' }>, url: string): Promise<void> {
    this.note(`${outcome.reason}: ${outcome.detail} (${url})`);
    this.retries++;
    // A failure after some progress (reset, stall mid-body) keeps its bytes: it neither uses
    // the retry budget nor grows the backoff, since the download still moves forward.
    if (outcome.progressed) this.consecutiveFailures = 0;
    else this.strikes++;
    this.consecutiveFailures++;
    // Progressing failures are free, but not endlessly (a server that resets after every byte).
    const hardLimit = 4 * this.policy.maxRetries + 16;
    if (this.strikes > this.policy.maxRetries || this.retries > hardLimit) {
      const reason: OpenNeuroReason = outcome.reason === 'html_instead_of_data' ? 'html_instead_of_data' : 'gave_up';
      throw new OpenNeuroError(reason, `gave up on ${this.opts.dest} after ${this.strikes - 1} retries: ${outcome.detail}`, {
        attempts: this.attempts,
        failures: this.failures,
      });
    }
    if (this.consecutiveFailures % this.policy.failuresBeforeNextUrl === 0) this.urlIndex++;
    await sleep(this.backoffMs(this.consecutiveFailures, outcome.retryAfterMs), this.opts.signal);
  }

  private backoffMs(failures: number, retryAfterMs?: number): number {
    const p = this.policy;
    const exp = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** Math.max(0, failures - 1));
    const spread = exp * p.jitter * (2 * Math.random() - 1);
    const delay = Math.max(0, exp + spread);
    return retryAfterMs === undefined ? delay : Math.max(delay, Math.min(retryAfterMs, p.maxRetryAfterMs));
  }

  /** The server delivered a size other than expected: re-download, and fail once it repeats. */
  private async sizeMismatchObserved(size: number, detail: string): Promise<void> {
    this.verifyFailures++;
    if (this.badSizes.has(size) || this.verifyFailures > this.policy.verifyRetries) {
      await this.discardPart();
      throw new OpenNeuroError('size_mismatch', `${this.opts.dest}: ${detail}`, {
        expectedSize: this.opts.expectedSize,
        keySize: this.key?.size,
        observedSize: size,
      });
    }
    this.badSizes.add(size);
    await this.resetPart(detail);
  }

  /** Verify the complete .part and move it into place; null when it must be fetched again. */
  private async finish(): Promise<DownloadResult | null> {
    const digests = await this.hasher.digest();
    if (this.key) {
      const got = this.key.backend === 'MD5' ? digests.md5 : digests.sha256;
      if (got !== this.key.digest) {
        this.verifyFailures++;
        const repeated = this.badDigests.has(got);
        this.badDigests.add(got);
        if (repeated || this.verifyFailures > this.policy.verifyRetries) {
          await this.discardPart();
          throw new OpenNeuroError('checksum_mismatch', `${this.opts.dest}: ${this.key.backend} ${got} does not match key ${this.opts.key}`, {
            key: this.opts.key,
            got,
          });
        }
        await this.resetPart(`checksum ${got} does not match the key`);
        return null;
      }
    }
    if (this.opts.expectedSize !== undefined && this.offset !== this.opts.expectedSize) {
      // The content matches its key (or there is no key): the listing's size is what is wrong.
      await this.discardPart();
      throw new OpenNeuroError('size_mismatch', `${this.opts.dest}: got ${this.offset} bytes, the listing says ${this.opts.expectedSize}`, {
        expectedSize: this.opts.expectedSize,
        observedSize: this.offset,
        keySize: this.key?.size,
      });
    }
    // fsync (optional), close, rename: never a half file at dest.
    if (this.opts.fsync ?? true) await fdOps.fdatasync(this.part);
    await this.closePart();
    await fsp.rename(this.partPath, this.opts.dest);
    return {
      bytes: this.offset,
      md5: digests.md5,
      sha256: digests.sha256,
      resumedFrom: this.resumedFrom,
      bytesFetched: this.bytesFetched,
      urlUsed: this.urlUsed || this.opts.urls[0],
      attempts: this.attempts,
      retries: this.retries,
      failures: this.failures,
    };
  }

  private async discardPart(): Promise<void> {
    await this.closePart();
    await fsp.rm(this.partPath, { force: true });
  }

  private async closePart(): Promise<void> {
    if (this.part < 0) return;
    const fd = this.part;
    this.part = -1;
    await fdOps.close(fd).catch(() => {});
  }

  /** One HTTP round: HEAD (once per URL), then GET from the current offset. */
  private async attempt(url: string): Promise<Outcome> {
    const mode = this.opts.head ?? 'auto';
    const wantHead = mode === 'always' || (mode === 'auto' && this.key === null && this.opts.expectedSize === undefined);
    if (wantHead && !this.headDone.has(url)) {
      const head = await this.head(url);
      if (head) return head;
    }
    return this.get(url);
  }

  private async head(url: string): Promise<Outcome | null> {
    let res: http.IncomingMessage;
    try {
      res = await this.request('HEAD', url, {});
    } catch (e) {
      return this.networkFailure(e, false);
    }
    res.resume();
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      if (this.isHtmlResponse(res)) return { kind: 'transient', reason: 'html_instead_of_data', detail: 'HEAD says text/html' };
      const length = Number(res.headers['content-length']);
      if (Number.isFinite(length) && !res.headers['content-encoding']) this.remoteTotal = length;
      this.headDone.add(url);
      return null;
    }
    if (status === 405 || status === 501) {
      this.headDone.add(url); // HEAD unsupported: go straight to GET
      return null;
    }
    return this.statusOutcome(res, 'HEAD');
  }

  private statusOutcome(res: http.IncomingMessage, method: string): Outcome {
    const status = res.statusCode ?? 0;
    if (NOT_FOUND_STATUS.has(status)) return { kind: 'not_found', status };
    if (RETRYABLE_STATUS.has(status) || status >= 500) {
      return { kind: 'transient', reason: 'gave_up', detail: `${method} HTTP ${status}`, retryAfterMs: parseRetryAfter(res.headers['retry-after']) };
    }
    return { kind: 'fatal', error: new OpenNeuroError('http_error', `${method} ${this.opts.dest}: HTTP ${status}`, { status }) };
  }

  private isHtmlResponse(res: http.IncomingMessage): boolean {
    if (this.htmlAllowed) return false;
    const type = String(res.headers['content-type'] ?? '').toLowerCase();
    return type.startsWith('text/html') || type.startsWith('application/xhtml');
  }

  private async get(url: string): Promise<Outcome> {
    const headers: Record<string, string> = {};
    if (this.offset > 0) headers.range = `bytes=${this.offset}-`;
    let res: http.IncomingMessage;
    try {
      res = await this.request('GET', url, headers);
    } catch (e) {
      return this.networkFailure(e, false);
    }
    const status = res.statusCode ?? 0;
    if (status === 416) {
      res.resume();
      const total = parseContentRangeTotal(res.headers['content-range']);
      if (total === undefined) return { kind: 'transient', reason: 'network', detail: 'HTTP 416 without a total size' };
      this.remoteTotal = total;
      // The server's whole file is `total` bytes: done if that is what we expect and hold.
      const target = this.target();
      if (total === this.offset && (target === undefined || target === total)) return { kind: 'body', complete: true, progressed: false };
      return { kind: 'size_observed', total };
    }
    if (status !== 200 && status !== 206) {
      res.resume();
      return this.statusOutcome(res, 'GET');
    }
    if (this.isHtmlResponse(res)) {
      res.destroy();
      return { kind: 'transient', reason: 'html_instead_of_data', detail: `GET served ${res.headers['content-type']}` };
    }
    if (status === 206) {
      const range = parseContentRange(res.headers['content-range']);
      if (!range || range.start !== this.offset) {
        res.destroy();
        await this.resetPart(`unexpected Content-Range ${res.headers['content-range']}`);
        return { kind: 'transient', reason: 'network', detail: 'bad Content-Range' };
      }
      if (range.total !== undefined) this.remoteTotal = range.total;
    } else {
      if (this.offset > 0) await this.resetPart('server ignored Range'); // 200: the whole file again
      // A 200's length is the whole file unless the body is cut short; HEAD's answer, if any, stays.
      const length = Number(res.headers['content-length']);
      if (this.remoteTotal === undefined && Number.isFinite(length) && !res.headers['content-encoding']) this.remoteTotal = length;
    }
    return this.streamBody(res);
  }

  /** Stream a response body into the .part file, hashing as it goes. */
  private streamBody(res: http.IncomingMessage): Promise<Outcome> {
    const target = this.target();
    const startOffset = this.offset;
    const sniff = startOffset === 0 && !this.htmlAllowed;
    const out = fs.createWriteStream(this.partPath, { fd: this.part, autoClose: false, start: startOffset, highWaterMark: WRITE_HIGH_WATER_MARK });
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      let firstChunk = true;
      let writeError: Error | null = null;
      const settle = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        res.removeAllListeners('data');
        if (!res.complete) res.destroy();
        out.end(() => resolve(writeError ? { kind: 'fatal', error: new OpenNeuroError('gave_up', `cannot write ${this.partPath}: ${writeError.message}`) } : outcome));
      };
      out.on('error', (e) => {
        writeError = e;
        settle({ kind: 'transient', reason: 'network', detail: e.message });
      });
      res.on('data', (chunk: Buffer) => {
        if (firstChunk) {
          firstChunk = false;
          if (sniff && looksLikeHtml(chunk)) {
            settle({ kind: 'transient', reason: 'html_instead_of_data', detail: 'body is an HTML page' });
            return;
          }
        }
        this.offset += chunk.length;
        this.bytesFetched += chunk.length;
        this.hasher.update(chunk);
        if (!out.write(chunk)) {
          res.pause();
          out.once('drain', () => res.resume());
        }
        this.opts.onProgress?.(this.offset, target);
        if (target !== undefined && this.offset > target) {
          settle({ kind: 'body', complete: true, progressed: true }); // overflow: handled as a size mismatch
        }
      });
      res.on('end', () => settle({ kind: 'body', complete: res.complete, progressed: this.offset > startOffset }));
      res.on('aborted', () => settle({ kind: 'transient', reason: 'network', detail: 'connection closed mid-body', progressed: this.offset > startOffset }));
      res.on('error', (e) => settle(this.networkFailure(e, this.offset > startOffset)));
      res.on('close', () => {
        if (!res.complete) settle({ kind: 'transient', reason: 'network', detail: 'connection closed mid-body', progressed: this.offset > startOffset });
      });
    });
  }

  private networkFailure(e: unknown, progressed: boolean): Outcome {
    const err = e as NodeJS.ErrnoException;
    if (err instanceof OpenNeuroError) return { kind: 'fatal', error: err };
    return { kind: 'transient', reason: 'network', detail: err?.code ? `${err.code} ${err.message}` : String(err?.message ?? e), progressed };
  }

  /** Issue a request; resolves with the response head. Stalls (no bytes) abort it. */
  private request(method: 'HEAD' | 'GET', url: string, extra: Record<string, string>): Promise<http.IncomingMessage> {
    const u = new URL(url);
    const isHttps = u.protocol === 'https:';
    if (!isHttps && u.protocol !== 'http:') {
      return Promise.reject(new OpenNeuroError('http_error', `unsupported URL scheme in ${url}`));
    }
    const signal = this.opts.signal;
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(u, {
        method,
        agent: isHttps ? agents.https : agents.http,
        headers: { 'user-agent': 'openmind-pipeline', 'accept-encoding': 'identity', ...this.opts.headers, ...extra },
      });
      const onAbort = () => req.destroy(new OpenNeuroError('aborted', `download of ${this.opts.dest} aborted`));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(this.policy.stallTimeoutMs, () => {
        req.destroy(Object.assign(new Error(`no data for ${this.policy.stallTimeoutMs} ms`), { code: 'STALLED' }));
      });
      req.on('response', (res) => {
        res.on('close', () => signal?.removeEventListener('abort', onAbort));
        resolve(res);
      });
      req.on('error', (e) => {
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      });
      req.end();
    });
  }

  private throwIfAborted(): void {
    if (this.opts.signal?.aborted) throw new OpenNeuroError('aborted', `download of ${this.opts.dest} aborted`);
  }

  private note(message: string): void {
    this.failures.push(message);
    if (this.failures.length > 20) this.failures.shift();
  }
}

/** Numeric-fd file calls (fd streams with autoClose off can share one descriptor; FileHandles cannot). */
const fdOps = {
  open: promisify(fs.open),
  fstat: promisify(fs.fstat),
  ftruncate: promisify(fs.ftruncate),
  fdatasync: promisify(fs.fdatasync),
  close: promisify(fs.close),
};

/** Open (or create) the .part file for positioned reads and writes, without truncating it. */
async function openPart(partPath: string): Promise<number> {
  try {
    return await fdOps.open(partPath, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return fdOps.open(partPath, 'w+');
  }
}

/** An HTML page where binary data was expected (some gateways answer 200 with an error page). */
export function looksLikeHtml(chunk: Uint8Array): boolean {
  const head = Buffer.from(chunk.subarray(0, 256)).toString('latin1').trimStart().toLowerCase();
  return head.startsWith('<!doctype html') || head.startsWith('<html') || head.startsWith('<head') || head.startsWith('<body');
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const when = Date.parse(v);
  return Number.isNaN(when) ? undefined : Math.max(0, when - Date.now());
}

function parseContentRange(value: string | undefined): { start: number; end: number; total?: number } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function parseContentRangeTotal(value: string | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(value ?? '');
  return m ? Number(m[1]) : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new OpenNeuroError('aborted', 'aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new OpenNeuroError('aborted', 'aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Is `dest` already the file the listing describes? Size must match; for MD5E/SHA256E keys
 * the content hash must match too (other keys: size only). Used to skip unchanged files.
 */
export async function isAlreadyDownloaded(dest: string, size: number | undefined, key?: string): Promise<boolean> {
  const stat = await fsp.stat(dest).catch(() => null);
  if (!stat?.isFile()) return false;
  const annex = parseAnnexKey(key);
  if (size !== undefined && stat.size !== size) return false;
  if (annex && stat.size !== annex.size) return false;
  if (!annex) return size !== undefined;
  const digests = await hashFile(dest);
  return (annex.backend === 'MD5' ? digests.md5 : digests.sha256) === annex.digest;
}
