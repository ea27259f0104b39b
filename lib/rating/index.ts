// Public entry of the rating tool: the web server and the rating store.
export { startRatingServer, type RatingServer, type RatingServerOptions } from './server.js';
export { RatingError, type RatingErrorReason } from './errors.js';
export {
  addRater,
  aggregateTask,
  ARTIFACT_KINDS,
  currentRatings,
  EXPORT_FORMAT,
  exportRatings,
  getRatingTask,
  hashToken,
  imagesOfTask,
  importRatings,
  listRaters,
  listRatings,
  namedRater,
  nextTaskFor,
  parseRatingsExport,
  qualityScoreOf,
  raterByToken,
  ratingHistory,
  registerRatingTask,
  SCORE_LABELS,
  submitRating,
  tasksForRater,
  type ArtifactKind,
  type ExportedRating,
  type RatingRecord,
  type RatingTaskInput,
  type SubmitRatingInput,
  type TaskScan,
} from './store.js';
export { finishRatingTask, measureScan, qcAssetPaths, type FinishTaskInput, type MeasureScanInput } from './prepare.js';
