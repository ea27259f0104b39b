// Binary morphology on voxel grids: exact Euclidean distance transforms (mm, anisotropic voxels),
// dilation/erosion/closing by a radius in mm or by the 6-neighbour cross, hole filling, connected
// components, Gaussian smoothing.
import { boundingBox, voxelCount, type Box, type Dims, type Vec3 } from './shape.js';

/** 1-D squared distance transform of a sampled function (lower envelope of parabolas); `inf` marks no sample. */
function edt1d(f: Float64Array, n: number, w2: number, d: Float64Array, v: Int32Array, z: Float64Array, inf: number): void {
  let k = 0;
  v[0] = 0;
  z[0] = -inf;
  z[1] = inf;
  for (let q = 1; q < n; q++) {
    if (f[q] >= inf) continue;
    if (f[v[k]] >= inf) {
      v[k] = q;
      continue;
    }
    let s = (f[q] + w2 * q * q - (f[v[k]] + w2 * v[k] * v[k])) / (2 * w2 * (q - v[k]));
    while (s <= z[k]) {
      k--;
      s = (f[q] + w2 * q * q - (f[v[k]] + w2 * v[k] * v[k])) / (2 * w2 * (q - v[k]));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = inf;
  }
  if (f[v[0]] >= inf) {
    for (let q = 0; q < n; q++) d[q] = inf;
    return;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const dq = q - v[k];
    d[q] = w2 * (dq * dq) + f[v[k]];
  }
}

/**
 * Squared Euclidean distance (mm²) from every voxel to the nearest voxel set in `seed`, one axis
 * after the other. In float32 (default; the far value is 1e20) or float64 (the far value is Infinity),
 * and the passes store their results at that precision.
 */
export function squaredDistance(seed: Uint8Array, dims: Dims, spacing: Vec3): Float32Array;
export function squaredDistance(seed: Uint8Array, dims: Dims, spacing: Vec3, opts: { float64: true }): Float64Array;
export function squaredDistance(seed: Uint8Array, dims: Dims, spacing: Vec3, opts: { float64?: boolean } = {}): Float32Array | Float64Array {
  const inf = opts.float64 ? Infinity : 1e20;
  const out = opts.float64 ? new Float64Array(voxelCount(dims)) : new Float32Array(voxelCount(dims));
  for (let i = 0; i < out.length; i++) out[i] = seed[i] ? 0 : inf;
  const maxN = Math.max(...dims);
  const f = new Float64Array(maxN);
  const d = new Float64Array(maxN);
  const v = new Int32Array(maxN);
  const z = new Float64Array(maxN + 1);
  const step = [1, dims[0], dims[0] * dims[1]];
  for (let axis = 0; axis < 3; axis++) {
    const n = dims[axis];
    const stride = step[axis];
    const w2 = spacing[axis] * spacing[axis];
    // Lines along `axis` start at every voxel whose coordinate on it is 0: loop over the other two axes.
    const [a, b] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
    for (let jb = 0; jb < dims[b]; jb++)
      for (let ja = 0; ja < dims[a]; ja++) {
        const start = ja * step[a] + jb * step[b];
        let any = false;
        for (let q = 0, p = start; q < n; q++, p += stride) {
          f[q] = out[p];
          if (f[q] < inf) any = true;
        }
        if (!any) continue;
        edt1d(f, n, w2, d, v, z, inf);
        for (let q = 0, p = start; q < n; q++, p += stride) out[p] = d[q];
      }
  }
  return out;
}

function crop(mask: Uint8Array, dims: Dims, box: Box): { data: Uint8Array; dims: Dims } {
  const cd: Dims = [box.hi[0] - box.lo[0] + 1, box.hi[1] - box.lo[1] + 1, box.hi[2] - box.lo[2] + 1];
  const out = new Uint8Array(voxelCount(cd));
  let o = 0;
  for (let k = box.lo[2]; k <= box.hi[2]; k++)
    for (let j = box.lo[1]; j <= box.hi[1]; j++) {
      const row = box.lo[0] + dims[0] * (j + dims[1] * k);
      out.set(mask.subarray(row, row + cd[0]), o);
      o += cd[0];
    }
  return { data: out, dims: cd };
}

function paste(target: Uint8Array, dims: Dims, box: Box, part: Uint8Array): void {
  const w = box.hi[0] - box.lo[0] + 1;
  let o = 0;
  for (let k = box.lo[2]; k <= box.hi[2]; k++)
    for (let j = box.lo[1]; j <= box.hi[1]; j++) {
      target.set(part.subarray(o, o + w), box.lo[0] + dims[0] * (j + dims[1] * k));
      o += w;
    }
}

/** Voxels within `radiusMm` of the (0/1) mask. Only the mask's box grown by the radius is transformed. */
export function dilate(mask: Uint8Array, dims: Dims, spacing: Vec3, radiusMm: number): Uint8Array {
  if (radiusMm <= 0) return mask.slice();
  const margin = spacing.map((s) => Math.ceil(radiusMm / s) + 1) as Vec3;
  const box = boundingBox(mask, dims, 0, margin);
  const out = new Uint8Array(mask.length);
  if (!box) return out;
  const part = crop(mask, dims, box);
  const d2 = squaredDistance(part.data, part.dims, spacing);
  const r2 = radiusMm * radiusMm + 1e-6;
  const grown = new Uint8Array(d2.length);
  for (let i = 0; i < d2.length; i++) grown[i] = d2[i] <= r2 ? 1 : 0;
  paste(out, dims, box, grown);
  return out;
}

/** Voxels of the (0/1) mask farther than `radiusMm` from its outside (the grid edge counts as inside). */
export function erode(mask: Uint8Array, dims: Dims, spacing: Vec3, radiusMm: number): Uint8Array {
  if (radiusMm <= 0) return mask.slice();
  // Only the mask's box (plus one voxel of outside all round) can change.
  const box = boundingBox(mask, dims, 0, [1, 1, 1]);
  const out = new Uint8Array(mask.length);
  if (!box) return out;
  const part = crop(mask, dims, box);
  // Outside of the grid counts as inside the mask: pad nothing where the box meets the grid edge.
  const outside = new Uint8Array(part.data.length);
  for (let i = 0; i < outside.length; i++) outside[i] = part.data[i] ? 0 : 1;
  const d2 = squaredDistance(outside, part.dims, spacing);
  const r2 = radiusMm * radiusMm + 1e-6;
  const kept = new Uint8Array(d2.length);
  for (let i = 0; i < d2.length; i++) kept[i] = d2[i] > r2 ? 1 : 0;
  paste(out, dims, box, kept);
  return out;
}

export function close(mask: Uint8Array, dims: Dims, spacing: Vec3, radiusMm: number): Uint8Array {
  return erode(dilate(mask, dims, spacing, radiusMm), dims, spacing, radiusMm);
}

export function open(mask: Uint8Array, dims: Dims, spacing: Vec3, radiusMm: number): Uint8Array {
  return dilate(erode(mask, dims, spacing, radiusMm), dims, spacing, radiusMm);
}

/** How the grid's edge counts along axes one voxel long. */
export interface EdgeOptions {
  /**
   * Per axis, for an axis one voxel long only: whether the grid's edge along it still counts, so
   * that every voxel lies on it. Default: no, so a single slice (nx×ny×1) is treated within its plane.
   */
  flatAxisEdges?: readonly [boolean, boolean, boolean];
}

/** Flat axes have an edge too: a flat grid (or a slice in fillHolesSlices) lies wholly on its edge. */
export const ALL_AXES_EDGED: EdgeOptions = { flatAxisEdges: [true, true, true] };

/** Which axes have an edge: those longer than one voxel, and flat ones where `flatAxisEdges` says so. */
function edgeAxes(dims: Dims, opts: EdgeOptions): [boolean, boolean, boolean] {
  const flat = opts.flatAxisEdges ?? [false, false, false];
  return [dims[0] > 1 || flat[0], dims[1] > 1 || flat[1], dims[2] > 1 || flat[2]];
}

/**
 * Erosion by the 6-neighbour cross, `times` times: a voxel stays when its face neighbours are set.
 * Outside the grid counts as unset, along axes without an edge (see EdgeOptions) neighbours are not needed.
 */
export function erodeCross(mask: Uint8Array, dims: Dims, times = 1, opts: EdgeOptions = {}): Uint8Array {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const [ex, ey, ez] = edgeAxes(dims, opts);
  let src = mask;
  for (let t = 0; t < times; t++) {
    const dst = new Uint8Array(src.length);
    for (let z = 0, i = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++, i++) {
          if (!src[i]) continue;
          const keep =
            (!ex || (x > 0 && src[i - 1] && x < nx - 1 && src[i + 1])) &&
            (!ey || (y > 0 && src[i - nx] && y < ny - 1 && src[i + nx])) &&
            (!ez || (z > 0 && src[i - nxy] && z < nz - 1 && src[i + nxy]));
          dst[i] = keep ? 1 : 0;
        }
    src = dst;
  }
  return src === mask ? mask.slice() : src;
}

/** Dilation by the 6-neighbour cross, `times` times. */
export function dilateCross(mask: Uint8Array, dims: Dims, times = 1): Uint8Array {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  let src = mask;
  for (let t = 0; t < times; t++) {
    const dst = new Uint8Array(src.length);
    for (let z = 0, i = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++, i++)
          dst[i] =
            src[i] ||
            (x > 0 && src[i - 1]) || (x < nx - 1 && src[i + 1]) ||
            (y > 0 && src[i - nx]) || (y < ny - 1 && src[i + nx]) ||
            (z > 0 && src[i - nxy]) || (z < nz - 1 && src[i + nxy])
              ? 1
              : 0;
    src = dst;
  }
  return src === mask ? mask.slice() : src;
}

/** Binary opening with the 6-neighbour cross: drops isolated voxels and thin lines. */
export function openCross(mask: Uint8Array, dims: Dims, opts: EdgeOptions = {}): Uint8Array {
  return dilateCross(erodeCross(mask, dims, 1, opts), dims);
}

/**
 * Label 6-connected components of the voxels where mask is set. Returns labels (0 = not in mask)
 * and each component's size (index = label).
 */
export function labelComponents(mask: Uint8Array, dims: Dims): { labels: Int32Array; sizes: number[] } {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const labels = new Int32Array(mask.length);
  const sizes = [0];
  const stack = new Int32Array(mask.length);
  for (let seed = 0; seed < mask.length; seed++) {
    if (!mask[seed] || labels[seed]) continue;
    const label = sizes.length;
    let top = 0;
    let size = 0;
    stack[top++] = seed;
    labels[seed] = label;
    while (top > 0) {
      const p = stack[--top];
      size++;
      const i = p % nx;
      const j = ((p - i) / nx) % ny;
      const k = (p - i - j * nx) / nxy;
      if (i > 0 && mask[p - 1] && !labels[p - 1]) { labels[p - 1] = label; stack[top++] = p - 1; }
      if (i < nx - 1 && mask[p + 1] && !labels[p + 1]) { labels[p + 1] = label; stack[top++] = p + 1; }
      if (j > 0 && mask[p - nx] && !labels[p - nx]) { labels[p - nx] = label; stack[top++] = p - nx; }
      if (j < ny - 1 && mask[p + nx] && !labels[p + nx]) { labels[p + nx] = label; stack[top++] = p + nx; }
      if (k > 0 && mask[p - nxy] && !labels[p - nxy]) { labels[p - nxy] = label; stack[top++] = p - nxy; }
      if (k < nz - 1 && mask[p + nxy] && !labels[p + nxy]) { labels[p + nxy] = label; stack[top++] = p + nxy; }
    }
    sizes.push(size);
  }
  return { labels, sizes };
}

/** The largest 6-connected component (the first of equal ones; an empty mask stays empty). */
export function largestComponent(mask: Uint8Array, dims: Dims): Uint8Array {
  const { labels, sizes } = labelComponents(mask, dims);
  let best = 0;
  for (let l = 1; l < sizes.length; l++) if (sizes[l] > sizes[best]) best = l;
  const out = new Uint8Array(mask.length);
  if (best === 0) return out;
  for (let i = 0; i < out.length; i++) out[i] = labels[i] === best ? 1 : 0;
  return out;
}

/** Components holding at least `minFraction` of the largest one's voxels. */
export function bigComponents(mask: Uint8Array, dims: Dims, minFraction: number): Uint8Array {
  const { labels, sizes } = labelComponents(mask, dims);
  const biggest = Math.max(0, ...sizes.slice(1));
  const keep = sizes.map((s, l) => l > 0 && s >= biggest * minFraction);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = keep[labels[i]] ? 1 : 0;
  return out;
}

/** Fill every unset region not 6-connected to the grid's edge (see EdgeOptions for flat axes). */
export function fillHoles(mask: Uint8Array, dims: Dims, opts: EdgeOptions = {}): Uint8Array {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const [ex, ey, ez] = edgeAxes(dims, opts);
  const outside = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  let top = 0;
  const push = (p: number) => {
    if (!mask[p] && !outside[p]) {
      outside[p] = 1;
      stack[top++] = p;
    }
  };
  for (let k = 0, p = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++)
        if ((ex && (i === 0 || i === nx - 1)) || (ey && (j === 0 || j === ny - 1)) || (ez && (k === 0 || k === nz - 1))) push(p);
  while (top > 0) {
    const p = stack[--top];
    const i = p % nx;
    const j = ((p - i) / nx) % ny;
    const k = (p - i - j * nx) / nxy;
    if (i > 0) push(p - 1);
    if (i < nx - 1) push(p + 1);
    if (j > 0) push(p - nx);
    if (j < ny - 1) push(p + nx);
    if (k > 0) push(p - nxy);
    if (k < nz - 1) push(p + nxy);
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = outside[i] ? 0 : 1;
  return out;
}

/**
 * Fill holes within each 2-D slice perpendicular to `axis`: catches cavities that open to the
 * outside in 3-D (a head cropped at the neck, the nasal cavity) but are closed within each slice.
 * `opts` applies to the slice grid [na, nb, 1] (na, nb: the other two axes in order).
 */
export function fillHolesSlices(mask: Uint8Array, dims: Dims, axis: 0 | 1 | 2, opts: EdgeOptions = {}): Uint8Array {
  const out = mask.slice();
  const [nx, ny] = dims;
  const strides = [1, nx, nx * ny];
  const [a, b] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
  const na = dims[a];
  const nb = dims[b];
  const slice = new Uint8Array(na * nb);
  for (let s = 0; s < dims[axis]; s++) {
    const base = s * strides[axis];
    for (let v = 0; v < nb; v++) for (let u = 0; u < na; u++) slice[u + v * na] = mask[base + u * strides[a] + v * strides[b]];
    const filled = fillHoles(slice, [na, nb, 1], opts);
    for (let v = 0; v < nb; v++)
      for (let u = 0; u < na; u++) if (filled[u + v * na]) out[base + u * strides[a] + v * strides[b]] = 1;
  }
  return out;
}

function gaussianKernel(sigmaVoxels: number): Float32Array {
  const radius = Math.ceil(3 * sigmaVoxels);
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let t = -radius; t <= radius; t++) sum += kernel[t + radius] = Math.exp((-t * t) / (2 * sigmaVoxels * sigmaVoxels));
  for (let t = 0; t < kernel.length; t++) kernel[t] /= sum;
  return kernel;
}

/**
 * Separable Gaussian smoothing with sigma in mm (truncated at 3 sigma, edges clamped). Along y and z
 * whole rows/planes are accumulated at once, so memory is read in order.
 */
export function gaussianSmooth(src: Float32Array, dims: Dims, spacing: Vec3, sigmaMm: number): Float32Array {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  let cur = src;
  let copied = false;
  for (let axis = 0; axis < 3; axis++) {
    const sigma = sigmaMm / spacing[axis];
    if (sigma < 0.3 || dims[axis] === 1) continue;
    const kernel = gaussianKernel(sigma);
    const radius = (kernel.length - 1) / 2;
    const next = new Float32Array(cur.length);
    if (axis === 0) {
      for (let row = 0; row < ny * nz; row++) {
        const base = row * nx;
        for (let q = 0; q < nx; q++) {
          let acc = 0;
          for (let t = -radius; t <= radius; t++) {
            const idx = q + t < 0 ? 0 : q + t >= nx ? nx - 1 : q + t;
            acc += kernel[t + radius] * cur[base + idx];
          }
          next[base + q] = acc;
        }
      }
    } else {
      // Rows (axis 1) or planes (axis 2) of `len` contiguous values, `count` of them per block.
      const len = axis === 1 ? nx : nxy;
      const n = dims[axis];
      const blocks = axis === 1 ? nz : 1;
      const blockSize = axis === 1 ? nxy : 0;
      for (let b = 0; b < blocks; b++) {
        const blockBase = b * blockSize;
        for (let q = 0; q < n; q++) {
          const out = blockBase + q * len;
          for (let t = -radius; t <= radius; t++) {
            const idx = q + t < 0 ? 0 : q + t >= n ? n - 1 : q + t;
            const w = kernel[t + radius];
            const from = blockBase + idx * len;
            for (let r = 0; r < len; r++) next[out + r] += w * cur[from + r];
          }
        }
      }
    }
    cur = next;
    copied = true;
  }
  return copied ? cur : src.slice();
}
