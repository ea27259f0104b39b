// The shape of every lib error: a machine-readable `reason` (and optional details) next to the
// message. A library declares its reasons and subclasses this (see lib/rating/errors.ts).
export class ReasonedError<R extends string = string> extends Error {
  readonly reason: R;
  readonly details?: Record<string, unknown>;
  constructor(reason: R, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.reason = reason;
    this.details = details;
  }
}
