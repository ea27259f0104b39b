// A local OpenNeuro-compatible server built from the real dataset skeletons: the GraphQL
// subset OpenNeuro clients use, S3-style file URLs (versioned and not), the object endpoint,
// HEAD/GET/Range, and deterministic fault injection. For tests, benchmarks and demos.
import crypto from 'node:crypto';
import http from 'node:http';
import { loadConfig } from '../config.js';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FakeDataset, SkeletonCache, versionIdOf, type DirectoryNode, type ServedFile, type SnapshotListing } from './dataset.js';
import { FaultInjector, type FaultSpec, type FileFault } from './faults.js';
import { execute, GraphQLSyntaxError, hasFieldWithArg, parseQuery } from './graphql.js';
import { loadSkeletonCatalog, type SkeletonMeta } from './skeletons.js';

export interface FakeOpenNeuroOptions {
  /** Folder of <ds>.tar.gz skeletons (default ../shared/openneuro, or $OPENMIND_SHARED/openneuro). */
  skeletonsDir?: string;
  /** Only these datasets. */
  datasets?: string[];
  port?: number;
  host?: string;
  faults?: FaultSpec | string;
  /** Extra datasets cloned from the skeletons under new ids (ds9xxxxx), for scale tests. */
  replicate?: number;
  /** Memory budget for skeletons held at once (default 128 MiB); their listings are dropped with them. */
  cacheBytes?: number;
}

export interface FakeOpenNeuroStats {
  requests: number;
  graphql: { queries: number; recursive: number; tree: number; catalog: number };
  files: { head: number; get: number; rangeGets: number; bytesServed: number; notFound: number };
  /** GET requests per `<ds>/<path>` (each attempt counted). */
  getsByFile: Record<string, number>;
  faults: Record<string, number>;
  skeletonLoads: number;
}

export interface FakeOpenNeuro {
  url: string;
  close(): Promise<void>;
  stats(): FakeOpenNeuroStats;
  /** Simulate a new snapshot (becomes the latest); `changed` paths get new content. */
  addSnapshot(datasetId: string, tag: string, changed?: string[]): void;
  /** Dataset ids served. */
  datasetIds(): string[];
  /** The listing of a snapshot as served (sizes, keys) — for test assertions. */
  listing(datasetId: string, tag?: string): Promise<Array<{ path: string; size: number; listedSize: number; key: string; md5: string }>>;
  /** The exact bytes served for a file (latest snapshot unless tag given). */
  fileBytes(datasetId: string, filePath: string, tag?: string): Promise<Buffer>;
}

const S3_PREFIX = '/s3/openneuro.org/';
const HTML_504 = Buffer.from(
  '<!DOCTYPE html>\n<html><head><title>504 Gateway Time-out</title></head>\n<body><center><h1>504 Gateway Time-out</h1></center><hr><center>fake-openneuro</center></body></html>\n',
);

/** The skeletons in the shared data folder (OPENMIND_SHARED, see services/config.ts). */
export function defaultSkeletonsDir(sharedDir = loadConfig().sharedDir): string {
  return path.join(sharedDir, 'openneuro');
}

export async function startFakeOpenNeuro(opts: FakeOpenNeuroOptions = {}): Promise<FakeOpenNeuro> {
  const metas = await loadSkeletonCatalog(opts.skeletonsDir ?? defaultSkeletonsDir(), opts.datasets);
  const app = new FakeOpenNeuroApp(metas, opts);
  const server = http.createServer((req, res) => app.handle(req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  app.baseUrl = url;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        app.closing = true;
        for (const t of app.timers) clearTimeout(t);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    stats: () => app.snapshotStats(),
    addSnapshot: (datasetId, tag, changed) => app.dataset(datasetId).addSnapshot(tag, changed),
    datasetIds: () => app.datasets.map((d) => d.id),
    listing: async (datasetId, tag) => {
      const ds = app.dataset(datasetId);
      const l = await ds.listing(tag ?? ds.latest.tag);
      return l.files.map((f) => ({ path: f.path, size: f.size, listedSize: f.listedSize, key: f.id, md5: f.md5 }));
    },
    fileBytes: async (datasetId, filePath, tag) => {
      const ds = app.dataset(datasetId);
      const f = (await ds.listing(tag ?? ds.latest.tag)).byPath.get(filePath);
      if (!f) throw new Error(`no file ${filePath} in ${datasetId}`);
      return ds.content(f);
    },
  };
}

class FakeOpenNeuroApp {
  baseUrl = '';
  closing = false;
  readonly timers = new Set<NodeJS.Timeout>();
  readonly datasets: FakeDataset[];
  private readonly byId = new Map<string, FakeDataset>();
  private readonly faults: FaultInjector;
  private readonly cache: SkeletonCache;
  private readonly stats: Omit<FakeOpenNeuroStats, 'faults' | 'skeletonLoads'> = {
    requests: 0,
    graphql: { queries: 0, recursive: 0, tree: 0, catalog: 0 },
    files: { head: 0, get: 0, rangeGets: 0, bytesServed: 0, notFound: 0 },
    getsByFile: {},
  };

  constructor(metas: SkeletonMeta[], opts: FakeOpenNeuroOptions) {
    this.faults = new FaultInjector(opts.faults);
    this.cache = new SkeletonCache(opts.cacheBytes ?? 128 * 1024 * 1024);
    const hooks = { hasBadSize: (ds: string, p: string) => this.faults.hasBadSize(ds, p) };
    this.datasets = metas.map((m) => new FakeDataset(m.id, m, this.cache, hooks));
    // Replicas reuse a skeleton under a new id; their images differ (seeded by id).
    for (let i = 0; i < (opts.replicate ?? 0) && metas.length; i++) {
      const id = `ds9${String(i + 1).padStart(5, '0')}`;
      this.datasets.push(new FakeDataset(id, metas[i % metas.length], this.cache, hooks));
    }
    for (const d of this.datasets) this.byId.set(d.id, d);
  }

  dataset(id: string): FakeDataset {
    const d = this.byId.get(id);
    if (!d) throw new Error(`no dataset ${id}`);
    return d;
  }

  snapshotStats(): FakeOpenNeuroStats {
    return structuredClone({ ...this.stats, faults: { ...this.faults.injected }, skeletonLoads: this.cache.loads });
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.stats.requests++;
    this.route(req, res).catch((e: Error) => {
      if (!res.headersSent) sendText(res, 500, `internal error: ${e.message}\n`);
      else res.destroy();
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const p = url.pathname;
    if (p === '/crn/graphql') return this.graphql(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed\n');
    if (p.startsWith(S3_PREFIX)) return this.s3Object(req, res, url);
    const obj = /^\/crn\/datasets\/([^/]+)\/objects\/([^/]+)$/.exec(p);
    if (obj) return this.objectById(req, res, decodeURIComponent(obj[1]), decodeURIComponent(obj[2]), url);
    const blob = /^\/_fake\/blob\/(\d+)$/.exec(p);
    if (blob) return this.benchBlob(req, res, Number(blob[1]));
    if (p === '/' || p === '/_fake/health') return sendText(res, 200, `fake-openneuro: ${this.datasets.length} datasets\n`);
    return sendText(res, 404, 'not found\n');
  }

  // ---- GraphQL -------------------------------------------------------------------------

  private async graphql(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    let body: { query?: string; variables?: Record<string, unknown>; operationName?: string };
    if (req.method === 'POST') {
      try {
        body = JSON.parse((await readBody(req)).toString('utf8') || '{}');
      } catch {
        return sendJson(res, 400, { errors: [{ message: 'body is not JSON' }] });
      }
    } else if (req.method === 'GET' && url.searchParams.has('query')) {
      body = { query: url.searchParams.get('query')!, variables: JSON.parse(url.searchParams.get('variables') || '{}') };
    } else return sendText(res, 405, 'POST a GraphQL query\n');
    if (!body.query) return sendJson(res, 400, { errors: [{ message: 'no query' }] });
    let doc;
    try {
      doc = parseQuery(body.query);
    } catch (e) {
      if (e instanceof GraphQLSyntaxError) return sendJson(res, 400, { errors: [{ message: `Syntax Error: ${e.message}` }] });
      throw e;
    }
    const vars = body.variables ?? {};
    this.stats.graphql.queries++;
    const recursive = hasFieldWithArg(doc, 'files', 'recursive', true, vars);
    const fault = this.faults.graphqlFault(body.query + JSON.stringify(vars), recursive);
    if (fault === 'gqlerror') return sendText(res, this.faults.detail(body.query) < 0.5 ? 502 : 503, 'upstream error\n');
    if (fault === 'gqltimeout') {
      // Hang like a gateway waiting on a slow resolver, then give up with a 504 page.
      await this.delay(this.faults.spec.gqlTimeoutMs ?? 2000);
      if (res.destroyed) return;
      res.writeHead(504, { 'content-type': 'text/html' });
      res.end(HTML_504);
      return;
    }
    const result = await execute(doc, this.queryRoot(), vars, body.operationName);
    sendJson(res, 200, result);
  }

  private queryRoot(): Record<string, unknown> {
    return {
      __typename: 'Query',
      datasets: (args: Record<string, unknown>) => {
        this.stats.graphql.catalog++;
        return this.datasetConnection(args);
      },
      dataset: ({ id }: { id: string }) => {
        const d = this.byId.get(id);
        if (!d) throw new Error('Dataset not found');
        return this.datasetObject(d);
      },
      snapshot: ({ datasetId, tag }: { datasetId: string; tag: string }) => {
        const d = this.byId.get(datasetId);
        const s = d?.snapshot(tag);
        if (!d || !s) throw new Error(`Snapshot ${datasetId}:${tag} not found`);
        return this.snapshotObject(d, s.tag);
      },
      participantCount: () => null,
    };
  }

  private datasetConnection(args: Record<string, unknown>): unknown {
    const first = Math.min(100, Math.max(1, Number(args.first ?? 25)));
    const modality = typeof args.modality === 'string' ? args.modality.toLowerCase() : null;
    const all = modality ? this.datasets.filter((d) => d.meta.modalities.some((m) => m.toLowerCase() === modality)) : this.datasets;
    let start = 0;
    if (typeof args.after === 'string' && args.after) {
      const afterId = decodeCursor(args.after);
      const i = all.findIndex((d) => d.id === afterId);
      if (i < 0) throw new Error('Invalid cursor');
      start = i + 1;
    }
    const page = all.slice(start, start + first);
    return {
      edges: page.map((d) => ({ id: d.id, cursor: encodeCursor(d.id), node: this.datasetObject(d) })),
      pageInfo: {
        hasNextPage: start + first < all.length,
        hasPreviousPage: start > 0,
        startCursor: page.length ? encodeCursor(page[0].id) : null,
        endCursor: page.length ? encodeCursor(page[page.length - 1].id) : null,
        count: all.length,
      },
    };
  }

  private datasetObject(d: FakeDataset): Record<string, unknown> {
    const name = descriptionName(d);
    return {
      __typename: 'Dataset',
      id: d.id,
      created: d.snapshots[0].created,
      public: true,
      name,
      publishDate: d.snapshots[0].created,
      latestSnapshot: () => this.snapshotObject(d, d.latest.tag),
      snapshots: () => d.snapshots.map((s) => this.snapshotObject(d, s.tag)),
      draft: () => ({
        id: d.id,
        head: d.latest.hexsha,
        modified: d.latest.created,
        description: () => this.descriptionObject(d),
        files: (args: Record<string, unknown>) => this.filesField(d, d.latest.tag, args),
      }),
      metadata: { datasetId: d.id, datasetName: name, modalities: d.meta.modalities },
      analytics: { datasetId: d.id, views: 0, downloads: 0 },
      onBrainlife: false,
    };
  }

  private snapshotObject(d: FakeDataset, tag: string): Record<string, unknown> {
    const s = d.snapshot(tag)!;
    return {
      __typename: 'Snapshot',
      id: `${d.id}:${s.tag}`,
      tag: s.tag,
      created: s.created,
      hexsha: s.hexsha,
      deprecated: null,
      dataset: () => this.datasetObject(d),
      description: () => this.descriptionObject(d),
      readme: null,
      summary: () => ({
        id: s.hexsha,
        modalities: d.meta.modalities,
        primaryModality: d.meta.modalities[0] ?? null,
        subjects: d.meta.subjects,
        totalFiles: d.meta.fileCount,
        size: async () => (await d.listing(s.tag)).totalSize,
        dataProcessed: null,
      }),
      size: async () => (await d.listing(s.tag)).totalSize,
      files: (args: Record<string, unknown>) => this.filesField(d, s.tag, args),
      downloadFiles: () => this.filesField(d, s.tag, { recursive: true }),
    };
  }

  private descriptionObject(d: FakeDataset): Record<string, unknown> {
    const desc = d.meta.description ?? {};
    const str = (v: unknown) => (v === undefined || v === null ? null : typeof v === 'string' ? v : JSON.stringify(v));
    const list = (v: unknown) => (v === undefined || v === null ? null : Array.isArray(v) ? v.map(String) : [String(v)]);
    return {
      id: d.latest.hexsha,
      Name: descriptionName(d),
      BIDSVersion: str(desc.BIDSVersion) ?? '',
      License: str(desc.License),
      Authors: list(desc.Authors),
      Acknowledgements: str(desc.Acknowledgements),
      HowToAcknowledge: str(desc.HowToAcknowledge),
      Funding: list(desc.Funding),
      ReferencesAndLinks: list(desc.ReferencesAndLinks),
      DatasetDOI: str(desc.DatasetDOI),
      DatasetType: str(desc.DatasetType),
      EthicsApprovals: list(desc.EthicsApprovals),
      SeniorAuthor: null,
    };
  }

  /** `files(tree:, recursive:)`: one directory level (root by default), or every file with its full path. */
  private async filesField(d: FakeDataset, tag: string, args: Record<string, unknown>): Promise<unknown[]> {
    const listing = await d.listing(tag);
    if (args.recursive === true) {
      this.stats.graphql.recursive++;
      return listing.files.map((f) => this.fileObject(d, f, f.path));
    }
    this.stats.graphql.tree++;
    let dir: DirectoryNode = listing.root;
    if (typeof args.tree === 'string' && args.tree) {
      const hit = listing.dirsById.get(args.tree);
      if (!hit) throw new Error(`tree ${args.tree} not found`);
      dir = hit;
    }
    const dirs = dir.dirs.map((sub) => ({
      id: sub.id,
      key: sub.id,
      filename: sub.path.slice(sub.path.lastIndexOf('/') + 1),
      size: 0,
      annexed: false,
      directory: true,
      urls: [],
    }));
    return [...dirs, ...dir.files.map((f) => this.fileObject(d, f, f.path.slice(f.path.lastIndexOf('/') + 1)))];
  }

  private fileObject(d: FakeDataset, f: ServedFile, filename: string): Record<string, unknown> {
    return {
      id: f.id,
      key: f.id,
      filename,
      size: f.listedSize,
      annexed: f.annexed,
      directory: false,
      urls: [`${this.baseUrl}${S3_PREFIX}${encodeURIComponent(d.id)}/${encodePath(f.path)}?versionId=${versionIdOf(d.id, f)}`],
    };
  }

  // ---- files ----------------------------------------------------------------------------

  private async s3Object(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const rest = url.pathname.slice(S3_PREFIX.length);
    const slash = rest.indexOf('/');
    const datasetId = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
    const filePath = slash < 0 ? '' : rest.slice(slash + 1).split('/').map(decodeURIComponent).join('/');
    const d = this.byId.get(datasetId);
    const versionId = url.searchParams.get('versionId');
    const versioned = versionId !== null;
    const fault = this.faults.fileFault(`${req.method} ${url.pathname}${url.search}`, { head: req.method === 'HEAD', versioned });
    if (fault === 'versioned404') return sendS3Error(res, 404, 'NoSuchVersion', 'The specified version does not exist.');
    if (!d) return this.notFound(res);
    // A version id names the snapshot the file was listed in; without one, the latest.
    let found: { file: ServedFile; listing: SnapshotListing } | null = null;
    for (let i = d.snapshots.length - 1; i >= 0 && !found; i--) {
      const listing = await d.listing(d.snapshots[i].tag);
      const file = listing.byPath.get(filePath);
      if (file && (!versioned || versionIdOf(d.id, file) === versionId)) found = { file, listing };
      if (!versioned) break;
    }
    if (!found) return versioned ? sendS3Error(res, 404, 'NoSuchVersion', 'The specified version does not exist.') : this.notFound(res);
    return this.serveFile(req, res, d, found.file, fault);
  }

  private async objectById(req: http.IncomingMessage, res: http.ServerResponse, datasetId: string, id: string, url: URL): Promise<void> {
    const d = this.byId.get(datasetId);
    const fault = this.faults.fileFault(`${req.method} ${url.pathname}`, { head: req.method === 'HEAD', versioned: false });
    if (!d) return this.notFound(res);
    for (let i = d.snapshots.length - 1; i >= 0; i--) {
      const file = (await d.listing(d.snapshots[i].tag)).byId.get(id);
      if (file) return this.serveFile(req, res, d, file, fault === 'versioned404' ? null : fault);
    }
    return this.notFound(res);
  }

  private notFound(res: http.ServerResponse): void {
    this.stats.files.notFound++;
    sendS3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
  }

  private async serveFile(req: http.IncomingMessage, res: http.ServerResponse, d: FakeDataset, file: ServedFile, fault: FileFault | null): Promise<void> {
    const isHead = req.method === 'HEAD';
    if (isHead) this.stats.files.head++;
    else {
      this.stats.files.get++;
      const k = `${d.id}/${file.path}`;
      this.stats.getsByFile[k] = (this.stats.getsByFile[k] ?? 0) + 1;
    }
    if (fault === 'error') {
      const statuses = [500, 502, 503, 504];
      return sendText(res, statuses[Math.floor(this.faults.detail(`${req.url}#${this.stats.requests}`) * statuses.length)], 'Internal Error\n');
    }
    if (fault === '429') {
      res.writeHead(429, { 'retry-after': String(this.faults.spec.retryAfter ?? 1), 'content-type': 'text/plain' });
      res.end('Too Many Requests\n');
      return;
    }
    if (fault === 'html504') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': HTML_504.length });
      res.end(isHead ? undefined : HTML_504);
      return;
    }
    // HEAD needs only the size: skip building the bytes.
    let body = isHead ? Buffer.alloc(0) : await d.content(file);
    const bodySize = isHead ? file.size : body.length;
    const always = this.faults.isAlwaysCorrupt(d.id, file.path);
    if ((fault === 'corrupt' || always) && body.length > 0) {
      body = Buffer.from(body);
      body[Math.floor(body.length / 2)] ^= 0xff;
    }
    const headers: http.OutgoingHttpHeaders = {
      'content-type': contentTypeOf(file.path),
      'accept-ranges': 'bytes',
      etag: `"${file.md5}"`,
      'last-modified': new Date(Date.parse(d.latest.created) || 0).toUTCString(),
      'x-amz-version-id': versionIdOf(d.id, file),
    };
    const range = parseRange(req.headers.range, bodySize);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${bodySize}`, 'content-length': 0 });
      res.end();
      return;
    }
    if (isHead) {
      headers['content-length'] = range ? range.end - range.start + 1 : bodySize;
      if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${bodySize}`;
      res.writeHead(range ? 206 : 200, headers);
      return void res.end();
    }
    let status = 200;
    let slice = body;
    if (range) {
      status = 206;
      slice = body.subarray(range.start, range.end + 1);
      this.stats.files.rangeGets++;
    }
    if (fault === 'truncate' && slice.length > 1) {
      // A short body that announces itself as complete.
      const cut = Math.max(1, Math.floor(slice.length * (0.2 + 0.6 * this.faults.detail(`${req.url}#cut`))));
      slice = slice.subarray(0, cut);
      if (range) headers['content-range'] = `bytes ${range.start}-${range.start + cut - 1}/${body.length}`;
    } else if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${body.length}`;
    headers['content-length'] = slice.length;
    res.writeHead(status, headers);
    if (fault === 'reset' && slice.length > 1) return this.sendThenReset(res, slice);
    if (fault === 'trickle') return this.trickle(res, slice, 0);
    if (fault === 'stall' && slice.length > 1) return this.stallMidway(res, slice);
    this.send(res, slice, true);
  }

  /** Write body bytes, counting what actually goes out (bytesServed). */
  private send(res: http.ServerResponse, bytes: Buffer, end: boolean, cb?: () => void): void {
    this.stats.files.bytesServed += bytes.length;
    if (end) res.end(bytes, cb);
    else res.write(bytes, cb);
  }

  /** Send part of the body, then drop the connection. */
  private sendThenReset(res: http.ServerResponse, slice: Buffer): void {
    const cut = Math.max(1, Math.floor(slice.length / 2));
    this.send(res, slice.subarray(0, cut), false, () => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        res.socket?.resetAndDestroy?.() ?? res.destroy();
      }, 10);
      this.timers.add(t);
    });
  }

  private trickle(res: http.ServerResponse, slice: Buffer, from: number): void {
    if (res.destroyed || this.closing) return;
    const chunk = this.faults.spec.trickleChunk ?? 4096;
    if (from + chunk >= slice.length) return this.send(res, slice.subarray(from), true);
    this.send(res, slice.subarray(from, from + chunk), false);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.trickle(res, slice, from + chunk);
    }, this.faults.spec.trickleDelayMs ?? 20);
    this.timers.add(t);
  }

  private stallMidway(res: http.ServerResponse, slice: Buffer): void {
    const cut = Math.floor(slice.length / 2);
    this.send(res, slice.subarray(0, cut), false);
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!res.destroyed && !this.closing) this.send(res, slice.subarray(cut), true);
    }, this.faults.spec.stallMs ?? 3000);
    this.timers.add(t);
  }

  /** Deterministic bytes of any size, streamed (benchmarks against curl). Supports Range. */
  private benchBlob(req: http.IncomingMessage, res: http.ServerResponse, size: number): void {
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${size}` });
      return void res.end();
    }
    const start = range ? range.start : 0;
    const end = range ? range.end + 1 : size;
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream', 'content-length': end - start, 'accept-ranges': 'bytes' };
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      this.stats.files.head++;
      return void res.end();
    }
    this.stats.files.get++;
    if (range) this.stats.files.rangeGets++;
    const block = benchBlock();
    let pos = start;
    const pump = () => {
      while (pos < end && !res.destroyed) {
        const offset = pos % block.length;
        const n = Math.min(block.length - offset, end - pos);
        pos += n;
        this.stats.files.bytesServed += n;
        if (!res.write(block.subarray(offset, offset + n))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

let benchBlockCache: Buffer | null = null;
/** 4 MiB of pseudo-random bytes, repeated by the bench route. */
function benchBlock(): Buffer {
  if (!benchBlockCache) {
    const parts: Buffer[] = [];
    for (let i = 0; i < 128; i++) parts.push(crypto.createHash('sha256').update(`bench${i}`).digest());
    const seed = Buffer.concat(parts); // 4 KiB
    benchBlockCache = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < 1024; i++) {
      seed.copy(benchBlockCache, i * seed.length);
      seed[i % seed.length] ^= i & 0xff; // vary the repeats a little
    }
  }
  return benchBlockCache;
}

function descriptionName(d: FakeDataset): string {
  const n = d.meta.description?.Name;
  return typeof n === 'string' && n.trim() ? n : d.id;
}

function encodeCursor(id: string): string {
  return Buffer.from(JSON.stringify({ id })).toString('base64');
}

function decodeCursor(cursor: string): string | null {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64').toString('utf8')).id ?? null;
  } catch {
    return null;
  }
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

function contentTypeOf(p: string): string {
  if (p.endsWith('.json')) return 'application/json';
  if (p.endsWith('.tsv')) return 'text/tab-separated-values';
  if (/\.(gz)$/.test(p)) return 'application/gzip';
  if (/(^|\/)(README|CHANGES|LICENSE)[^/]*$/.test(p) || /\.(txt|bval|bvec|md)$/.test(p)) return 'text/plain';
  return 'application/octet-stream';
}

/** Parse a single `bytes=a-b` / `bytes=a-` / `bytes=-n` range. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
}

function sendS3Error(res: http.ServerResponse, status: number, code: string, message: string): void {
  const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>\n`);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': body.length });
  res.end(body);
}
