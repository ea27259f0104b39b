// OpenNeuro as a source, the pure part: file selection, annex keys, safe paths, hashing, errors.
// The network side (GraphQL client, downloads) is in services/openneuro.
export { OpenNeuroError, isOpenNeuroError, type OpenNeuroReason } from './errors.js';
export { isSafeRelativePath, safeJoin, assertSafeRelativePath, unsafePathReason } from './safe-path.js';
export { parseAnnexKey, makeAnnexKey, annexExtension, type AnnexKey, type AnnexBackend } from './annex-key.js';
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
export { createStreamHasher, hashFile, type Digests, type HashAlgorithm, type HasherOptions, type StreamHasher } from './hashing.js';
