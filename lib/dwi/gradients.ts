// FSL-convention gradient tables (.bval: one row of N b-values; .bvec: 3 rows of N unit vectors).
import type { Vec3 } from '../volume/shape.js';
import { DwiInputError } from './errors.js';

export class GradientTableError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

function numbersOf(text: string): number[][] {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => l.split(/[\s,]+/).map(Number));
}

export function parseBval(text: string): number[] {
  const rows = numbersOf(text);
  const values = rows.length === 1 ? rows[0] : rows.map((r) => r[0]);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new GradientTableError('bad_bval', 'the .bval file does not hold a row of numbers');
  }
  return values;
}

/** Parse a .bvec: 3×N (FSL) or N×3 (transposed, seen in the wild). Returns N vectors. */
export function parseBvec(text: string, expectedCount?: number): [number, number, number][] {
  const rows = numbersOf(text);
  let vectors: [number, number, number][];
  if (rows.length === 3 && (expectedCount === undefined || rows[0].length === expectedCount || rows[0].length !== 3)) {
    const n = rows[0].length;
    if (rows.some((r) => r.length !== n)) throw new GradientTableError('bad_bvec', 'the .bvec rows differ in length');
    vectors = Array.from({ length: n }, (_, i) => [rows[0][i], rows[1][i], rows[2][i]]);
  } else if (rows.every((r) => r.length === 3)) {
    vectors = rows.map((r) => [r[0], r[1], r[2]]);
  } else {
    throw new GradientTableError('bad_bvec', 'the .bvec file is neither 3×N nor N×3');
  }
  return vectors;
}

export interface GradientCheck {
  volumes: number;
  b0Count: number;
  directions: number;
  shells: number[];
}

/** Checks that need only the table and the 4th dimension (DWI derivation does the rest). */
export function checkGradientTable(bvals: number[], bvecs: [number, number, number][], volumes: number): GradientCheck {
  if (bvals.length !== volumes || bvecs.length !== volumes) {
    throw new GradientTableError(
      'gradient_count_mismatch',
      `the series has ${volumes} volumes but .bval lists ${bvals.length} and .bvec ${bvecs.length}`,
    );
  }
  const b0Count = bvals.filter((b) => b <= 50).length;
  const shells = [...new Set(bvals.filter((b) => b > 50).map((b) => Math.round(b / 100) * 100))].sort((a, b) => a - b);
  return { volumes, b0Count, directions: bvals.length - b0Count, shells };
}

// ---------------------------------------------------------------------------
// Validation for DWI derivation: every bad table is a DwiInputError with a
// machine-readable reason (see errors.ts).


/** b-values at or below this are b0 (s/mm²; Philips writes 0.001–0.004 for its extra b0s). */
export const B0_THRESHOLD = 50;
/** Shells up to this b-value (nominal, rounded to 100) feed the tensor fit. */
export const TENSOR_MAX_B = 1500;
/** |‖g‖ - 1| above this is an error; between 1e-3 and this, the vector is normalised with a warning. */
const UNIT_TOLERANCE = 0.1;
/** Directions closer than this (|cos|, antipodes equal) count once. */
const SAME_DIRECTION_COS = 0.9995;

export interface DwiGradients {
  /** b-values, s/mm². */
  bvals: number[];
  /** Unit vectors in the FSL frame as given (b0 rows zero). */
  bvecs: Vec3[];
  b0: number[];
  /** Volumes used by the tensor fit (b0s and shells with b ≤ 1500). */
  fitVolumes: number[];
  shells: number[];
  shellsUsed: number[];
  directions: number;
  warnings: string[];
}

/** Nominal shells: b-values grouped when within 100 s/mm² of their neighbour, reported rounded to 100. */
function shellsOf(bvals: number[]): { nominal: number[]; shellOfVolume: number[] } {
  const dw = bvals.map((b, i) => ({ b, i })).filter((x) => x.b > B0_THRESHOLD).sort((a, b) => a.b - b.b);
  const shellOfVolume = bvals.map(() => 0);
  const groups: number[][] = [];
  for (const x of dw) {
    const last = groups[groups.length - 1];
    if (last && x.b - bvals[last[last.length - 1]] <= 100) last.push(x.i);
    else groups.push([x.i]);
  }
  const nominal = groups.map((g) => Math.round(g.reduce((a, i) => a + bvals[i], 0) / g.length / 100) * 100);
  groups.forEach((g, k) => g.forEach((i) => (shellOfVolume[i] = nominal[k])));
  return { nominal, shellOfVolume };
}

/** Count distinct directions (antipodal pairs equal). */
function distinctDirections(vectors: Vec3[]): number {
  const kept: Vec3[] = [];
  for (const g of vectors) {
    if (!kept.some((k) => Math.abs(k[0] * g[0] + k[1] * g[1] + k[2] * g[2]) > SAME_DIRECTION_COS)) kept.push(g);
  }
  return kept.length;
}

/** Smallest eigenvalue ratio of the 6×6 normal matrix of the direction terms: 0 when the tensor is not determined. */
function tensorConditioning(vectors: Vec3[]): number {
  const rows = vectors.map(([x, y, z]) => [x * x, y * y, z * z, 2 * x * y, 2 * x * z, 2 * y * z]);
  const n = 6;
  const a = new Float64Array(n * n);
  for (const r of rows) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] += r[i] * r[j];
  // Cholesky succeeds with a positive pivot floor iff the matrix is well conditioned.
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, a[i * n + i]);
  let minPivot = Infinity;
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 1e-9 * maxDiag)) return 0;
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    minPivot = Math.min(minPivot, d);
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l;
    }
  }
  return minPivot / maxDiag;
}

/**
 * Check and normalise an FSL gradient table for a series of `volumes`
 * volumes. Throws DwiInputError: single_volume, gradient_count_mismatch,
 * non_finite, bvals_si_units, bad_bval, no_b0, non_unit_bvec, too_few_directions.
 */
export function validateDwiGradients(bvals: number[], bvecs: number[][], volumes: number): DwiGradients {
  if (volumes < 2) throw new DwiInputError('single_volume', `a diffusion series needs several volumes; this image has ${volumes}`);
  if (bvals.length !== volumes || bvecs.length !== volumes) {
    throw new DwiInputError('gradient_count_mismatch', `the series has ${volumes} volumes but .bval lists ${bvals.length} and .bvec ${bvecs.length}`, {
      volumes, bvals: bvals.length, bvecs: bvecs.length,
    });
  }
  if (bvals.some((b) => !Number.isFinite(b))) throw new DwiInputError('non_finite', 'the .bval file holds NaN or infinite values');
  if (bvals.some((b) => b < 0)) throw new DwiInputError('bad_bval', 'the .bval file holds negative b-values');
  const maxB = Math.max(...bvals);
  if (maxB >= 1e6) {
    throw new DwiInputError('bvals_si_units', `b-values up to ${maxB.toExponential(2)} look like s/m², not s/mm²`, { maxB });
  }
  const warnings: string[] = [];
  const b0 = bvals.map((b, i) => (b <= B0_THRESHOLD ? i : -1)).filter((i) => i >= 0);
  if (b0.length === 0) throw new DwiInputError('no_b0', `no volume has b ≤ ${B0_THRESHOLD} s/mm²`, { minB: Math.min(...bvals) });
  const unit: Vec3[] = bvecs.map((g, i) => {
    if (bvals[i] <= B0_THRESHOLD) return [0, 0, 0];
    if (g.length < 3 || g.some((c) => !Number.isFinite(c))) {
      throw new DwiInputError('non_finite', `gradient vector of volume ${i} (b=${bvals[i]}) is not finite`, { volume: i });
    }
    const norm = Math.hypot(g[0], g[1], g[2]);
    if (Math.abs(norm - 1) > UNIT_TOLERANCE) {
      throw new DwiInputError('non_unit_bvec', `gradient vector of volume ${i} (b=${bvals[i]}) has length ${norm.toFixed(4)}, not 1`, { volume: i, norm });
    }
    if (Math.abs(norm - 1) > 1e-3) warnings.push(`bvec of volume ${i} had length ${norm.toFixed(4)}; normalised`);
    return [g[0] / norm, g[1] / norm, g[2] / norm];
  });
  const { nominal, shellOfVolume } = shellsOf(bvals);
  const shellsUsed = nominal.filter((b) => b <= TENSOR_MAX_B);
  const fitVolumes = bvals.map((b, i) => i).filter((i) => bvals[i] <= B0_THRESHOLD || shellsUsed.includes(shellOfVolume[i]));
  const fitDirections = fitVolumes.filter((i) => bvals[i] > B0_THRESHOLD).map((i) => unit[i]);
  const directions = distinctDirections(fitDirections);
  if (directions < 6) {
    throw new DwiInputError('too_few_directions', `the tensor needs ≥ 6 distinct directions at b ≤ ${TENSOR_MAX_B}; found ${directions}`, { directions });
  }
  if (tensorConditioning(fitDirections) < 1e-6) {
    throw new DwiInputError('too_few_directions', 'the gradient directions do not determine a tensor (e.g. all in one plane)', { directions });
  }
  return { bvals, bvecs: unit, b0, fitVolumes, shells: nominal, shellsUsed, directions, warnings };
}

/** FSL-frame vector ↔ voxel frame: the x component flips when det(affine) > 0. */
export function fslToVoxel(g: readonly number[], determinant: number): Vec3 {
  return [determinant > 0 ? -g[0] || 0 : g[0], g[1], g[2]];
}
