// Errors of the model store, converter and session helper, each with a machine-readable reason.

export type ModelErrorReason =
  | 'unknown_model'
  | 'download_failed'
  | 'checksum_mismatch'
  | 'unsupported_model'
  | 'corrupt_model'
  | 'session_failed'
  | 'inference_failed';

export class ModelError extends Error {
  readonly reason: ModelErrorReason;
  readonly details?: Record<string, unknown>;
  constructor(reason: ModelErrorReason, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ModelError';
    this.reason = reason;
    this.details = details;
  }
}
