// Incremental MD5 + SHA-256 of a byte stream. Small files hash inline; for large transfers
// MD5 (about as slow as loopback HTTP itself) runs on a background thread fed 1 MiB blocks,
// so it overlaps the network and disk work when a spare core exists.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';

export type HashAlgorithm = 'md5' | 'sha256';

/** Hex digests; an algorithm that was not asked for is ''. */
export interface Digests {
  md5: string;
  sha256: string;
}

export interface StreamHasher {
  update(chunk: Uint8Array): void;
  digest(): Promise<Digests>;
  /** Drop the state without digesting (e.g. when a download restarts from byte 0). */
  dispose(): void;
}

/** Transfers at least this big are hashed off the main thread by default. */
export const DEFAULT_OFFLOAD_THRESHOLD = 8 * 1024 * 1024;
const BLOCK_SIZE = 1024 * 1024;

export interface HasherOptions {
  /** Digests to compute (default both). */
  algorithms?: readonly HashAlgorithm[];
  expectedBytes?: number;
  /** Offload MD5 to a background thread from this expected size up (default 8 MiB). */
  offloadThreshold?: number;
}

export function createStreamHasher(opts: HasherOptions = {}): StreamHasher {
  const algorithms = opts.algorithms ?? ['md5', 'sha256'];
  const threshold = opts.offloadThreshold ?? DEFAULT_OFFLOAD_THRESHOLD;
  const offload = algorithms.includes('md5') && opts.expectedBytes !== undefined && opts.expectedBytes >= threshold;
  return new StreamHasherImpl(algorithms, offload);
}

/**
 * MD5 (the slower of the two) on a background thread when offloaded; SHA-256 inline
 * (fast with SHA extensions). One extra thread per process at most.
 */
class StreamHasherImpl implements StreamHasher {
  private readonly md5: crypto.Hash | OffloadedMd5 | null;
  private readonly sha256: crypto.Hash | null;

  constructor(algorithms: readonly HashAlgorithm[], offload: boolean) {
    this.md5 = algorithms.includes('md5') ? (offload ? new OffloadedMd5() : crypto.createHash('md5')) : null;
    this.sha256 = algorithms.includes('sha256') ? crypto.createHash('sha256') : null;
  }

  update(chunk: Uint8Array): void {
    this.md5?.update(chunk);
    this.sha256?.update(chunk);
  }

  async digest(): Promise<Digests> {
    const md5 = this.md5 instanceof OffloadedMd5 ? await this.md5.digest() : this.md5?.digest('hex') ?? '';
    return { md5, sha256: this.sha256?.digest('hex') ?? '' };
  }

  dispose(): void {
    if (this.md5 instanceof OffloadedMd5) this.md5.dispose();
  }
}

/** Code of one hashing thread: keeps one hash per session id, replies with the hex digest. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const sessions = new Map();
parentPort.on('message', (m) => {
  let h = sessions.get(m.s);
  if (!h) { h = crypto.createHash(workerData.algorithm); sessions.set(m.s, h); }
  if (m.b) h.update(new Uint8Array(m.b));
  if (m.end) { sessions.delete(m.s); parentPort.postMessage({ s: m.s, hex: m.drop ? '' : h.digest('hex') }); }
});
`;

/** A background hashing thread shared by all downloads of the process. */
class HashThread {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  private openSessions = 0;

  constructor(private readonly algorithm: 'md5' | 'sha256') {}

  open(): void {
    this.ensureWorker();
    // A referenced worker keeps the process alive while a digest is owed.
    if (this.openSessions++ === 0) this.worker!.ref();
  }

  post(session: number, block: ArrayBuffer, transfer: boolean): void {
    // A dead thread drops blocks; the session's digest then fails instead.
    this.worker?.postMessage({ s: session, b: block }, transfer ? [block] : []);
  }

  finish(session: number, drop: boolean): Promise<string> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('the hash thread stopped; digest lost'));
    return new Promise<string>((resolve, reject) => {
      this.pending.set(session, { resolve, reject });
      worker.postMessage({ s: session, end: true, drop });
    }).finally(() => {
      this.openSessions = Math.max(0, this.openSessions - 1);
      if (this.openSessions === 0) this.worker?.unref();
    });
  }

  private ensureWorker(): void {
    if (this.worker) return;
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { algorithm: this.algorithm } });
    w.unref();
    w.on('message', (m: { s: number; hex: string }) => {
      const p = this.pending.get(m.s);
      this.pending.delete(m.s);
      p?.resolve(m.hex);
    });
    const fail = (e: Error) => {
      this.worker = null;
      this.openSessions = 0;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`hash thread exited with code ${code}`)));
    this.worker = w;
  }
}

const md5Thread = new HashThread('md5');
let nextSession = 1;

/** MD5 computed on the shared background thread, fed in 1 MiB blocks. */
class OffloadedMd5 {
  private readonly session = nextSession++;
  private block = Buffer.allocUnsafeSlow(BLOCK_SIZE);
  private used = 0;
  private closed = false;

  constructor() {
    md5Thread.open();
  }

  update(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, BLOCK_SIZE - this.used);
      this.block.set(chunk.subarray(offset, offset + n), this.used);
      this.used += n;
      offset += n;
      if (this.used === BLOCK_SIZE) this.flush();
    }
  }

  digest(): Promise<string> {
    this.flush();
    this.closed = true;
    return md5Thread.finish(this.session, false);
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    void md5Thread.finish(this.session, true).catch(() => {});
  }

  /** Transfer the filled part of the block (zero-copy when full). */
  private flush(): void {
    if (this.used === 0) return;
    const full = this.block.buffer as ArrayBuffer;
    md5Thread.post(this.session, this.used === BLOCK_SIZE ? full : full.slice(0, this.used), true);
    this.block = Buffer.allocUnsafeSlow(BLOCK_SIZE);
    this.used = 0;
  }
}

/** Hash a whole file (e.g. an existing download to verify). */
export async function hashFile(file: string, opts: HasherOptions = {}): Promise<Digests & { bytes: number }> {
  const size = (await fs.promises.stat(file)).size;
  const hasher = createStreamHasher({ ...opts, expectedBytes: size });
  let bytes = 0;
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: BLOCK_SIZE })) {
      hasher.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (e) {
    hasher.dispose();
    throw e;
  }
  return { ...(await hasher.digest()), bytes };
}
