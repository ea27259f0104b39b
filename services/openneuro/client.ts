// OpenNeuro GraphQL client (`POST <endpoint>/crn/graphql`): the public MRI catalog and
// the file listing of one snapshot, with the tree walk as fallback when the recursive
// listing is too large or times out.
import { OpenNeuroError } from '../../lib/openneuro/errors.js';
import { unsafePathReason } from '../../lib/openneuro/safe-path.js';

export interface GraphQLOptions {
  /** Per-request timeout (default 60 s). */
  timeoutMs?: number;
  /** Retries of transient failures (default 5). */
  retries?: number;
  /** First backoff delay, doubling (default 500 ms). */
  baseDelayMs?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface CatalogEntry {
  datasetId: string;
  /** `<dataset>:<tag>`. */
  snapshotId: string;
  tag: string;
  created?: string;
  hexsha?: string;
  name?: string;
  doi?: string;
  modalities?: string[];
}

export interface SnapshotFile {
  /** Full relative path in the dataset. */
  path: string;
  size: number | undefined;
  /** File id: the git-annex key for annexed files (`MD5E-s<size>--<md5>.nii.gz`). */
  key: string;
  annexed: boolean;
  urls: string[];
}

export interface SnapshotListing {
  datasetId: string;
  tag: string;
  files: SnapshotFile[];
  /** Entries refused because their path is unsafe (reason code `unsafe_path`). */
  rejected: Array<{ path: string; reason: 'unsafe_path'; why: string }>;
  method: 'recursive' | 'tree';
  /** Why the recursive listing was abandoned, when it was. */
  fallbackReason?: string;
  /** GraphQL requests made. */
  requests: number;
}

export interface ListFilesOptions extends GraphQLOptions {
  /** Timeout of the single `files(recursive: true)` request (default 120 s). */
  recursiveTimeoutMs?: number;
  /** Skip the recursive request when the snapshot is known to hold more files than this. */
  recursiveMaxFiles?: number;
  /** Known file count (e.g. from the catalog summary), compared with recursiveMaxFiles. */
  expectedFileCount?: number;
  /** Directory requests in flight during the tree walk (default 4). */
  treeConcurrency?: number;
  /** Walk the tree without trying the recursive listing first. */
  forceTree?: boolean;
}

interface RawFile {
  id: string;
  key?: string | null;
  filename: string;
  size?: number | string | null;
  annexed?: boolean | null;
  directory?: boolean | null;
  urls?: Array<string | null> | null;
}

const FILE_FIELDS = 'id key filename size annexed directory urls';

export function graphqlUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/crn/graphql') ? base : `${base}/crn/graphql`;
}

function endpointBase(endpoint: string): string {
  return endpoint.replace(/\/+$/, '').replace(/\/crn\/graphql$/, '');
}

/** POST one GraphQL query; retries 408/429/5xx, network errors, timeouts and gateway-timeout errors. */
export async function graphqlRequest<T>(
  endpoint: string,
  query: string,
  variables: Record<string, unknown> = {},
  opts: GraphQLOptions = {},
): Promise<T> {
  const retries = opts.retries ?? 5;
  const baseDelay = opts.baseDelayMs ?? 500;
  let lastError: OpenNeuroError | null = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await sleep(baseDelay * 2 ** (attempt - 1) * (0.8 + 0.4 * Math.random()), opts.signal);
    const result = await graphqlOnce<T>(endpoint, query, variables, opts);
    if (result.ok) return result.data;
    lastError = result.error;
    if (!result.retryable) break;
  }
  throw lastError!;
}

type OnceResult<T> = { ok: true; data: T } | { ok: false; retryable: boolean; error: OpenNeuroError };

async function graphqlOnce<T>(endpoint: string, query: string, variables: Record<string, unknown>, opts: GraphQLOptions): Promise<OnceResult<T>> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 60_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const fail = (retryable: boolean, message: string, details: Record<string, unknown> = {}): OnceResult<T> => ({
    ok: false,
    retryable,
    error: new OpenNeuroError('graphql_error', message, details),
  });
  let res: Response;
  let text: string;
  try {
    res = await fetch(graphqlUrl(endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'openmind-pipeline', ...opts.headers },
      body: JSON.stringify({ query, variables }),
      signal,
    });
    text = await res.text();
  } catch (e) {
    if (opts.signal?.aborted) throw new OpenNeuroError('aborted', 'GraphQL request aborted');
    const timedOut = timeout.aborted;
    return fail(true, timedOut ? `GraphQL request timed out after ${opts.timeoutMs ?? 60_000} ms` : `GraphQL request failed: ${(e as Error).message}`, {
      timedOut,
    });
  }
  if (res.status === 408 || res.status === 429 || res.status >= 500) return fail(true, `GraphQL HTTP ${res.status}`, { status: res.status });
  let body: { data?: T; errors?: Array<{ message?: string }> };
  try {
    body = JSON.parse(text);
  } catch {
    return fail(res.status >= 500, `GraphQL answer is not JSON (HTTP ${res.status})`, { status: res.status });
  }
  if (body.errors?.length) {
    const message = body.errors[0]?.message ?? 'unknown error';
    // OpenNeuro reports upstream timeouts as GraphQL errors ("504 ...", "... due to timeout").
    const transient = /^(502|503|504)\b/.test(message) || /timeout|timed out|ECONNREFUSED|fetch failed/i.test(message);
    return fail(transient, `GraphQL error: ${message}`, { errors: body.errors });
  }
  if (!res.ok || body.data === undefined) return fail(false, `GraphQL HTTP ${res.status} without data`, { status: res.status });
  return { ok: true, data: body.data };
}

const CATALOG_QUERY = `
query Catalog($first: Int, $after: String, $modality: String) {
  datasets(first: $first, after: $after, filterBy: { public: true }, modality: $modality) {
    edges {
      cursor
      node {
        id
        latestSnapshot {
          id
          tag
          created
          hexsha
          description { Name DatasetDOI }
          summary { modalities }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface CatalogPage {
  datasets: {
    edges: Array<{
      cursor: string;
      node: {
        id: string;
        latestSnapshot: null | {
          id: string;
          tag: string;
          created?: string | null;
          hexsha?: string | null;
          description?: { Name?: string | null; DatasetDOI?: string | null } | null;
          summary?: { modalities?: string[] | null } | null;
        };
      } | null;
    } | null> | null;
    pageInfo: { hasNextPage: boolean; endCursor?: string | null };
  } | null;
}

/** Page through the public datasets of a modality (default MRI), newest snapshot of each. */
export async function* iterateCatalog(
  endpoint: string,
  opts: GraphQLOptions & { modality?: string | null; pageSize?: number; maxPages?: number } = {},
): AsyncGenerator<CatalogEntry> {
  let after: string | null = null;
  const modality = opts.modality === undefined ? 'MRI' : opts.modality;
  for (let page = 0; page < (opts.maxPages ?? Infinity); page++) {
    const data: CatalogPage = await graphqlRequest<CatalogPage>(endpoint, CATALOG_QUERY, { first: opts.pageSize ?? 100, after, modality }, opts);
    if (!data.datasets) throw new OpenNeuroError('graphql_error', 'datasets query returned null');
    for (const edge of data.datasets.edges ?? []) {
      const node = edge?.node;
      const snap = node?.latestSnapshot;
      if (!node || !snap) continue; // datasets without a snapshot have nothing to download
      yield {
        datasetId: node.id,
        snapshotId: snap.id,
        tag: snap.tag,
        created: snap.created ?? undefined,
        hexsha: snap.hexsha ?? undefined,
        name: snap.description?.Name ?? undefined,
        doi: snap.description?.DatasetDOI ?? undefined,
        modalities: snap.summary?.modalities ?? undefined,
      };
    }
    const info = data.datasets.pageInfo;
    if (!info.hasNextPage || !info.endCursor) return;
    after = info.endCursor;
  }
}

export async function listCatalog(endpoint: string, opts: Parameters<typeof iterateCatalog>[1] = {}): Promise<CatalogEntry[]> {
  const out: CatalogEntry[] = [];
  for await (const entry of iterateCatalog(endpoint, opts)) out.push(entry);
  return out;
}

const RECURSIVE_QUERY = `
query SnapshotFiles($datasetId: ID!, $tag: String!) {
  snapshot(datasetId: $datasetId, tag: $tag) { id files(recursive: true) { ${FILE_FIELDS} } }
}`;

const TREE_QUERY = `
query SnapshotTree($datasetId: ID!, $tag: String!, $tree: String) {
  snapshot(datasetId: $datasetId, tag: $tag) { id files(tree: $tree) { ${FILE_FIELDS} } }
}`;

type FilesAnswer = { snapshot: { id: string; files: Array<RawFile | null> | null } | null };

/**
 * Every file of a snapshot with its full path. Tries `files(recursive: true)` once; when
 * that fails or times out (large datasets), walks the tree one directory at a time.
 */
export async function listSnapshotFiles(endpoint: string, datasetId: string, tag: string, opts: ListFilesOptions = {}): Promise<SnapshotListing> {
  const listing: SnapshotListing = { datasetId, tag, files: [], rejected: [], method: 'recursive', requests: 0 };
  const tooBig = opts.recursiveMaxFiles !== undefined && (opts.expectedFileCount ?? 0) > opts.recursiveMaxFiles;
  if (!opts.forceTree && !tooBig) {
    try {
      listing.requests++;
      const data = await graphqlRequest<FilesAnswer>(endpoint, RECURSIVE_QUERY, { datasetId, tag }, {
        ...opts,
        timeoutMs: opts.recursiveTimeoutMs ?? 120_000,
        retries: 0,
      });
      const files = requireFiles(data, datasetId, tag);
      for (const raw of files) if (raw && !raw.directory) addFile(listing, raw.filename, raw);
      return listing;
    } catch (e) {
      if ((e as OpenNeuroError).reason === 'aborted' || (e as OpenNeuroError).details?.notFound) throw e;
      listing.fallbackReason = (e as Error).message;
    }
  } else {
    listing.fallbackReason = opts.forceTree ? 'tree walk requested' : `more than ${opts.recursiveMaxFiles} files`;
  }
  listing.method = 'tree';
  listing.files = [];
  listing.rejected = [];
  await walkTree(endpoint, datasetId, tag, listing, opts);
  return listing;
}

function requireFiles(data: FilesAnswer, datasetId: string, tag: string): Array<RawFile | null> {
  if (!data.snapshot) {
    throw new OpenNeuroError('graphql_error', `snapshot ${datasetId}:${tag} not found`, { notFound: true, datasetId, tag });
  }
  return data.snapshot.files ?? [];
}

/** Breadth-first walk over `files(tree: <dir id>)`, a few directories in flight. */
async function walkTree(endpoint: string, datasetId: string, tag: string, listing: SnapshotListing, opts: ListFilesOptions): Promise<void> {
  const queue: Array<{ tree: string | null; prefix: string }> = [{ tree: null, prefix: '' }];
  const cache = new Map<string, Promise<Array<RawFile | null>>>(); // identical subtrees share a git tree id
  const fetchTree = (tree: string | null) => {
    const cacheKey = tree ?? '';
    let p = cache.get(cacheKey);
    if (!p) {
      listing.requests++;
      p = graphqlRequest<FilesAnswer>(endpoint, TREE_QUERY, { datasetId, tag, tree }, opts).then((d) => requireFiles(d, datasetId, tag));
      cache.set(cacheKey, p);
    }
    return p;
  };
  const worker = async () => {
    while (queue.length) {
      const { tree, prefix } = queue.shift()!;
      const entries = await fetchTree(tree);
      for (const raw of entries) {
        if (!raw) continue;
        const full = prefix ? `${prefix}/${raw.filename}` : raw.filename;
        if (raw.directory) {
          const why = unsafePathReason(full);
          if (why) listing.rejected.push({ path: full, reason: 'unsafe_path', why });
          else queue.push({ tree: raw.key ?? raw.id, prefix: full });
        } else {
          addFile(listing, full, raw);
        }
      }
    }
  };
  // Workers drain the shared queue; re-run until no directory is left (late pushes).
  const concurrency = Math.max(1, opts.treeConcurrency ?? 4);
  while (queue.length) await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  listing.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function addFile(listing: SnapshotListing, fullPath: string, raw: RawFile): void {
  const why = unsafePathReason(fullPath);
  if (why) {
    listing.rejected.push({ path: fullPath, reason: 'unsafe_path', why });
    return;
  }
  const size = raw.size === null || raw.size === undefined ? undefined : Number(raw.size);
  listing.files.push({
    path: fullPath,
    size: Number.isFinite(size) ? size : undefined,
    key: raw.id ?? raw.key ?? '',
    annexed: raw.annexed ?? false,
    urls: (raw.urls ?? []).filter((u): u is string => typeof u === 'string' && u.length > 0),
  });
}

/**
 * URLs to try for a file, in order: the listed (versioned S3) URLs, the same S3 URLs without
 * versionId, then OpenNeuro's object endpoint by file id.
 */
export function candidateUrls(file: Pick<SnapshotFile, 'urls' | 'key' | 'path'>, ctx: { endpoint: string; datasetId: string }): string[] {
  const out: string[] = [];
  const add = (u: string) => {
    if (!out.includes(u)) out.push(u);
  };
  for (const u of file.urls) add(u);
  for (const u of file.urls) {
    try {
      const parsed = new URL(u);
      if (parsed.searchParams.has('versionId')) {
        parsed.searchParams.delete('versionId');
        add(parsed.toString());
      }
    } catch {
      // not a URL: leave it to the downloader to fail on
    }
  }
  if (file.key) {
    const name = encodeURIComponent(file.path.split('/').pop() ?? '');
    add(`${endpointBase(ctx.endpoint)}/crn/datasets/${encodeURIComponent(ctx.datasetId)}/objects/${encodeURIComponent(file.key)}?filename=${name}`);
  }
  return out;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new OpenNeuroError('aborted', 'aborted'));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new OpenNeuroError('aborted', 'aborted'));
    }, { once: true });
  });
}
