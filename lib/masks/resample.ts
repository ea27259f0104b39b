// Resampling between grids that share the RAS axes (scaling and shifting only): trilinear for
// intensities and probabilities, nearest for labels, and box-averaged downsampling.
import { voxelCount, type Dims, type Vec3 } from '../volume/shape.js';

/**
 * Sample `src` (dims `srcDims`) at the points p_src = offset + scale · p_dst for every voxel of a
 * `dstDims` grid, trilinearly; points outside read `outside`.
 */
export function resampleLinear(src: Float32Array, srcDims: Dims, dstDims: Dims, scale: Vec3, offset: Vec3, outside = 0): Float32Array {
  const [sx, sy, sz] = srcDims;
  const out = new Float32Array(voxelCount(dstDims));
  const axis = (n: number, a: number) => {
    const i0 = new Int32Array(n);
    const w = new Float32Array(n);
    const valid = new Uint8Array(n);
    const size = srcDims[a];
    for (let i = 0; i < n; i++) {
      const p = offset[a] + scale[a] * i;
      if (p < -0.5 || p > size - 0.5) continue;
      const c = Math.min(Math.max(p, 0), size - 1);
      const f = Math.min(Math.floor(c), size - 2 < 0 ? 0 : size - 2);
      i0[i] = f;
      w[i] = size === 1 ? 0 : c - f;
      valid[i] = 1;
    }
    return { i0, w, valid };
  };
  const ax = axis(dstDims[0], 0);
  const ay = axis(dstDims[1], 1);
  const az = axis(dstDims[2], 2);
  const sxy = sx * sy;
  const dx = sx > 1 ? 1 : 0;
  const dy = sy > 1 ? sx : 0;
  const dz = sz > 1 ? sxy : 0;
  let o = 0;
  for (let k = 0; k < dstDims[2]; k++) {
    const kz = az.i0[k];
    const wz = az.w[k];
    for (let j = 0; j < dstDims[1]; j++) {
      const jy = ay.i0[j];
      const wy = ay.w[j];
      const rowValid = az.valid[k] & ay.valid[j];
      for (let i = 0; i < dstDims[0]; i++, o++) {
        if (!(rowValid & ax.valid[i])) {
          out[o] = outside;
          continue;
        }
        const wx = ax.w[i];
        const base = ax.i0[i] + jy * sx + kz * sxy;
        const c00 = src[base] * (1 - wx) + src[base + dx] * wx;
        const c10 = src[base + dy] * (1 - wx) + src[base + dy + dx] * wx;
        const c01 = src[base + dz] * (1 - wx) + src[base + dz + dx] * wx;
        const c11 = src[base + dz + dy] * (1 - wx) + src[base + dz + dy + dx] * wx;
        const c0 = c00 * (1 - wy) + c10 * wy;
        const c1 = c01 * (1 - wy) + c11 * wy;
        out[o] = c0 * (1 - wz) + c1 * wz;
      }
    }
  }
  return out;
}

/** Average over blocks of f[0]×f[1]×f[2] voxels (partial blocks at the far edges average what they have). */
export function downsampleMean(src: Float32Array, dims: Dims, f: Vec3): { data: Float32Array; dims: Dims } {
  const out: Dims = [Math.ceil(dims[0] / f[0]), Math.ceil(dims[1] / f[1]), Math.ceil(dims[2] / f[2])];
  const sum = new Float32Array(voxelCount(out));
  const cnt = new Float32Array(voxelCount(out));
  let s = 0;
  for (let k = 0; k < dims[2]; k++) {
    const ok = Math.floor(k / f[2]) * out[0] * out[1];
    for (let j = 0; j < dims[1]; j++) {
      const oj = ok + Math.floor(j / f[1]) * out[0];
      for (let i = 0; i < dims[0]; i++, s++) {
        const o = oj + Math.floor(i / f[0]);
        sum[o] += src[s];
        cnt[o] += 1;
      }
    }
  }
  for (let i = 0; i < sum.length; i++) sum[i] /= cnt[i];
  return { data: sum, dims: out };
}

/** Nearest-neighbour upsampling of a block-downsampled mask back to the fine grid. */
export function upsampleNearest(src: Uint8Array, coarse: Dims, fine: Dims, f: Vec3): Uint8Array {
  const out = new Uint8Array(voxelCount(fine));
  let o = 0;
  for (let k = 0; k < fine[2]; k++) {
    const ck = Math.floor(k / f[2]) * coarse[0] * coarse[1];
    for (let j = 0; j < fine[1]; j++) {
      const cj = ck + Math.floor(j / f[1]) * coarse[0];
      for (let i = 0; i < fine[0]; i++) out[o++] = src[cj + Math.floor(i / f[0])];
    }
  }
  return out;
}
