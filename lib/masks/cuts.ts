// Cut surfaces: large flat facets where the head ends abruptly against voxels at the image minimum.
// Defacing tools leave them (quickshear: one plane; pydeface/mri_deface: the faces of a registered
// face block); so does a field of view that truncates the head, which is not anonymization and is
// told apart by being aligned with the voxel grid and having no head beyond it.
import type { Dims, Vec3 } from '../volume/shape.js';
import type { Volume } from './volume.js';
import { seededRandom } from '../random.js';

export interface CutParams {
  /** Max distance of an inlier from the plane, mm. */
  toleranceMm: number;
  /** Min cosine between an inlier's surface normal and the plane normal. */
  normalAgreement: number;
  /** Min facet area to count as a cut, mm² (a natural head surface stays flat over far less). */
  minAreaMm2: number;
  /** Max RMS distance of the inliers from the fitted plane, mm: cuts are flatter than any anatomy. */
  maxRmsMm: number;
  /** A plane within this angle of a voxel axis may be the field of view's edge. */
  fovAxisDegrees: number;
  maxPlanes: number;
  iterations: number;
}

export const CUT_PARAMS: CutParams = {
  toleranceMm: 1.5,
  normalAgreement: 0.9,
  minAreaMm2: 2500,
  maxRmsMm: 0.65,
  fovAxisDegrees: 3,
  maxPlanes: 4,
  iterations: 400,
};

export interface Plane {
  /** Unit normal pointing out of the head (into the removed side), in mm space. */
  normal: Vec3;
  /** Offset: points x (mm, index · spacing) on the plane satisfy normal · x = offset. */
  offset: number;
  areaMm2: number;
  rmsMm: number;
  /** Fraction of head voxels on the outer side of the plane. */
  headBeyond: number;
  /** Bounding box of the facet's points, mm-index space. */
  inlierLoMm: Vec3;
  inlierHiMm: Vec3;
  kind: 'fov' | 'anonymization' | 'other';
}

interface SurfacePoints {
  pos: Float32Array;
  normal: Float32Array;
  count: number;
}

/** Half-width (voxels) of the neighbourhood whose head voxels give a surface normal. */
const NORMAL_RADIUS = 2;

/** Head voxels that touch (6-neighbourhood) a non-head voxel holding exactly the image minimum. */
function cutCandidates(head: Uint8Array, atMin: Uint8Array, vol: Volume): SurfacePoints {
  const [nx, ny, nz] = vol.dims;
  const nxy = nx * ny;
  const pos: number[] = [];
  const nrm: number[] = [];
  const sp = vol.spacing;
  for (let k = 1; k < nz - 1; k++)
    for (let j = 1; j < ny - 1; j++)
      for (let i = 1; i < nx - 1; i++) {
        const p = i + j * nx + k * nxy;
        if (!head[p]) continue;
        const touches =
          (!head[p - 1] && atMin[p - 1]) || (!head[p + 1] && atMin[p + 1]) ||
          (!head[p - nx] && atMin[p - nx]) || (!head[p + nx] && atMin[p + nx]) ||
          (!head[p - nxy] && atMin[p - nxy]) || (!head[p + nxy] && atMin[p + nxy]);
        if (!touches) continue;
        // Outward normal: away from the centre of the head voxels in a small neighbourhood.
        let gx = 0, gy = 0, gz = 0;
        for (let c = -NORMAL_RADIUS; c <= NORMAL_RADIUS; c++) {
          const kk = k + c;
          if (kk < 0 || kk >= nz) continue;
          for (let b = -NORMAL_RADIUS; b <= NORMAL_RADIUS; b++) {
            const jj = j + b;
            if (jj < 0 || jj >= ny) continue;
            const row = jj * nx + kk * nxy;
            for (let a = -NORMAL_RADIUS; a <= NORMAL_RADIUS; a++) {
              const ii = i + a;
              if (ii < 0 || ii >= nx || !head[row + ii]) continue;
              gx -= a * sp[0];
              gy -= b * sp[1];
              gz -= c * sp[2];
            }
          }
        }
        const len = Math.hypot(gx, gy, gz);
        if (len < 1e-6) continue;
        pos.push(i * sp[0], j * sp[1], k * sp[2]);
        nrm.push(gx / len, gy / len, gz / len);
      }
  return { pos: Float32Array.from(pos), normal: Float32Array.from(nrm), count: pos.length / 3 };
}

function inliersOf(pts: SurfacePoints, active: Uint8Array, n: Vec3, offset: number, tol: number, agree: number): number[] {
  const out: number[] = [];
  for (let q = 0; q < pts.count; q++) {
    if (!active[q]) continue;
    const d = n[0] * pts.pos[3 * q] + n[1] * pts.pos[3 * q + 1] + n[2] * pts.pos[3 * q + 2] - offset;
    if (Math.abs(d) > tol) continue;
    if (n[0] * pts.normal[3 * q] + n[1] * pts.normal[3 * q + 1] + n[2] * pts.normal[3 * q + 2] < agree) continue;
    out.push(q);
  }
  return out;
}

/** Least-squares plane through points: centroid and the covariance's smallest eigenvector. */
function fitPlane(pts: SurfacePoints, idx: number[], orient: Vec3): { normal: Vec3; offset: number; rms: number } {
  const c = [0, 0, 0];
  for (const q of idx) for (let a = 0; a < 3; a++) c[a] += pts.pos[3 * q + a];
  for (let a = 0; a < 3; a++) c[a] /= idx.length;
  const cov = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (const q of idx) {
    const d = [pts.pos[3 * q] - c[0], pts.pos[3 * q + 1] - c[1], pts.pos[3 * q + 2] - c[2]];
    for (let r = 0; r < 3; r++) for (let s = 0; s < 3; s++) cov[3 * r + s] += d[r] * d[s];
  }
  let n = smallestEigenvector(cov);
  if (n[0] * orient[0] + n[1] * orient[1] + n[2] * orient[2] < 0) n = [-n[0], -n[1], -n[2]];
  const offset = n[0] * c[0] + n[1] * c[1] + n[2] * c[2];
  let ss = 0;
  for (const q of idx) {
    const d = n[0] * pts.pos[3 * q] + n[1] * pts.pos[3 * q + 1] + n[2] * pts.pos[3 * q + 2] - offset;
    ss += d * d;
  }
  return { normal: n, offset, rms: Math.sqrt(ss / idx.length) };
}

/** Smallest eigenvector of a symmetric 3x3 matrix (row-major), by inverse power iteration on a shifted matrix. */
function smallestEigenvector(m: number[]): Vec3 {
  // Power iteration on (trace·I - M) converges to M's smallest eigenvector.
  const tr = m[0] + m[4] + m[8];
  const a = m.map((v, i) => (i % 4 === 0 ? tr - v : -v));
  let v: Vec3 = [0.577, 0.577, 0.577];
  for (let it = 0; it < 200; it++) {
    const w: Vec3 = [a[0] * v[0] + a[1] * v[1] + a[2] * v[2], a[3] * v[0] + a[4] * v[1] + a[5] * v[2], a[6] * v[0] + a[7] * v[1] + a[8] * v[2]];
    const len = Math.hypot(...w) || 1;
    v = [w[0] / len, w[1] / len, w[2] / len];
  }
  return v;
}

function headBeyondFraction(head: Uint8Array, dims: Dims, spacing: Vec3, n: Vec3, offset: number, marginMm: number): number {
  const [nx, ny, nz] = dims;
  let beyond = 0;
  let total = 0;
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) {
      const base = n[1] * j * spacing[1] + n[2] * k * spacing[2] - offset;
      for (let i = 0; i < nx; i++, p++) {
        if (!head[p]) continue;
        total++;
        if (base + n[0] * i * spacing[0] > marginMm) beyond++;
      }
    }
  return total ? beyond / total : 0;
}

function axisAligned(n: Vec3, degrees: number): boolean {
  const c = Math.cos((degrees * Math.PI) / 180);
  return Math.max(Math.abs(n[0]), Math.abs(n[1]), Math.abs(n[2])) >= c;
}

/** A cut on the face side: its outward normal points anterior and/or inferior. */
function facesFace(n: Vec3): boolean {
  return n[1] - n[2] > 0.3;
}

/** Find the large flat facets of the head surface that end against minimum-valued voxels. */
export function findCutPlanes(vol: Volume, head: Uint8Array, atMin: Uint8Array, params: CutParams = CUT_PARAMS): Plane[] {
  const all = cutCandidates(head, atMin, vol);
  if (all.count === 0) return [];
  const voxelArea = Math.pow(vol.spacing[0] * vol.spacing[1] * vol.spacing[2], 2 / 3);
  const minInliers = params.minAreaMm2 / voxelArea;
  const active = new Uint8Array(all.count).fill(1);
  const random = seededRandom(12345);
  const planes: Plane[] = [];
  for (let round = 0; round < params.maxPlanes; round++) {
    let remaining = 0;
    for (let q = 0; q < all.count; q++) remaining += active[q];
    if (remaining < minInliers) break;
    const activeIdx: number[] = [];
    for (let q = 0; q < all.count; q++) if (active[q]) activeIdx.push(q);
    // Hypotheses from single points and their normals; scored on a subsample for speed.
    const sample = activeIdx.length > 20000 ? Array.from({ length: 20000 }, () => activeIdx[Math.floor(random() * activeIdx.length)]) : activeIdx;
    const sampleMask = new Uint8Array(all.count);
    for (const q of sample) sampleMask[q] = 1;
    let best = { score: 0, normal: [0, 0, 1] as Vec3, offset: 0 };
    for (let it = 0; it < params.iterations; it++) {
      const q = sample[Math.floor(random() * sample.length)];
      const n: Vec3 = [all.normal[3 * q], all.normal[3 * q + 1], all.normal[3 * q + 2]];
      const offset = n[0] * all.pos[3 * q] + n[1] * all.pos[3 * q + 1] + n[2] * all.pos[3 * q + 2];
      const score = inliersOf(all, sampleMask, n, offset, params.toleranceMm, params.normalAgreement).length;
      if (score > best.score) best = { score, normal: n, offset };
    }
    if (best.score === 0) break;
    // Refine on all active points: refit, then recollect inliers twice.
    let normal = best.normal;
    let offset = best.offset;
    let inliers = inliersOf(all, active, normal, offset, params.toleranceMm * 1.5, params.normalAgreement);
    let rms = 0;
    for (let pass = 0; pass < 2 && inliers.length >= 3; pass++) {
      const fit = fitPlane(all, inliers, normal);
      normal = fit.normal;
      offset = fit.offset;
      inliers = inliersOf(all, active, normal, offset, params.toleranceMm, params.normalAgreement);
      rms = fit.rms;
    }
    // Retire the facet's points (a little generously) whatever its verdict.
    for (const q of inliersOf(all, active, normal, offset, params.toleranceMm * 2, 0.5)) active[q] = 0;
    if (inliers.length < minInliers || rms > params.maxRmsMm) continue;
    const headBeyond = headBeyondFraction(head, vol.dims, vol.spacing, normal, offset, 1);
    const fov = axisAligned(normal, params.fovAxisDegrees) && headBeyond < 0.002;
    const lo: Vec3 = [Infinity, Infinity, Infinity];
    const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
    for (const q of inliers)
      for (let a = 0; a < 3; a++) {
        lo[a] = Math.min(lo[a], all.pos[3 * q + a]);
        hi[a] = Math.max(hi[a], all.pos[3 * q + a]);
      }
    planes.push({
      normal,
      offset,
      areaMm2: inliers.length * voxelArea,
      rmsMm: rms,
      headBeyond,
      inlierLoMm: lo,
      inlierHiMm: hi,
      kind: fov ? 'fov' : facesFace(normal) ? 'anonymization' : 'other',
    });
  }
  return planes;
}

/** Voxels on the removed side of every given plane (their intersection), as a mask. */
export function beyondPlanes(dims: Dims, spacing: Vec3, planes: Plane[], marginMm = 0): Uint8Array {
  const [nx, ny, nz] = dims;
  const out = new Uint8Array(nx * ny * nz);
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        let inside = planes.length > 0;
        for (const pl of planes) {
          const d = pl.normal[0] * i * spacing[0] + pl.normal[1] * j * spacing[1] + pl.normal[2] * k * spacing[2] - pl.offset;
          if (d < -marginMm) {
            inside = false;
            break;
          }
        }
        out[p] = inside ? 1 : 0;
      }
  return out;
}
