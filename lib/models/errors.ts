// Errors of the model store, converter and session helper, each with a machine-readable reason.
import { ReasonedError } from '../errors.js';

export type ModelErrorReason =
  | 'unknown_model'
  | 'download_failed'
  | 'checksum_mismatch'
  | 'unsupported_model'
  | 'corrupt_model'
  | 'session_failed'
  | 'inference_failed';

export class ModelError extends ReasonedError<ModelErrorReason> {}
