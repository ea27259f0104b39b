// The rating service: the two-rater web tool (served by `openmind rate`) and the stored ratings.
export { startRatingServer, type RatingServer, type RatingServerOptions } from './server.js';
export {
  addRater,
  aggregateTask,
  currentRatings,
  exportRatings,
  finishRatingTask,
  getRatingTask,
  importRatings,
  listRaters,
  listRatings,
  namedRater,
  nextTaskFor,
  qualityScoreOf,
  raterByToken,
  ratingHistory,
  registerRatingTask,
  storePredictedScore,
  submitRating,
  tasksForRater,
  type FinishTaskInput,
} from './ratings.js';
export * from '../../lib/rating/index.js';
