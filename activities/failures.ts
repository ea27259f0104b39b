// Lib errors as Temporal failures: bad data is final (non-retryable), keeping the error's reason.
import { ApplicationFailure } from '@temporalio/common';

/** A lib error with a machine-readable reason (and optional details) as a non-retryable failure of `type`. */
export function nonRetryableFrom(err: { message: string; reason: string; details?: Record<string, unknown> }, type = 'InvalidInput'): ApplicationFailure {
  return ApplicationFailure.nonRetryable(err.message, type, { reason: err.reason, ...(err.details ?? {}) });
}
