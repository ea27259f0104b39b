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

/** How the maps are derived: a tensor fit (≥ 6 non-collinear directions in the shells used) or the clinical trace (fewer). */
export type DwiModel = 'tensor' | 'trace';

export interface DwiGradients {
  /** b-values, s/mm². */
  bvals: number[];
  /** Unit vectors in the FSL frame as given (b0 rows zero). */
  bvecs: Vec3[];
  b0: number[];
  /** Volumes used by the fit: the b0s and the diffusion-weighted volumes of `shellsUsed`. */
  fitVolumes: number[];
  /** The diffusion-weighted volumes of `shellsUsed`. */
  dwVolumes: number[];
  shells: number[];
  /** Nominal b-values (rounded to 100) of the shells the maps come from. */
  shellsUsed: number[];
  /** Distinct directions (antipodes count once) in the shells used. */
  directions: number;
  model: DwiModel;
  /** Why there is no tensor (model 'trace'). */
  noTensorReason?: string;
  /** Free text, each prefixed by a code where one applies (`tensor_high_b: …`, `trace_anisotropic_directions: …`). */
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
 * non_finite, bvals_si_units, bad_bval, no_b0, non_unit_bvec, no_diffusion_weighting.
 * Shells: the b ≤ 1500 shells when they determine a tensor (≥ 6 non-collinear
 * directions); else the lowest shell at any b that does (warning
 * `tensor_high_b`); else model 'trace' (direction-averaged ADC, no FA).
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
  if (nominal.length === 0) {
    throw new DwiInputError('no_diffusion_weighting', `every volume has b ≤ ${B0_THRESHOLD} s/mm²: no diffusion weighting, so no ADC, FA or trace`, { volumes });
  }
  const dwOf = (shells: number[]) => bvals.map((_, i) => i).filter((i) => bvals[i] > B0_THRESHOLD && shells.includes(shellOfVolume[i]));
  const determines = (shells: number[]) => {
    const dirs = dwOf(shells).map((i) => unit[i]);
    return distinctDirections(dirs) >= 6 && tensorConditioning(dirs) >= 1e-6;
  };
  // 1. The shells at b ≤ 1500 together; 2. else the lowest single shell (any b) that determines a tensor.
  const low = nominal.filter((b) => b <= TENSOR_MAX_B);
  let shellsUsed: number[] | undefined;
  let model: DwiModel = 'tensor';
  let noTensorReason: string | undefined;
  if (low.length > 0 && determines(low)) shellsUsed = low;
  else {
    const high = nominal.find((b) => b > TENSOR_MAX_B && determines([b]));
    if (high !== undefined) {
      shellsUsed = [high];
      const lowNote = low.length ? `the b ≤ ${TENSOR_MAX_B} shells (${low.join(', ')}) hold only ${distinctDirections(dwOf(low).map((i) => unit[i]))} usable directions` : `no shell at b ≤ ${TENSOR_MAX_B}`;
      warnings.push(
        `tensor_high_b: ${lowNote}; the tensor was fitted on the b=${high} shell (${distinctDirections(dwOf([high]).map((i) => unit[i]))} directions). ` +
          'ADC/MD at high b are lower than at b≈1000 (non-Gaussian diffusion) and FA is noisier',
      );
    }
  }
  if (!shellsUsed) {
    // Clinical trace: the shell with ≥ 3 directions at the lowest b (else the one with the most directions).
    model = 'trace';
    const byShell = nominal.map((b) => ({ b, n: distinctDirections(dwOf([b]).map((i) => unit[i])) }));
    byShell.sort((x, y) => (x.n >= 3 ? 0 : 1) - (y.n >= 3 ? 0 : 1) || (x.n >= 3 ? x.b - y.b : y.n - x.n || x.b - y.b));
    shellsUsed = [byShell[0].b];
    const best = Math.max(...byShell.map((x) => x.n));
    noTensorReason =
      best >= 6
        ? 'the gradient directions do not determine a tensor (e.g. all in one plane): no FA or MD; ADC and TRACE from the direction average'
        : `at most ${best} distinct direction(s) per shell (a tensor needs 6 non-collinear): no FA or MD; ADC and TRACE from the direction average`;
    const dirs = dwOf(shellsUsed).map((i) => unit[i]);
    // The direction average equals the mean diffusivity only when Σ g gᵀ ∝ I (e.g. 3 orthogonal directions).
    const m = [0, 0, 0, 0, 0, 0];
    for (const [x, y, z] of dirs) { m[0] += x * x; m[1] += y * y; m[2] += z * z; m[3] += x * y; m[4] += x * z; m[5] += y * z; }
    const dev = Math.max(...m.map((v, k) => Math.abs(v / dirs.length - (k < 3 ? 1 / 3 : 0))));
    if (dev > 0.05) {
      warnings.push(`trace_anisotropic_directions: the ${dirs.length} directions at b=${shellsUsed[0]} are not isotropically spread (Σ g gᵀ/n deviates from I/3 by ${dev.toFixed(2)}); ADC depends on fibre orientation`);
    }
  }
  const dwVolumes = dwOf(shellsUsed);
  const fitVolumes = [...b0, ...dwVolumes].sort((x, y) => x - y);
  const directions = distinctDirections(dwVolumes.map((i) => unit[i]));
  return { bvals, bvecs: unit, b0, fitVolumes, dwVolumes, shells: nominal, shellsUsed, directions, model, noTensorReason, warnings };
}

/** FSL-frame vector ↔ voxel frame: the x component flips when det(affine) > 0. */
export function fslToVoxel(g: readonly number[], determinant: number): Vec3 {
  return [determinant > 0 ? -g[0] || 0 : g[0], g[1], g[2]];
}
