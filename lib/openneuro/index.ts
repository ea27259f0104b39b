// OpenNeuro as a source: GraphQL client, file selection, resumable verified downloads.
export { OpenNeuroError, isOpenNeuroError, type OpenNeuroReason } from './errors.js';
export { isSafeRelativePath, safeJoin, assertSafeRelativePath, unsafePathReason } from './safe-path.js';
export { parseAnnexKey, makeAnnexKey, annexExtension, type AnnexKey, type AnnexBackend } from './annex-key.js';
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
  selectFiles,
  classifyForDownload,
  compileGlob,
  bidsSuffix,
  DEFAULT_ANAT_SUFFIXES,
  type Selected,
  type SelectionOptions,
  type FileRole,
} from './selection.js';
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
export { createStreamHasher, hashFile, type Digests, type HashAlgorithm, type HasherOptions, type StreamHasher } from './hashing.js';
