// Errors of DWI derivation carry a machine-readable reason, so that the
// activity can record why a series was rejected without parsing messages.

export type DwiInputReason =
  | 'gradient_count_mismatch'
  | 'too_few_directions'
  | 'no_b0'
  /** Only b0 volumes: nothing to derive ADC, FA or trace from. */
  | 'no_diffusion_weighting'
  | 'single_volume'
  | 'non_finite'
  | 'non_unit_bvec'
  | 'bvals_si_units'
  | 'bad_bval'
  | 'bad_bvec'
  | 'not_4d'
  | 'unreadable';

export class DwiInputError extends Error {
  readonly reason: DwiInputReason;
  readonly details?: Record<string, unknown>;
  constructor(reason: DwiInputReason, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DwiInputError';
    this.reason = reason;
    this.details = details;
  }
}
