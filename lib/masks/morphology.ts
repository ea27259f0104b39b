// Binary morphology on RAS volumes: exact Euclidean distance transforms (mm, anisotropic voxels),
// dilation/erosion/closing by a radius in mm, hole filling, connected components, Gaussian smoothing.
import { voxelCount, type Dims, type Vec3 } from './volume.js';

const INF = 1e20;

/** 1-D squared distance transform of a sampled function (lower envelope of parabolas). */
function edt1d(f: Float64Array, n: number, w2: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -INF;
  z[1] = INF;
  for (let q = 1; q < n; q++) {
    if (f[q] >= INF) continue;
    if (f[v[k]] >= INF) {
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
    z[k + 1] = INF;
  }
  if (f[v[0]] >= INF) {
    for (let q = 0; q < n; q++) d[q] = INF;
    return;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const dq = q - v[k];
    d[q] = w2 * dq * dq + f[v[k]];
  }
}

/** Squared Euclidean distance (mm²) from every voxel to the nearest voxel where `seed` is 1. */
export function squaredDistanceTo(seed: Uint8Array, dims: Dims, spacing: Vec3): Float32Array {
  const [nx, ny, nz] = dims;
  const out = new Float32Array(voxelCount(dims));
  for (let i = 0; i < out.length; i++) out[i] = seed[i] ? 0 : INF;
  const maxN = Math.max(nx, ny, nz);
  const f = new Float64Array(maxN);
  const d = new Float64Array(maxN);
  const v = new Int32Array(maxN);
  const z = new Float64Array(maxN + 1);
  const pass = (n: number, stride: number, starts: () => Iterable<number>, w: number) => {
    const w2 = w * w;
    for (const start of starts()) {
      let any = false;
      for (let q = 0, p = start; q < n; q++, p += stride) {
        f[q] = out[p];
        if (f[q] < INF) any = true;
      }
      if (!any) continue;
      edt1d(f, n, w2, d, v, z);
      for (let q = 0, p = start; q < n; q++, p += stride) out[p] = d[q];
    }
  };
  pass(nx, 1, function* () { for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) yield (k * ny + j) * nx; }, spacing[0]);
  pass(ny, nx, function* () { for (let k = 0; k < nz; k++) for (let i = 0; i < nx; i++) yield k * nx * ny + i; }, spacing[1]);
  pass(nz, nx * ny, function* () { for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) yield j * nx + i; }, spacing[2]);
  return out;
}

interface Box {
  lo: Vec3;
  hi: Vec3;
}

/** Bounding box of the voxels equal to `value`, grown by `margin` voxels per axis, clipped to the grid. */
function boxOf(mask: Uint8Array, dims: Dims, value: number, margin: Vec3): Box | undefined {
  const [nx, ny, nz] = dims;
  const lo: Vec3 = [nx, ny, nz];
  const hi: Vec3 = [-1, -1, -1];
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        if (mask[p] !== value) continue;
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

function crop(mask: Uint8Array, dims: Dims, box: Box): { data: Uint8Array; dims: Dims } {
  const cd: Dims = [box.hi[0] - box.lo[0] + 1, box.hi[1] - box.lo[1] + 1, box.hi[2] - box.lo[2] + 1];
  const out = new Uint8Array(cd[0] * cd[1] * cd[2]);
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

/** Voxels within `radiusMm` of the mask. Only the mask's box grown by the radius is transformed. */
export function dilate(mask: Uint8Array, dims: Dims, spacing: Vec3, radiusMm: number): Uint8Array {
  if (radiusMm <= 0) return mask.slice();
  const margin = spacing.map((s) => Math.ceil(radiusMm / s) + 1) as Vec3;
  const box = boxOf(mask, dims, 1, margin);
  const out = new Uint8Array(mask.length);
  if (!box) return out;
  const part = crop(mask, dims, box);
  const d2 = squaredDistanceTo(part.data, part.dims, spacing);
  const r2 = radiusMm * radiusMm + 1e-6;
  const grown = new Uint8Array(d2.length);
  for (let i = 0; i < d2.length; i++) grown[i] = d2[i] <= r2 ? 1 : 0;
  paste(out, dims, box, grown);
  return out;
}

/** Voxels of the mask farther than `radiusMm` from its outside (the grid edge counts as inside). */
export function erode(mask: Uint8Array, dims: Dims, spacing: Vec3, radiusMm: number): Uint8Array {
  if (radiusMm <= 0) return mask.slice();
  // Only the mask's box (plus one voxel of outside all round) can change.
  const box = boxOf(mask, dims, 1, [1, 1, 1]);
  const out = new Uint8Array(mask.length);
  if (!box) return out;
  const part = crop(mask, dims, box);
  // Outside of the grid counts as inside the mask: pad nothing where the box meets the grid edge.
  const outside = new Uint8Array(part.data.length);
  for (let i = 0; i < outside.length; i++) outside[i] = part.data[i] ? 0 : 1;
  const d2 = squaredDistanceTo(outside, part.dims, spacing);
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

/**
 * Label 6-connected components of the voxels where mask is 1. Returns labels (0 = not in mask)
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

/** The largest 6-connected component (empty mask stays empty). */
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

/** Fill every background region not 6-connected to the grid border. */
export function fillHoles(mask: Uint8Array, dims: Dims): Uint8Array {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const outside = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  let top = 0;
  const push = (p: number) => {
    if (!mask[p] && !outside[p]) {
      outside[p] = 1;
      stack[top++] = p;
    }
  };
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (i === 0 || j === 0 || k === 0 || i === nx - 1 || j === ny - 1 || k === nz - 1) push(i + j * nx + k * nxy);
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

/** Fill holes within each 2-D slice perpendicular to `axis` (closes cavities open along that axis). */
export function fillHolesSlices(mask: Uint8Array, dims: Dims, axis: 0 | 1 | 2): Uint8Array {
  const out = mask.slice();
  const [nx, ny] = dims;
  const strides = [1, nx, nx * ny];
  const planeAxes = [0, 1, 2].filter((a) => a !== axis) as [number, number];
  const [a, b] = planeAxes;
  const na = dims[a];
  const nb = dims[b];
  const slice = new Uint8Array(na * nb);
  for (let s = 0; s < dims[axis]; s++) {
    const base = s * strides[axis];
    let any = false;
    for (let v = 0; v < nb; v++)
      for (let u = 0; u < na; u++) {
        const val = mask[base + u * strides[a] + v * strides[b]];
        slice[u + v * na] = val;
        if (val) any = true;
      }
    if (!any) continue;
    const filled = fillHoles(slice, [na, nb, 1]);
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
