// Errors of the quality library carry a machine-readable reason next to the message.
export type QualityErrorReason =
  | 'shape_mismatch'
  | 'mask_shape_mismatch'
  | 'empty_image'
  | 'empty_mask'
  | 'invalid_png'
  | 'unsupported_png'
  | 'invalid_score'
  | 'duplicate_rater'
  | 'no_scans';

export class QualityError extends Error {
  readonly reason: QualityErrorReason;
  constructor(reason: QualityErrorReason, message: string) {
    super(message);
    this.name = 'QualityError';
    this.reason = reason;
  }
}
