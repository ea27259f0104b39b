import type { CrawlsTable } from './tables/crawls.js';
import type { DatasetsTable } from './tables/datasets.js';
import type { SubjectsTable } from './tables/subjects.js';
import type { SessionsTable } from './tables/sessions.js';
import type { ScansTable } from './tables/scans.js';
import type { StepOutputsTable } from './tables/step-outputs.js';
import type { DerivedFilesTable } from './tables/derived-files.js';
import type { ScanEventsTable } from './tables/scan-events.js';
import type { RatersTable } from './tables/raters.js';
import type { RatingTasksTable, RatingsTable } from './tables/ratings.js';
import type { PredictedScoresTable, QualityMetricsTable } from './tables/quality-metrics.js';

export interface Database {
  crawls: CrawlsTable;
  datasets: DatasetsTable;
  subjects: SubjectsTable;
  sessions: SessionsTable;
  scans: ScansTable;
  step_outputs: StepOutputsTable;
  derived_files: DerivedFilesTable;
  scan_events: ScanEventsTable;
  quality_metrics: QualityMetricsTable;
  predicted_scores: PredictedScoresTable;
  raters: RatersTable;
  rating_tasks: RatingTasksTable;
  ratings: RatingsTable;
}
