// Errors of the OpenNeuro source: every failure carries a machine-readable reason code,
// so callers (Temporal activities) can decide between retrying and giving up.

export type OpenNeuroReason =
  /** Content hash differs from the one in the annex key, reproducibly. */
  | 'checksum_mismatch'
  /** Byte count differs from the listing (or the key), reproducibly. */
  | 'size_mismatch'
  /** An HTML error page was served where file bytes were expected. */
  | 'html_instead_of_data'
  /** Every URL answered 404/403/410. */
  | 'not_found'
  /** A remote path would escape the destination folder or has odd characters. */
  | 'unsafe_path'
  /** Transient failures (5xx, 429, resets, stalls) outlasted the retry budget. */
  | 'gave_up'
  /** The caller's AbortSignal fired. */
  | 'aborted'
  /** The GraphQL API answered with errors or an unusable shape. */
  | 'graphql_error'
  /** An HTTP status that is neither retryable nor "not found" (e.g. 400). */
  | 'http_error';

/** Reasons worth retrying later (a fresh attempt may succeed). */
const RETRYABLE: ReadonlySet<OpenNeuroReason> = new Set(['gave_up', 'html_instead_of_data', 'graphql_error', 'http_error']);

export class OpenNeuroError extends Error {
  readonly reason: OpenNeuroReason;
  readonly details: Record<string, unknown>;

  constructor(reason: OpenNeuroReason, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'OpenNeuroError';
    this.reason = reason;
    this.details = details;
  }

  /** Whether a later attempt (e.g. a Temporal activity retry) could succeed. */
  get retryable(): boolean {
    return RETRYABLE.has(this.reason);
  }
}

export function isOpenNeuroError(e: unknown, reason?: OpenNeuroReason): e is OpenNeuroError {
  return e instanceof OpenNeuroError && (reason === undefined || e.reason === reason);
}
