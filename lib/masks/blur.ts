// Face blurring: a region on the face side where the tissue has lost its fine texture or its sharp
// edges, compared with the rest of the scalp, often with intensity smeared out into the air in front
// of it. Noise added over a blur refills the fine texture but not the edges: the strongest edge
// near a voxel, on a lightly smoothed image, stays weak. Where strong noise hides even that, the
// skin's edge is still as wide as the blur (skin-edges.ts), which is the second signal.
import { ALL_AXES_EDGED, dilate, fillHoles, gaussianSmooth, largestComponent } from '../volume/morphology.js';
import { countSet, type Dims, type Vec3 } from '../volume/shape.js';
import { flaggedShares, median, valuesIn } from '../volume/statistics.js';
import { downsampleMean, resampleLinear, upsampleNearest } from './resample.js';
import { detectWideSkin } from './skin-edges.js';
import type { Volume } from './volume.js';

export interface BlurParams {
  /** High-pass scale (mm) and the scale over which its energy is pooled (mm). */
  detailMm: number;
  poolMm: number;
  /** A voxel is smooth when its detail ratio is below this fraction of the scalp's median. */
  lowFraction: number;
  /** Edges: gradient of the image smoothed at edgeMm, its maximum within ±edgeReachMm over the local maximum level. */
  edgeMm: number;
  edgeReachMm: number;
  /** A voxel is also smooth when its edge ratio is below this fraction of the scalp's median. */
  edgeFraction: number;
  /** Share of face-zone tissue that must be smooth, and the most the rest of the scalp may be (or, if more, that share of the face zone's). */
  minFaceShare: number;
  maxElsewhereShare: number;
  maxElsewhereOfFace: number;
  /** Neighbourhood (Gaussian sigma, mm) and share of smooth voxels that make a voxel part of the region. */
  voteMm: number;
  voteShare: number;
  /** Grid (mm) the pooling and voting run on. */
  coarseMm: number;
  /** Smallest blurred region, mm³. */
  minVolumeMm3: number;
}

export const BLUR_PARAMS: BlurParams = {
  detailMm: 1.2,
  poolMm: 3,
  lowFraction: 0.3,
  edgeMm: 1,
  edgeReachMm: 4,
  edgeFraction: 0.55,
  minFaceShare: 0.15,
  maxElsewhereShare: 0.12,
  maxElsewhereOfFace: 0.5,
  minVolumeMm3: 20000,
  voteMm: 4,
  voteShare: 0.2,
  coarseMm: 2,
};

export interface BlurFinding {
  detected: boolean;
  /** Which signal found it: the lost texture and edges, or, where noise hides those, the widened skin edge. */
  foundBy?: 'texture' | 'skin_edge';
  mask: Uint8Array;
  faceShare: number;
  elsewhereShare: number;
  /** Share of wide skin edges in the face zone and elsewhere (skin-edges.ts). */
  faceWideSkinShare: number;
  elsewhereWideSkinShare: number;
  volumeMm3: number;
}

/**
 * Face zone: in front of and below the brain, outside it. Everything is relative to the brain's
 * bounding box, so it needs no template registration.
 */
export function faceZone(brain: Uint8Array, vol: Volume): Uint8Array {
  const [nx, ny, nz] = vol.dims;
  let y0 = ny, y1 = -1, z0 = nz, z1 = -1;
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++)
        if (brain[p]) {
          if (j < y0) y0 = j;
          if (j > y1) y1 = j;
          if (k < z0) z0 = k;
          if (k > z1) z1 = k;
        }
  const zone = new Uint8Array(brain.length);
  if (y1 < 0) return zone;
  const yFrom = y1 - 0.3 * (y1 - y0);
  const zTo = z0 + 0.55 * (z1 - z0);
  const nearBrain = dilate(brain, vol.dims, vol.spacing, 3);
  p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) zone[p] = j >= yFrom && k <= zTo && !nearBrain[p] ? 1 : 0;
  return zone;
}

/** Block factors that bring a grid to about `targetMm` voxels. */
function blockFactors(spacing: Vec3, targetMm: number): Vec3 {
  return spacing.map((s) => Math.max(1, Math.round(targetMm / s))) as Vec3;
}

function coarseMask(mask: Uint8Array, dims: Dims, f: Vec3): Uint8Array {
  const down = downsampleMean(Float32Array.from(mask), dims, f);
  const out = new Uint8Array(down.data.length);
  for (let i = 0; i < out.length; i++) out[i] = down.data[i] >= 0.5 ? 1 : 0;
  return out;
}

/**
 * Texture is measured at full resolution (the detail left after a fine Gaussian), then pooled,
 * compared and voted on a ~2 mm grid; the vote is interpolated back so the region's edge stays smooth.
 */
export function detectBlur(vol: Volume, head: Uint8Array, brain: Uint8Array, threshold: number, min: number, params: BlurParams = BLUR_PARAMS): BlurFinding {
  const fine = gaussianSmooth(vol.data, vol.dims, vol.spacing, params.detailMm);
  const detail = new Float32Array(vol.data.length);
  for (let i = 0; i < detail.length; i++) detail[i] = Math.abs(vol.data[i] - fine[i]);
  const f = blockFactors(vol.spacing, params.coarseMm);
  const cDetail = downsampleMean(detail, vol.dims, f);
  const cData = downsampleMean(vol.data, vol.dims, f);
  const cDims = cData.dims;
  const cSpacing = vol.spacing.map((s, a) => s * f[a]) as Vec3;
  const cVol: Volume = { data: cData.data, dims: cDims, spacing: cSpacing };
  const cHead = coarseMask(head, vol.dims, f);
  const cBrain = coarseMask(brain, vol.dims, f);
  const energy = gaussianSmooth(cDetail.data, cDims, cSpacing, params.poolMm);
  const level = gaussianSmooth(cData.data, cDims, cSpacing, params.poolMm);
  const floor = Math.max(threshold - min, 1e-6);
  const n = energy.length;
  const ratio = new Float32Array(n);
  for (let i = 0; i < n; i++) ratio[i] = energy[i] / Math.max(level[i] - min, floor);
  const edge = edgeRatio(vol, f, cData.data, cDims, cSpacing, min, floor, params);

  const zone = faceZone(cBrain, cVol);
  const nearBrain = dilate(cBrain, cDims, cSpacing, 3);
  const scalp = new Uint8Array(n);
  for (let i = 0; i < n; i++) scalp[i] = cHead[i] && !nearBrain[i] && !zone[i] ? 1 : 0;
  const reference = median(valuesIn(ratio, scalp), { method: 'higher', float64: true });
  const edgeReference = median(valuesIn(edge, scalp), { method: 'higher', float64: true });
  const low = new Uint8Array(n);
  for (let i = 0; i < n; i++)
    low[i] = level[i] - min > 0.5 * floor && (ratio[i] < params.lowFraction * reference || edge[i] < params.edgeFraction * edgeReference) ? 1 : 0;

  const tissue = new Uint8Array(n);
  for (let i = 0; i < n; i++) tissue[i] = cHead[i] && !nearBrain[i] ? 1 : 0;
  const { inside: faceShare, outside: elsewhereShare } = flaggedShares(low, tissue, zone);
  const searchZone = dilate(zone, cDims, cSpacing, 15);
  // The blurred region: where most voxels with signal nearby are smooth (a neighbourhood vote is
  // steadier than single voxels, which can be smooth by chance or textured at the blend's edge).
  const signal = new Float32Array(n);
  const lowSignal = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const sig = level[i] - min > 0.5 * floor && searchZone[i] ? 1 : 0;
    signal[i] = sig;
    lowSignal[i] = sig & low[i];
  }
  const votes = gaussianSmooth(lowSignal, cDims, cSpacing, params.voteMm);
  const support = gaussianSmooth(signal, cDims, cSpacing, params.voteMm);
  const share = new Float32Array(n);
  for (let i = 0; i < n; i++) share[i] = signal[i] && !nearBrain[i] && support[i] > 0 ? votes[i] / support[i] : 0;
  // The region's shape (one piece, no holes) is settled on the coarse grid...
  let coarseRegion: Uint8Array = new Uint8Array(n);
  for (let i = 0; i < n; i++) coarseRegion[i] = share[i] > params.voteShare ? 1 : 0;
  coarseRegion = fillHoles(largestComponent(coarseRegion, cDims), cDims, ALL_AXES_EDGED);
  const allowed = dilate(coarseRegion, cDims, cSpacing, 2 * Math.max(...cSpacing));
  for (let i = 0; i < n; i++) if (!allowed[i]) share[i] = 0;
  // ...and its edge on the fine grid, from the interpolated vote (coarse voxel c covers fine c·f .. c·f + f - 1).
  const scale = f.map((v) => 1 / v) as Vec3;
  const offset = f.map((v) => (1 - v) / (2 * v)) as Vec3;
  const fineShare = resampleLinear(share, cDims, vol.dims, scale, offset, 0);
  const filled = upsampleNearest(coarseRegion, cDims, vol.dims, f);
  const region = new Uint8Array(vol.data.length);
  // Keep what holds anatomy or smeared signal; the untouched air around is not part of it.
  for (let i = 0; i < region.length; i++) region[i] = (fineShare[i] > params.voteShare || filled[i]) && (head[i] || vol.data[i] > min) ? 1 : 0;
  const voxelMm3 = vol.spacing[0] * vol.spacing[1] * vol.spacing[2];
  const maxElsewhere = maxElsewhereShare(faceShare, params);
  const regionMm3 = countSet(region) * voxelMm3;
  const texture = faceShare >= params.minFaceShare && elsewhereShare <= maxElsewhere && regionMm3 >= params.minVolumeMm3;
  // Noise added over a blur restores texture and lone strong gradients, but not the width of the
  // skin's edge: the second signal, on the same coarse grid.
  const skin = detectWideSkin(cVol, cHead, nearBrain, zone, searchZone, min);
  const shares = { faceShare, elsewhereShare, faceWideSkinShare: skin.faceWideShare, elsewhereWideSkinShare: skin.elsewhereWideShare };
  if (texture) return { detected: true, foundBy: 'texture', mask: region, ...shares, volumeMm3: regionMm3 };
  const skinRegion = upsampleNearest(skin.region, cDims, vol.dims, f);
  for (let i = 0; i < skinRegion.length; i++) skinRegion[i] &= head[i] || vol.data[i] > min ? 1 : 0;
  const skinMm3 = countSet(skinRegion) * voxelMm3;
  if (skin.detected && skinMm3 >= params.minVolumeMm3) return { detected: true, foundBy: 'skin_edge', mask: skinRegion, ...shares, volumeMm3: skinMm3 };
  return { detected: false, mask: region, ...shares, volumeMm3: regionMm3 };
}

/** The most of the rest of the scalp that may be smooth when a face-zone share is smooth. */
export function maxElsewhereShare(faceShare: number, params: BlurParams = BLUR_PARAMS): number {
  return Math.max(params.maxElsewhereShare, params.maxElsewhereOfFace * faceShare);
}

/**
 * Strongest edge near each coarse voxel relative to the brightest level near it (per mm): the
 * gradient magnitude of the image smoothed at edgeMm, block-averaged to the coarse grid, then the
 * maxima of both within ±edgeReachMm. A sharp tissue boundary keeps it high on any contrast.
 */
function edgeRatio(vol: Volume, f: Vec3, cData: Float32Array, cDims: Dims, cSpacing: Vec3, min: number, floor: number, params: BlurParams): Float32Array {
  const gradient = gradientMagnitude(gaussianSmooth(vol.data, vol.dims, vol.spacing, params.edgeMm), vol.dims, vol.spacing);
  const reach = cSpacing.map((s) => Math.max(1, Math.round(params.edgeReachMm / s))) as Vec3;
  const gMax = maxFilter(downsampleMean(gradient, vol.dims, f).data, cDims, reach);
  const lMax = maxFilter(cData, cDims, reach);
  const out = new Float32Array(cData.length);
  for (let i = 0; i < out.length; i++) out[i] = gMax[i] / Math.max(lMax[i] - min, floor);
  return out;
}

/** |∇v| by central differences (one-sided at the grid's edges), per mm. */
function gradientMagnitude(v: Float32Array, dims: Dims, spacing: Vec3): Float32Array {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const out = new Float32Array(v.length);
  const diff = (p: number, at: number, n: number, stride: number, s: number) => {
    const lo = at > 0 ? p - stride : p;
    const hi = at < n - 1 ? p + stride : p;
    return hi === lo ? 0 : (v[hi] - v[lo]) / ((hi - lo) / stride) / s;
  };
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        const gx = diff(p, i, nx, 1, spacing[0]);
        const gy = diff(p, j, ny, nx, spacing[1]);
        const gz = diff(p, k, nz, nxy, spacing[2]);
        out[p] = Math.sqrt(gx * gx + gy * gy + gz * gz);
      }
  return out;
}

/** Separable box maximum over ±reach[a] voxels along each axis a. */
function maxFilter(v: Float32Array, dims: Dims, reach: Vec3): Float32Array {
  const strides = [1, dims[0], dims[0] * dims[1]];
  let src = v;
  for (let a = 0; a < 3; a++) {
    const out = new Float32Array(src.length);
    const stride = strides[a];
    const n = dims[a];
    const r = reach[a];
    for (let p = 0; p < src.length; p++) {
      const at = Math.floor(p / stride) % n;
      let m = src[p];
      for (let d = Math.max(-r, -at); d <= Math.min(r, n - 1 - at); d++) if (src[p + d * stride] > m) m = src[p + d * stride];
      out[p] = m;
    }
    src = out;
  }
  return src;
}
