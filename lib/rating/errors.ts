// Errors of the rating tool: a machine-readable reason and the HTTP status it answers with.
import { ReasonedError } from '../errors.js';
export type RatingErrorReason =
  | 'unauthenticated'
  | 'invalid_token'
  | 'token_required'
  | 'admin_required'
  | 'csrf'
  | 'cross_site'
  | 'bad_host'
  | 'invalid_input'
  | 'invalid_score'
  | 'invalid_name'
  | 'unknown_task'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'duplicate_submission'
  | 'duplicate_content'
  | 'concurrent_submission'
  | 'not_your_rating'
  | 'rater_exists'
  | 'import_conflict'
  | 'insecure_bind'
  | 'internal';

const STATUS: Record<RatingErrorReason, number> = {
  unauthenticated: 401,
  invalid_token: 401,
  token_required: 403,
  admin_required: 403,
  csrf: 403,
  cross_site: 403,
  bad_host: 421,
  invalid_input: 400,
  invalid_score: 400,
  invalid_name: 400,
  unknown_task: 404,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  duplicate_submission: 409,
  duplicate_content: 409,
  concurrent_submission: 409,
  not_your_rating: 403,
  rater_exists: 409,
  import_conflict: 409,
  insecure_bind: 400,
  internal: 500,
};

/** `status`: the HTTP status the rating tool answers with. */
export class RatingError extends ReasonedError<RatingErrorReason> {
  readonly status: number = STATUS[this.reason];
}
