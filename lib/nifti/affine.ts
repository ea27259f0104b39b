// Voxel -> world geometry: qform/sform affines, the reverse (affine -> qform
// quaternion) and axis orientation codes, following nibabel's semantics.
import type { NiftiHeader } from './types.js';

type Mat3 = number[][];

/** Number of image dimensions (dim[0]) clamped to the valid 1..7 range. */
function ndimOf(h: NiftiHeader): number {
  return Math.min(7, Math.max(1, Math.trunc(h.dim[0] ?? 3)));
}

/** Voxel sizes pixdim[1..ndim]. */
export function voxelSizes(h: NiftiHeader): number[] {
  return h.pixdim.slice(1, 1 + ndimOf(h));
}

/**
 * 4x4 voxel -> RAS mm affine: sform when sform_code > 0, else qform when
 * qform_code > 0, else nibabel's fallback (pixdim scaling, x flipped, centred).
 */
export function affineOf(h: NiftiHeader): number[][] {
  if (h.sformCode > 0) return sformAffine(h);
  if (h.qformCode > 0) return qformAffine(h);
  return baseAffine(h);
}

export function sformAffine(h: NiftiHeader): number[][] {
  return [[...h.srowX.slice(0, 4)], [...h.srowY.slice(0, 4)], [...h.srowZ.slice(0, 4)], [0, 0, 0, 1]];
}

/** Affine from the qform quaternion, pixdim and qfac (nibabel get_qform). */
export function qformAffine(h: NiftiHeader): number[][] {
  const { quaternB: b, quaternC: c, quaternD: d } = h;
  const w2 = 1 - (b * b + c * c + d * d);
  const a = w2 < 0 ? 0 : Math.sqrt(w2);
  const rotation = quaternionToMatrix(a, b, c, d);
  // NIfTI: qfac is -1 or 1; anything else (commonly 0) means 1.
  const qfac = h.pixdim[0] < 0 ? -1 : 1;
  const zooms = [h.pixdim[1], h.pixdim[2], h.pixdim[3] * qfac];
  const offsets = [h.qoffsetX, h.qoffsetY, h.qoffsetZ];
  return [0, 1, 2]
    .map((i) => [rotation[i][0] * zooms[0], rotation[i][1] * zooms[1], rotation[i][2] * zooms[2], offsets[i]])
    .concat([[0, 0, 0, 1]]);
}

/** nibabel's Analyze-style affine used when neither sform nor qform is set. */
export function baseAffine(h: NiftiHeader): number[][] {
  const ndim = ndimOf(h);
  const shape = [1, 2, 3].map((i) => (i <= ndim ? h.dim[i] : 1));
  const zooms = [1, 2, 3].map((i) => (i <= ndim ? h.pixdim[i] : 1));
  zooms[0] = -zooms[0];
  const out = identity4();
  for (let i = 0; i < 3; i++) {
    out[i][i] = zooms[i];
    out[i][3] = -((shape[i] - 1) / 2) * zooms[i];
  }
  return out;
}

function identity4(): number[][] {
  return [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
}

/** Rotation matrix of a (not necessarily normalised) quaternion w,x,y,z. */
export function quaternionToMatrix(w: number, x: number, y: number, z: number): Mat3 {
  const norm = w * w + x * x + y * y + z * z;
  if (norm < Number.EPSILON) return [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  const s = 2 / norm;
  const [X, Y, Z] = [x * s, y * s, z * s];
  const [wX, wY, wZ] = [w * X, w * Y, w * Z];
  const [xX, xY, xZ] = [x * X, x * Y, x * Z];
  const [yY, yZ, zZ] = [y * Y, y * Z, z * Z];
  return [
    [1 - (yY + zZ), xY - wZ, xZ + wY],
    [xY + wZ, 1 - (xX + zZ), yZ - wX],
    [xZ - wY, yZ + wX, 1 - (xX + yY)],
  ];
}

/** Quaternion (w >= 0) of a proper rotation matrix (Shepperd's method). */
export function matrixToQuaternion(m: Mat3): [number, number, number, number] {
  const trace = m[0][0] + m[1][1] + m[2][2];
  let q: [number, number, number, number];
  if (trace > 0) {
    const s = 2 * Math.sqrt(trace + 1);
    q = [0.25 * s, (m[2][1] - m[1][2]) / s, (m[0][2] - m[2][0]) / s, (m[1][0] - m[0][1]) / s];
  } else if (m[0][0] > m[1][1] && m[0][0] > m[2][2]) {
    const s = 2 * Math.sqrt(1 + m[0][0] - m[1][1] - m[2][2]);
    q = [(m[2][1] - m[1][2]) / s, 0.25 * s, (m[0][1] + m[1][0]) / s, (m[0][2] + m[2][0]) / s];
  } else if (m[1][1] > m[2][2]) {
    const s = 2 * Math.sqrt(1 + m[1][1] - m[0][0] - m[2][2]);
    q = [(m[0][2] - m[2][0]) / s, (m[0][1] + m[1][0]) / s, 0.25 * s, (m[1][2] + m[2][1]) / s];
  } else {
    const s = 2 * Math.sqrt(1 + m[2][2] - m[0][0] - m[1][1]);
    q = [(m[1][0] - m[0][1]) / s, (m[0][2] + m[2][0]) / s, (m[1][2] + m[2][1]) / s, 0.25 * s];
  }
  return q[0] < 0 ? [-q[0], -q[1], -q[2], -q[3]] : q;
}

function det3(m: Mat3): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/** Inverse transpose of a 3x3 matrix, or undefined when singular. */
function inverseTranspose3(m: Mat3): Mat3 | undefined {
  const det = det3(m);
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) return undefined;
  // Cofactor matrix divided by the determinant is the inverse transpose.
  const c = (r0: number, c0: number, r1: number, c1: number) => m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
  return [
    [c(1, 1, 2, 2) / det, -c(1, 0, 2, 2) / det, c(1, 0, 2, 1) / det],
    [-c(0, 1, 2, 2) / det, c(0, 0, 2, 2) / det, -c(0, 0, 2, 1) / det],
    [c(0, 1, 1, 2) / det, -c(0, 0, 1, 2) / det, c(0, 0, 1, 1) / det],
  ];
}

/**
 * Nearest orthogonal matrix (polar factor, same as U*V' of the SVD) by Newton
 * iteration; undefined when the matrix is singular.
 */
export function nearestOrthogonal(m: Mat3): Mat3 | undefined {
  let x = m.map((row) => [...row]);
  for (let iter = 0; iter < 100; iter++) {
    const invT = inverseTranspose3(x);
    if (!invT) return undefined;
    let change = 0;
    const next = x.map((row, i) =>
      row.map((v, j) => {
        const n = 0.5 * (v + invT[i][j]);
        change = Math.max(change, Math.abs(n - v));
        return n;
      }),
    );
    x = next;
    if (change < 1e-15) break;
  }
  return x;
}

/** Column lengths of the 3x3 part of an affine (the voxel sizes it implies). */
export function affineZooms(affine: number[][]): number[] {
  return [0, 1, 2].map((j) => Math.hypot(affine[0][j], affine[1][j], affine[2][j]));
}

export interface QformParams extends Pick<NiftiHeader, 'quaternB' | 'quaternC' | 'quaternD' | 'qoffsetX' | 'qoffsetY' | 'qoffsetZ'> {
  qfac: 1 | -1;
  zooms: number[];
}

/** Decompose an affine into qform parameters (nibabel set_qform, shears stripped). */
export function affineToQform(affine: number[][]): QformParams {
  const zooms = affineZooms(affine).map((z) => (z === 0 ? 1 : z));
  const r: Mat3 = [0, 1, 2].map((i) => [0, 1, 2].map((j) => affine[i][j] / zooms[j]));
  let qfac: 1 | -1 = 1;
  if (det3(r) <= 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) r[i][2] = -r[i][2];
  }
  const rotation = nearestOrthogonal(r) ?? [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  const [, b, c, d] = matrixToQuaternion(rotation);
  return {
    quaternB: b, quaternC: c, quaternD: d,
    qoffsetX: affine[0][3], qoffsetY: affine[1][3], qoffsetZ: affine[2][3],
    qfac, zooms,
  };
}

/**
 * Axis codes of an affine like nibabel's aff2axcodes, e.g. 'RAS' or 'LIA':
 * for each voxel axis, the world axis it moves along most and its direction.
 */
export function orientationCodes(affine: number[][]): string {
  const labels = [['L', 'R'], ['P', 'A'], ['I', 'S']];
  const zooms = affineZooms(affine).map((z) => (z === 0 ? 1 : z));
  const scaled: Mat3 = [0, 1, 2].map((i) => [0, 1, 2].map((j) => affine[i][j] / zooms[j]));
  const r = nearestOrthogonal(scaled) ?? scaled;
  const remaining = r.map((row) => [...row]);
  let codes = '';
  for (let inAxis = 0; inAxis < 3; inAxis++) {
    const column = remaining.map((row) => row[inAxis]);
    const outAxis = argmaxAbs(column);
    if (outAxis < 0 || Math.abs(column[outAxis]) < 1e-8) {
      codes += '?';
      continue;
    }
    codes += labels[outAxis][column[outAxis] < 0 ? 0 : 1];
    // Each world axis can be claimed once (resolves ties like nibabel).
    remaining[outAxis] = [0, 0, 0];
  }
  return codes;
}

function argmaxAbs(values: number[]): number {
  let best = -1;
  let bestAbs = -1;
  values.forEach((v, i) => {
    if (Math.abs(v) > bestAbs) {
      best = i;
      bestAbs = Math.abs(v);
    }
  });
  return best;
}
