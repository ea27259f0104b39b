// The download's version (resume, size and annex-key checks): part of the fetch step key.
export const DOWNLOAD_VERSION = '1';
