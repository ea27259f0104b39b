// Widths of the skin's edge against the air. An intact head's skin ends within a voxel or two
// everywhere; a blurred face's skin edge is spread over the blur's width, and noise added on top does
// not narrow it. The width is read from two scales of Gaussian derivative: at a step blurred by s,
// the gradient's peak at scale σ is proportional to 1/√(s² + σ²), so the ratio of the peaks at σ1
// and σ2 gives s whatever the edge's contrast, and averages the noise out.
import { gaussianSmooth, largestComponent, squaredDistance } from '../volume/morphology.js';
import type { Dims, Vec3 } from '../volume/shape.js';
import { flaggedShares, median } from '../volume/statistics.js';
import type { Volume } from './volume.js';

export interface SkinEdgeParams {
  /** The two derivative scales, mm. */
  fineMm: number;
  coarseMm: number;
  /** A skin edge is wide when it is wider than the rest of the scalp's median by this much, mm. */
  wideMarginMm: number;
  /** Blurred when the share of wide skin edges in the face zone exceeds the rest of the scalp's by this much. */
  minWideShareGain: number;
  /** Neighbourhood (Gaussian sigma, mm) over which a skin edge's neighbours vote on "wide". */
  voteMm: number;
  /** Depth of the blurred region under its wide skin, mm, and its reach into the smeared air in front of it. */
  depthMm: number;
  airReachMm: number;
}

export const SKIN_EDGE_PARAMS: SkinEdgeParams = { fineMm: 2, coarseMm: 4, wideMarginMm: 0.8, minWideShareGain: 0.2, voteMm: 5, depthMm: 25, airReachMm: 8 };

export interface SkinEdgeFinding {
  /** Share of wide skin edges in the face zone and over the rest of the scalp. */
  faceWideShare: number;
  elsewhereWideShare: number;
  detected: boolean;
  /** The blurred region: the tissue under the wide face skin and the smeared air in front of it. */
  region: Uint8Array;
}

function gradient(v: Float32Array, dims: Dims, spacing: Vec3): [Float32Array, Float32Array, Float32Array] {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const g: [Float32Array, Float32Array, Float32Array] = [new Float32Array(v.length), new Float32Array(v.length), new Float32Array(v.length)];
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        if (i > 0 && i < nx - 1) g[0][p] = (v[p + 1] - v[p - 1]) / (2 * spacing[0]);
        if (j > 0 && j < ny - 1) g[1][p] = (v[p + nx] - v[p - nx]) / (2 * spacing[1]);
        if (k > 0 && k < nz - 1) g[2][p] = (v[p + nxy] - v[p - nxy]) / (2 * spacing[2]);
      }
  return g;
}

/**
 * Skin-edge widths (mm) on the grid: NaN except at skin edges, i.e. voxels where the fine-scale
 * gradient peaks along its own direction, with air two voxels outward and head two voxels inward.
 */
export function skinEdgeWidths(vol: Volume, head: Uint8Array, exclude: Uint8Array, params: SkinEdgeParams = SKIN_EDGE_PARAMS): Float32Array {
  const { dims, spacing } = vol;
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const fine = gradient(gaussianSmooth(vol.data, dims, spacing, params.fineMm), dims, spacing);
  const coarse = gradient(gaussianSmooth(vol.data, dims, spacing, params.coarseMm), dims, spacing);
  const magnitude = (g: typeof fine, p: number) => Math.hypot(g[0][p], g[1][p], g[2][p]);
  const s1 = params.fineMm ** 2;
  const s2 = params.coarseMm ** 2;
  const widths = new Float32Array(vol.data.length).fill(NaN);
  for (let k = 3; k < nz - 3; k++)
    for (let j = 3; j < ny - 3; j++)
      for (let i = 3; i < nx - 3; i++) {
        const p = i + nx * j + nxy * k;
        if (exclude[p]) continue;
        const g1 = magnitude(fine, p);
        if (!(g1 > 0)) continue;
        // The neighbour along the gradient (the 26-neighbour nearest its direction, in voxels).
        const u = [fine[0][p] / spacing[0], fine[1][p] / spacing[1], fine[2][p] / spacing[2]];
        const m = Math.max(Math.abs(u[0]), Math.abs(u[1]), Math.abs(u[2]));
        const q = Math.round(u[0] / m) + nx * Math.round(u[1] / m) + nxy * Math.round(u[2] / m);
        if (head[p - 2 * q] || !head[p + 2 * q]) continue;
        if (g1 < magnitude(fine, p + q) || g1 < magnitude(fine, p - q)) continue;
        const r2 = (g1 / Math.max(magnitude(coarse, p), 1e-12)) ** 2;
        const w2 = r2 > 1 ? (s2 - r2 * s1) / (r2 - 1) : Infinity;
        widths[p] = Math.sqrt(Math.max(0, Math.min(w2, s2 * 25)));
      }
  return widths;
}

/**
 * Blur found from the skin: the face zone's skin edges are wide far more often than the rest of the
 * scalp's. The wide skin is where most skin edges nearby are wide (inside `search`, one piece); the
 * region is the tissue whose nearest air lies at that skin (down to depthMm), and the air with signal
 * within airReachMm in front of it.
 */
export function detectWideSkin(vol: Volume, head: Uint8Array, nearBrain: Uint8Array, zone: Uint8Array, search: Uint8Array, min: number, params: SkinEdgeParams = SKIN_EDGE_PARAMS): SkinEdgeFinding {
  const n = vol.data.length;
  const widths = skinEdgeWidths(vol, head, nearBrain, params);
  const elsewhere: number[] = [];
  for (let p = 0; p < n; p++) if (!Number.isNaN(widths[p]) && !zone[p]) elsewhere.push(widths[p]);
  const elsewhereWidthMm = elsewhere.length ? median(Float64Array.from(elsewhere), { method: 'higher', float64: true }) : 0;
  const wide = new Float32Array(n);
  const edge = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    if (Number.isNaN(widths[p])) continue;
    edge[p] = 1;
    wide[p] = widths[p] > elsewhereWidthMm + params.wideMarginMm ? 1 : 0;
  }
  const shares = flaggedShares(wide, edge, zone);
  const faceWideShare = shares.inside;
  const elsewhereWideShare = shares.outside;
  const detected = faceWideShare - elsewhereWideShare >= params.minWideShareGain;
  const region = new Uint8Array(n);
  if (detected) {
    const votes = gaussianSmooth(wide, vol.dims, vol.spacing, params.voteMm);
    const support = gaussianSmooth(edge, vol.dims, vol.spacing, params.voteMm);
    let seeds: Uint8Array = new Uint8Array(n);
    for (let p = 0; p < n; p++) seeds[p] = edge[p] && search[p] && votes[p] > 0.5 * support[p] ? 1 : 0;
    seeds = largestComponent(seeds, vol.dims);
    const toSkin = squaredDistance(seeds, vol.dims, vol.spacing);
    const toAir = squaredDistance(Uint8Array.from(head, (h) => 1 - h), vol.dims, vol.spacing);
    const tolerance = Math.max(...vol.spacing);
    for (let p = 0; p < n; p++) {
      if (nearBrain[p]) continue;
      const skin = Math.sqrt(toSkin[p]);
      if (head[p]) {
        const depth = Math.sqrt(toAir[p]);
        region[p] = depth <= params.depthMm && skin <= depth + tolerance ? 1 : 0;
      } else {
        region[p] = vol.data[p] > min && skin <= params.airReachMm ? 1 : 0;
      }
    }
  }
  return { faceWideShare, elsewhereWideShare, detected, region };
}
