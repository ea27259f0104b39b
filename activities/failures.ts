// Lib errors as Temporal failures, in one place: bad input is final (non-retryable) and keeps the
// error's machine-readable reason; anything else stays retryable.
import { ApplicationFailure } from '@temporalio/common';

/** A lib error with a machine-readable reason (and optional details) as a non-retryable failure of `type`. */
export function nonRetryableFrom(err: { message: string; reason?: string; details?: Record<string, unknown> }, type = 'InvalidInput'): ApplicationFailure {
  return ApplicationFailure.nonRetryable(err.message, type, { reason: err.reason, ...(err.details ?? {}) });
}

/** Errors that lib/ throws for input no rerun can fix (by class name: errors from worker threads arrive as plain objects). */
const INPUT_ERRORS = new Set(['MaskInputError', 'DwiInputError', 'NiftiValidationError', 'GradientTableError', 'QualityError', 'InputFileError']);

/** A lib/ error for bad input as a non-retryable failure; anything else as it is. */
export function asStepFailure(err: unknown): unknown {
  const e = err as Error & { reason?: string; details?: Record<string, unknown> };
  if (e && (INPUT_ERRORS.has(e.name) || INPUT_ERRORS.has(e.constructor?.name))) return nonRetryableFrom(e);
  return err;
}
