// Markers of workflow graph changes (patched()), in one place. Each stays until no run started
// before its change can still be open (a crawl's runs, or a quality rating that waits for raters).
export const PATCHES = {
  /** 2026-12: datasetPipeline continues as new after a fixed number of scan pages, not only when Temporal suggests it. */
  pagesPerRun: 'dataset-pages-per-run',
  /** 2026-12: the collection files' activity is `writeCollectionFiles` (was `writeMetadataTable`, which wrote four files). */
  collectionFiles: 'write-collection-files',
  /** 2026-12: a crawl that fails records status 'failed' and why (it stayed 'running'). */
  crawlFailureRecorded: 'crawl-failure-recorded',
} as const;
