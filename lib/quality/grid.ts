// A 3D voxel grid in NIfTI order (x fastest: i + nx·(j + ny·k)) and the few mask operations
// the metrics need: connected components, hole filling, distances, opening.
export type Shape3 = [number, number, number];

export function voxelCount(shape: Shape3): number {
  return shape[0] * shape[1] * shape[2];
}

export function countSet(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

/** Largest 6-connected component of a mask (empty mask in, empty mask out). */
export function largestComponent(mask: Uint8Array, shape: Shape3): Uint8Array {
  const [nx, ny, nz] = shape;
  const labels = new Int32Array(mask.length);
  const stack = new Int32Array(mask.length);
  let bestLabel = 0;
  let bestSize = 0;
  let label = 0;
  for (let seed = 0; seed < mask.length; seed++) {
    if (!mask[seed] || labels[seed]) continue;
    label++;
    let top = 0;
    let size = 0;
    stack[top++] = seed;
    labels[seed] = label;
    while (top > 0) {
      const v = stack[--top];
      size++;
      const x = v % nx;
      const y = Math.floor(v / nx) % ny;
      const z = Math.floor(v / (nx * ny));
      for (let k = 0; k < 6; k++) {
        const w = neighbourAt(v, k, x, y, z, shape);
        if (w >= 0 && mask[w] && !labels[w]) {
          labels[w] = label;
          stack[top++] = w;
        }
      }
    }
    if (size > bestSize) {
      bestSize = size;
      bestLabel = label;
    }
  }
  const out = new Uint8Array(mask.length);
  if (bestLabel) for (let i = 0; i < mask.length; i++) out[i] = labels[i] === bestLabel ? 1 : 0;
  return out;
}

/** Fill the holes of a 3D mask: every unset voxel not 6-connected to the grid border. */
export function fillHoles3d(mask: Uint8Array, shape: Shape3): Uint8Array {
  const [nx, ny, nz] = shape;
  const outside = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  let top = 0;
  const seed = (v: number) => {
    if (!mask[v] && !outside[v]) {
      outside[v] = 1;
      stack[top++] = v;
    }
  };
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        // A single-voxel axis has no border of its own (a 2D slice is filled within the plane).
        const onBorder = (nx > 1 && (x === 0 || x === nx - 1)) || (ny > 1 && (y === 0 || y === ny - 1)) || (nz > 1 && (z === 0 || z === nz - 1));
        if (onBorder) seed(x + nx * (y + ny * z));
      }
  while (top > 0) {
    const v = stack[--top];
    const x = v % nx;
    const y = Math.floor(v / nx) % ny;
    const z = Math.floor(v / (nx * ny));
    if (x > 0) seed(v - 1);
    if (x < nx - 1) seed(v + 1);
    if (y > 0) seed(v - nx);
    if (y < ny - 1) seed(v + nx);
    if (z > 0) seed(v - nx * ny);
    if (z < nz - 1) seed(v + nx * ny);
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = outside[i] ? 0 : 1;
  return out;
}

/**
 * Fill holes slice by slice along one axis: catches cavities that open to the border in 3D
 * (a head cropped at the neck) but are closed within each slice.
 */
export function fillHolesBySlice(mask: Uint8Array, shape: Shape3, axis: 0 | 1 | 2): Uint8Array {
  const [nx, ny] = shape;
  const others = ([0, 1, 2] as const).filter((a) => a !== axis);
  const [a, b] = others;
  const na = shape[a];
  const nb = shape[b];
  const strides = [1, nx, nx * ny];
  const out = new Uint8Array(mask);
  const slice = new Uint8Array(na * nb);
  for (let s = 0; s < shape[axis]; s++) {
    const base = s * strides[axis];
    for (let j = 0; j < nb; j++) for (let i = 0; i < na; i++) slice[i + na * j] = mask[base + i * strides[a] + j * strides[b]];
    const filled = fillHoles3d(slice, [na, nb, 1]);
    for (let j = 0; j < nb; j++) for (let i = 0; i < na; i++) if (filled[i + na * j]) out[base + i * strides[a] + j * strides[b]] = 1;
  }
  return out;
}

/** 1D squared Euclidean distance transform of sampled function f (Felzenszwalb & Huttenlocher 2012). */
function edt1d(f: Float64Array, n: number, step2: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    if (f[q] === Infinity) continue;
    if (f[v[k]] === Infinity) {
      v[k] = q;
      continue;
    }
    let s = (f[q] + step2 * q * q - (f[v[k]] + step2 * v[k] * v[k])) / (2 * step2 * (q - v[k]));
    while (s <= z[k]) {
      k--;
      s = (f[q] + step2 * q * q - (f[v[k]] + step2 * v[k] * v[k])) / (2 * step2 * (q - v[k]));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (f[v[0]] === Infinity) {
    for (let q = 0; q < n; q++) d[q] = Infinity;
    return;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    d[q] = step2 * (q - v[k]) ** 2 + f[v[k]];
  }
}

/** Squared distance in mm from every voxel to the nearest set voxel of `mask` (Infinity if none). */
export function squaredDistanceMm(mask: Uint8Array, shape: Shape3, spacing: [number, number, number]): Float64Array {
  const [nx, ny, nz] = shape;
  const dist = new Float64Array(mask.length);
  for (let i = 0; i < mask.length; i++) dist[i] = mask[i] ? 0 : Infinity;
  const nmax = Math.max(nx, ny, nz);
  const f = new Float64Array(nmax);
  const d = new Float64Array(nmax);
  const v = new Int32Array(nmax);
  const z = new Float64Array(nmax + 1);
  const strides = [1, nx, nx * ny];
  for (let axis = 0; axis < 3; axis++) {
    const n = shape[axis];
    const stride = strides[axis];
    const step2 = spacing[axis] ** 2;
    for (let start = 0; start < mask.length; start++) {
      // Visit each line once: from its first voxel along `axis`.
      const coord = Math.floor(start / stride) % n;
      if (coord !== 0) continue;
      for (let q = 0; q < n; q++) f[q] = dist[start + q * stride];
      edt1d(f, n, step2, d, v, z);
      for (let q = 0; q < n; q++) dist[start + q * stride] = d[q];
    }
  }
  return dist;
}

/** Binary opening with the 6-neighbourhood cross: drops isolated voxels and thin lines. */
export function openCross(mask: Uint8Array, shape: Shape3): Uint8Array {
  return dilateCross(erodeCross(mask, shape), shape);
}

/** The k-th (0..5) face neighbour of voxel v at (x, y, z), or -1 outside the grid. */
function neighbourAt(v: number, k: number, x: number, y: number, z: number, shape: Shape3): number {
  const [nx, ny, nz] = shape;
  switch (k) {
    case 0:
      return x > 0 ? v - 1 : -1;
    case 1:
      return x < nx - 1 ? v + 1 : -1;
    case 2:
      return y > 0 ? v - nx : -1;
    case 3:
      return y < ny - 1 ? v + nx : -1;
    case 4:
      return z > 0 ? v - nx * ny : -1;
    default:
      return z < nz - 1 ? v + nx * ny : -1;
  }
}

function erodeCross(mask: Uint8Array, shape: Shape3): Uint8Array {
  const [nx, ny, nz] = shape;
  const out = new Uint8Array(mask.length);
  for (let v = 0; v < mask.length; v++) {
    if (!mask[v]) continue;
    const x = v % nx;
    const y = Math.floor(v / nx) % ny;
    const z = Math.floor(v / (nx * ny));
    let keep = 1;
    // Outside the grid counts as unset (scipy's border_value 0); a single slice has no z neighbours.
    for (let k = 0; k < 6 && keep; k++) {
      if (k >= 4 && nz === 1) continue;
      const w = neighbourAt(v, k, x, y, z, shape);
      if (w < 0 || !mask[w]) keep = 0;
    }
    out[v] = keep;
  }
  return out;
}

function dilateCross(mask: Uint8Array, shape: Shape3): Uint8Array {
  const [nx, ny] = shape;
  const out = new Uint8Array(mask.length);
  for (let v = 0; v < mask.length; v++) {
    if (!mask[v]) continue;
    out[v] = 1;
    const x = v % nx;
    const y = Math.floor(v / nx) % ny;
    const z = Math.floor(v / (nx * ny));
    for (let k = 0; k < 6; k++) {
      const w = neighbourAt(v, k, x, y, z, shape);
      if (w >= 0) out[w] = 1;
    }
  }
  return out;
}
