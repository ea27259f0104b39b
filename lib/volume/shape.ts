// A 3-D voxel grid in NIfTI order: x fastest, voxel (i, j, k) at index i + nx·(j + ny·k).
// The shape and 3-vector types every voxel module shares, and the few whole-mask helpers.

/** Grid size per axis: [nx, ny, nz]. */
export type Dims = [number, number, number];
/** A point, a voxel size or an index triple. */
export type Vec3 = [number, number, number];

/** An inclusive box of voxel indices. */
export interface Box {
  lo: Vec3;
  hi: Vec3;
}

export function voxelCount(dims: Dims): number {
  return dims[0] * dims[1] * dims[2];
}

/** The spatial part of a shape that may carry more axes (a 4-D series' [nx, ny, nz, nv] → [nx, ny, nz]). */
export function spatialDims(shape: readonly number[]): Dims {
  return [shape[0], shape[1], shape[2]];
}

/** Index steps along each axis. */
export function strides(dims: Dims): Vec3 {
  return [1, dims[0], dims[0] * dims[1]];
}

/** Number of voxels that are set (non-zero). */
export function countSet(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

/** Dice overlap of two binary (0/1) masks (1 when both are empty). */
export function dice(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    sa += a[i];
    sb += b[i];
    inter += a[i] & b[i];
  }
  return sa + sb === 0 ? 1 : (2 * inter) / (sa + sb);
}

/**
 * Bounding box of the voxels not at or below `threshold` (a 0/1 mask: threshold 0), grown by
 * `margin` voxels per axis and clipped to the grid; undefined when there are none.
 */
export function boundingBox(data: ArrayLike<number>, dims: Dims, threshold: number, margin: Vec3 = [0, 0, 0]): Box | undefined {
  const [nx, ny, nz] = dims;
  const lo: Vec3 = [nx, ny, nz];
  const hi: Vec3 = [-1, -1, -1];
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        if (data[p] <= threshold) continue;
        if (i < lo[0]) lo[0] = i;
        if (i > hi[0]) hi[0] = i;
        if (j < lo[1]) lo[1] = j;
        if (j > hi[1]) hi[1] = j;
        if (k < lo[2]) lo[2] = k;
        if (k > hi[2]) hi[2] = k;
      }
  if (hi[0] < 0) return undefined;
  return {
    lo: lo.map((v, a) => Math.max(0, v - margin[a])) as Vec3,
    hi: hi.map((v, a) => Math.min(dims[a] - 1, v + margin[a])) as Vec3,
  };
}
