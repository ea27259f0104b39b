// Fault injection for the fake OpenNeuro, deterministic given a seed: each decision
// hashes (seed, request identity, how many times that identity was asked before), so a
// given request sequence per file always meets the same faults, whatever the concurrency.
import crypto from 'node:crypto';

/** Per-request probabilities (0..1) of file faults; at most one fault hits a request. */
export interface FaultSpec {
  /** HTTP 500/502/503/504 on file requests. */
  error?: number;
  /** HTTP 429 with Retry-After. */
  '429'?: number;
  /** Connection reset after part of the body. */
  reset?: number;
  /** Short body with a matching (short) Content-Length: looks complete, is not. */
  truncate?: number;
  /** An HTML 504 page with status 200. */
  html504?: number;
  /** Body sent in small slow pieces. */
  trickle?: number;
  /** Body pauses mid-way for stallMs (longer than a client's stall timeout). */
  stall?: number;
  /** One byte flipped: checksum mismatch. */
  corrupt?: number;
  /** 404 on URLs with ?versionId= (fallback to the unversioned URL). */
  versioned404?: number;
  /** GraphQL HTTP 502/503. */
  gqlerror?: number;
  /** GraphQL requests with files(recursive: true) hang gqlTimeoutMs, then 504. */
  'gqltimeout-recursive'?: number;
  /** Datasets ("ds000001") or files ("ds000001:sub-01/anat/x.nii.gz") whose listing shows a wrong size. */
  badsize?: string[];
  /** Datasets or files always served corrupted (reproducible checksum mismatch). */
  corruptAlways?: string[];
  seed?: number;
  /** Retry-After seconds sent with 429 (default 1). */
  retryAfter?: number;
  stallMs?: number;
  trickleChunk?: number;
  trickleDelayMs?: number;
  gqlTimeoutMs?: number;
}

export type FileFault = 'error' | '429' | 'reset' | 'truncate' | 'html504' | 'trickle' | 'stall' | 'corrupt' | 'versioned404';

const FILE_FAULTS: FileFault[] = ['versioned404', 'error', '429', 'reset', 'truncate', 'html504', 'trickle', 'stall', 'corrupt'];
const NUMERIC_KEYS = new Set<string>([...FILE_FAULTS, 'gqlerror', 'gqltimeout-recursive', 'seed', 'retryAfter', 'retryafter', 'stallMs', 'stallms', 'trickleChunk', 'trickleDelayMs', 'gqlTimeoutMs', 'gqltimeoutms']);
const KEY_ALIASES: Record<string, keyof FaultSpec> = {
  retryafter: 'retryAfter',
  stallms: 'stallMs',
  tricklechunk: 'trickleChunk',
  trickledelayms: 'trickleDelayMs',
  gqltimeoutms: 'gqlTimeoutMs',
  'corrupt-always': 'corruptAlways',
  corruptalways: 'corruptAlways',
};

/**
 * Parse `error=0.1,429=0.05,reset=0.05,badsize=ds000001+ds000002,seed=42`.
 * List values (badsize, corrupt-always) separate items with '+' or '|'.
 */
export function parseFaultSpec(text: string): FaultSpec {
  const spec: Record<string, unknown> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`fault spec: "${part}" is not name=value`);
    const rawName = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const name = KEY_ALIASES[rawName.toLowerCase()] ?? rawName;
    if (name === 'badsize' || name === 'corruptAlways') {
      spec[name] = value.split(/[+|]/).map((s) => s.trim()).filter(Boolean);
    } else if (NUMERIC_KEYS.has(rawName) || NUMERIC_KEYS.has(name)) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`fault spec: ${rawName}=${value} is not a non-negative number`);
      if (FILE_FAULTS.includes(name as FileFault) || name === 'gqlerror' || name === 'gqltimeout-recursive') {
        if (n > 1) throw new Error(`fault spec: ${rawName} is a probability, got ${value}`);
      }
      spec[name] = n;
    } else {
      throw new Error(`fault spec: unknown fault "${rawName}"`);
    }
  }
  return spec as FaultSpec;
}

export class FaultInjector {
  readonly spec: FaultSpec;
  private readonly counters = new Map<string, number>();
  readonly injected: Record<string, number> = {};

  constructor(spec: FaultSpec | string | undefined) {
    this.spec = typeof spec === 'string' ? parseFaultSpec(spec) : { ...(spec ?? {}) };
  }

  /** Uniform [0,1) for the n-th occurrence of `identity`. */
  private draw(identity: string): number {
    const n = this.counters.get(identity) ?? 0;
    this.counters.set(identity, n + 1);
    const h = crypto.createHash('sha1').update(`${this.spec.seed ?? 0}\0${identity}\0${n}`).digest();
    return h.readUInt32LE(0) / 4294967296;
  }

  /** The fault (if any) for a file request. HEAD requests only meet error/429/html504/versioned404. */
  fileFault(identity: string, opts: { head: boolean; versioned: boolean }): FileFault | null {
    const u = this.draw(identity);
    let acc = 0;
    for (const f of FILE_FAULTS) {
      const p = this.spec[f] ?? 0;
      if (!p) continue;
      if (f === 'versioned404' && !opts.versioned) continue;
      if (opts.head && !['error', '429', 'html504', 'versioned404'].includes(f)) continue;
      acc += p;
      if (u < acc) {
        this.count(f);
        return f;
      }
    }
    return null;
  }

  /** A GraphQL fault: 'gqltimeout' applies only to recursive file listings. */
  graphqlFault(identity: string, recursive: boolean): 'gqlerror' | 'gqltimeout' | null {
    const u = this.draw(`gql\0${identity}`);
    const timeout = recursive ? this.spec['gqltimeout-recursive'] ?? 0 : 0;
    if (u < timeout) {
      this.count('gqltimeout-recursive');
      return 'gqltimeout';
    }
    if (u < timeout + (this.spec.gqlerror ?? 0)) {
      this.count('gqlerror');
      return 'gqlerror';
    }
    return null;
  }

  /** Does the listing show a wrong size for this file? */
  hasBadSize(datasetId: string, filePath: string): boolean {
    return matchesTargets(this.spec.badsize, datasetId, filePath);
  }

  isAlwaysCorrupt(datasetId: string, filePath: string): boolean {
    return matchesTargets(this.spec.corruptAlways, datasetId, filePath);
  }

  /** A deterministic value in [0,1) for details of a fault (which status, where to cut). */
  detail(identity: string): number {
    const h = crypto.createHash('sha1').update(`${this.spec.seed ?? 0}\0detail\0${identity}`).digest();
    return h.readUInt32LE(0) / 4294967296;
  }

  count(name: string): void {
    this.injected[name] = (this.injected[name] ?? 0) + 1;
  }
}

function matchesTargets(targets: string[] | undefined, datasetId: string, filePath: string): boolean {
  if (!targets?.length) return false;
  return targets.some((t) => t === datasetId || t === `${datasetId}:${filePath}` || t === `${datasetId}/${filePath}`);
}
