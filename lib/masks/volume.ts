// Volumes in RAS-reoriented index space: axis 0 points Right, 1 Anterior, 2 Superior, index
// i + nx·(j + ny·k). Every mask is computed there and written back in the original geometry.
import type { Dims, Vec3 } from '../volume/shape.js';

export interface Volume {
  data: Float32Array;
  dims: Dims;
  /** Voxel size in mm per RAS axis. */
  spacing: Vec3;
}

/** How the original voxel axes map onto RAS axes. */
export interface Reorientation {
  /** For RAS axis a, the original voxel axis that runs along it. */
  axisOf: Vec3;
  /** For RAS axis a, true when the original axis runs the opposite way (L, P or I). */
  flipped: [boolean, boolean, boolean];
  originalDims: Dims;
  /** voxel (RAS index) -> world mm, the original affine composed with the reorientation. */
  rasAffine: number[][];
}

/** Map each RAS axis to the voxel axis whose direction is closest to it (a permutation). */
export function reorientationOf(affine: number[][], dims: Dims): Reorientation {
  const m = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r][c]));
  const norms = [0, 1, 2].map((c) => Math.hypot(m[0][c], m[1][c], m[2][c]) || 1);
  // Greedy on the largest direction cosine keeps the assignment a permutation even for oblique grids.
  const pairs: { world: number; voxel: number; cos: number }[] = [];
  for (let w = 0; w < 3; w++) for (let v = 0; v < 3; v++) pairs.push({ world: w, voxel: v, cos: Math.abs(m[w][v]) / norms[v] });
  pairs.sort((a, b) => b.cos - a.cos);
  const axisOf: number[] = [-1, -1, -1];
  const usedVoxel = new Set<number>();
  for (const p of pairs) {
    if (axisOf[p.world] !== -1 || usedVoxel.has(p.voxel)) continue;
    axisOf[p.world] = p.voxel;
    usedVoxel.add(p.voxel);
  }
  const flipped = [0, 1, 2].map((w) => m[w][axisOf[w]] < 0) as [boolean, boolean, boolean];
  // RAS index r maps to original index o: o[axisOf[a]] = flipped ? n - 1 - r[a] : r[a].
  const rasAffine = [0, 1, 2].map((row) => {
    const out = [0, 0, 0, affine[row][3]];
    for (let a = 0; a < 3; a++) {
      const v = axisOf[a];
      const n = dims[v];
      if (flipped[a]) {
        out[a] = -affine[row][v];
        out[3] += affine[row][v] * (n - 1);
      } else {
        out[a] = affine[row][v];
      }
    }
    return out;
  });
  rasAffine.push([0, 0, 0, 1]);
  return { axisOf: axisOf as Vec3, flipped, originalDims: dims, rasAffine };
}

export function rasDims(reo: Reorientation): Dims {
  return reo.axisOf.map((v) => reo.originalDims[v]) as Dims;
}

/** Strides in the original array for a unit step along each RAS axis, and the start offset. */
function rasWalk(reo: Reorientation): { start: number; step: Vec3 } {
  const [nx, ny] = reo.originalDims;
  const strideOf = [1, nx, nx * ny];
  let start = 0;
  const step: number[] = [];
  for (let a = 0; a < 3; a++) {
    const v = reo.axisOf[a];
    const n = reo.originalDims[v];
    if (reo.flipped[a]) {
      start += (n - 1) * strideOf[v];
      step.push(-strideOf[v]);
    } else {
      step.push(strideOf[v]);
    }
  }
  return { start, step: step as Vec3 };
}

/** Copy between the original layout and RAS index order (`toRasOrder`: original -> RAS). */
function copyRas<T extends Float32Array | Uint8Array>(src: T, reo: Reorientation, make: (n: number) => T, toRasOrder: boolean): T {
  const [rx, ry, rz] = rasDims(reo);
  const out = make(rx * ry * rz);
  const { start, step } = rasWalk(reo);
  let o = 0;
  for (let k = 0; k < rz; k++) {
    for (let j = 0; j < ry; j++) {
      let s = start + k * step[2] + j * step[1];
      if (toRasOrder) for (let i = 0; i < rx; i++, s += step[0]) out[o++] = src[s];
      else for (let i = 0; i < rx; i++, s += step[0]) out[s] = src[o++];
    }
  }
  return out;
}

/** Copy an array in the original layout into RAS index order. */
export function toRas<T extends Float32Array | Uint8Array>(src: T, reo: Reorientation, make: (n: number) => T): T {
  return copyRas(src, reo, make, true);
}

/** Copy an array in RAS index order back into the original layout. */
export function fromRas<T extends Float32Array | Uint8Array>(src: T, reo: Reorientation, make: (n: number) => T): T {
  return copyRas(src, reo, make, false);
}

/** Voxel size along each RAS axis: the column norms of the RAS affine. */
export function rasSpacing(reo: Reorientation): Vec3 {
  return [0, 1, 2].map((c) => Math.hypot(reo.rasAffine[0][c], reo.rasAffine[1][c], reo.rasAffine[2][c])) as Vec3;
}

/** World mm of a (fractional) RAS voxel index. */
export function worldOf(rasAffine: number[][], p: Vec3): Vec3 {
  return [0, 1, 2].map((r) => rasAffine[r][0] * p[0] + rasAffine[r][1] * p[1] + rasAffine[r][2] * p[2] + rasAffine[r][3]) as Vec3;
}

export function invert4(m: number[][]): number[][] {
  const a = m.map((r) => [...r]);
  const inv = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => (i === j ? 1 : 0)));
  for (let c = 0; c < 4; c++) {
    let pivot = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) pivot = r;
    if (Math.abs(a[pivot][c]) < 1e-12) throw new Error('singular matrix');
    [a[c], a[pivot]] = [a[pivot], a[c]];
    [inv[c], inv[pivot]] = [inv[pivot], inv[c]];
    const d = a[c][c];
    for (let j = 0; j < 4; j++) {
      a[c][j] /= d;
      inv[c][j] /= d;
    }
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = a[r][c];
      if (f === 0) continue;
      for (let j = 0; j < 4; j++) {
        a[r][j] -= f * a[c][j];
        inv[r][j] -= f * inv[c][j];
      }
    }
  }
  return inv;
}

export function multiply4(a: number[][], b: number[][]): number[][] {
  return [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j] + a[i][3] * b[3][j]));
}
