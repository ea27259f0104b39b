// OpenNeuro over the network: the GraphQL client and resumable verified downloads, with the pure parts
// of lib/openneuro re-exported, so callers import one module.
export * from '../../lib/openneuro/index.js';
export {
  graphqlRequest,
  graphqlUrl,
  iterateCatalog,
  listCatalog,
  listSnapshotFiles,
  candidateUrls,
  type CatalogEntry,
  type SnapshotFile,
  type SnapshotListing,
  type ListFilesOptions,
  type GraphQLOptions,
} from './client.js';
export {
  downloadFile,
  isAlreadyDownloaded,
  looksLikeHtml,
  parseRetryAfter,
  DEFAULT_RETRY_POLICY,
  type DownloadFileOptions,
  type DownloadResult,
  type RetryPolicy,
} from './download.js';
export { HostLimiter, defaultHostLimiter, hostOf, type Release } from './host-limiter.js';
