// Small JSON shapes that travel through Temporal: ids, paths, hashes, summaries. Never voxels.

export type DatasetSource =
  /** allowedRoots: real folders outside `path` that its links may point into (e.g. a DataLad annex on other storage). */
  | { kind: 'local'; path: string; datasetId?: string; allowedRoots?: string[] }
  | { kind: 'openneuro'; datasetId: string; endpoint?: string; tag?: string; include?: string[]; exclude?: string[] };

/** A crawl source as typed by a user: a local folder, or OpenNeuro dataset ids / "all". */
export type CrawlSource =
  | { kind: 'local'; path: string; datasetId?: string; allowedRoots?: string[] }
  | { kind: 'openneuro'; endpoint?: string; datasets: string[] | 'all'; include?: string[]; exclude?: string[] };

export interface PipelineOptions {
  /** Scan child workflows run at once per dataset. */
  scanConcurrency?: number;
  /** Dataset child workflows run at once per crawl. */
  datasetConcurrency?: number;
  /** Export folder; default `<data dir>/export`. */
  exportDir?: string;
  /** Skip the export step (benchmarks). */
  skipExport?: boolean;
  /** Mask step: run the MindGrab network (default when the model store has it), and its grid in mm (default 1). */
  masks?: { useNetwork?: boolean; networkGridMm?: number };
  /** Skip the quality steps (metrics, rating tasks, rating workflows). */
  skipQuality?: boolean;
  /** Only fetch, verify and validate (a download-first crawl); derivation, masks and metrics wait for a later run. */
  intakeOnly?: boolean;
}

export interface ScanRef {
  scanId: string;
  datasetId: string;
  path: string;
  kind: '3d' | 'dwi';
  modality: string;
  /** The bytes come from a remote source (OpenNeuro) and are fetched by the scan pipeline. */
  remote?: boolean;
}

export interface ScanOutcome {
  scanId: string;
  status: 'completed' | 'failed';
  failedStep?: string;
  reason?: string;
  message?: string;
  /** Steps that ran (false) or were found done (true). */
  skipped: Record<string, boolean>;
}

export interface DatasetOutcome {
  datasetId: string;
  status: 'completed' | 'failed';
  version?: string;
  scans: number;
  completed: number;
  failed: number;
  failures: { scanId: string; step?: string; reason?: string; message?: string }[];
  /** Anatomy masks by how their brain was found: 'mindgrab' (the network), 'classical' (no network), 'dataset' (shipped mask). */
  maskMethods?: Record<string, number>;
  reason?: string;
  message?: string;
  exportDir?: string;
}

export interface CrawlSummary {
  crawlId: string;
  datasets: number;
  completed: number;
  failed: number;
  scans: number;
  scansCompleted: number;
  scansFailed: number;
  /** Anatomy masks by brain method, summed over the datasets (see DatasetOutcome). */
  maskMethods?: Record<string, number>;
  failures: { datasetId: string; scanId?: string; step?: string; reason?: string; message?: string }[];
}

/** Result of a step activity: the audit interceptor reads skipped and the hashes. */
export interface StepResult<R = unknown> {
  skipped: boolean;
  inputHash: string;
  outputHash: string;
  result: R;
}
