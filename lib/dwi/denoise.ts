// MP-PCA denoising (Veraart et al., NeuroImage 2016) with the noise-level
// estimator of Cordero-Grande et al. (NeuroImage 2019) as default.
//
// For every voxel, the m×n matrix X of the m volumes over the n voxels of a
// sliding window is formed; the eigenvalues λ of XXᵀ/q (q = max(m, n),
// r = min(m, n)) are split into P signal and r-P noise components, the noise
// ones following the Marchenko–Pastur law of variance σ². For each candidate
// number of noise components M' the noise variance is estimated twice: as the
// mean of the M' smallest eigenvalues, and from their spread, since the MP
// bulk spans 4σ²√γ with γ = M'/q (Veraart) or γ = M'/(q-P) (Cordero-Grande,
// who account for the P removed components). The largest M' for which the
// spread estimate is below the mean estimate is kept; the centre voxel is
// then projected onto the P signal components and σ is the noise map.
//
// The window is shifted (not truncated) at the image borders so that every
// window holds n voxels. Work is per output slice with a ring of the input
// slices the windows need, so the series is denoised in place.
//
// Cost per voxel: the window Gram matrix is updated incrementally from
// per-column plane sums (≈ 2·ez rank-1 updates), then one Householder
// tridiagonalisation and implicit QR (see eigen.ts).
import { SymmetricEigen } from './eigen.js';
import { instantiateKernels } from './wasm/index.js';

/** Eigenvalues far below float32 data's precision need no refining (see SymmetricEigen). */
const EIGEN_DEFLATION = 1e-10;

export type NoiseEstimator = 'cordero-grande' | 'veraart';

export interface MppcaOptions {
  /** Window size (odd), one number for a cube or [x, y, z]. Default: smallest odd cube with at least as many voxels as volumes. */
  extent?: number | [number, number, number];
  estimator?: NoiseEstimator;
  /** false: estimate the noise map only and leave the data untouched. */
  apply?: boolean;
  onProgress?: (fraction: number) => void;
}

export interface MppcaResult {
  /** σ per voxel (same units as the data). */
  noiseMap: Float32Array;
  extent: [number, number, number];
  estimator: NoiseEstimator;
  /** Mean number of signal components kept. */
  meanSignalComponents: number;
}

/** Smallest odd k with k³ ≥ volumes (5 for up to 125 volumes, 7 up to 343...). */
export function defaultExtent(volumes: number): number {
  let k = 3;
  while (k * k * k < volumes) k += 2;
  return k;
}

/** Window size per axis, clamped to an odd number that fits the image. */
export function resolveExtent(extent: MppcaOptions['extent'], shape: readonly number[]): [number, number, number] {
  const base = extent === undefined ? defaultExtent(shape[3]) : extent;
  const wanted = typeof base === 'number' ? [base, base, base] : base;
  return [0, 1, 2].map((axis) => {
    const w = Math.max(1, Math.floor(wanted[axis]));
    const odd = w % 2 === 1 ? w : w - 1;
    const fit = shape[axis] % 2 === 1 ? shape[axis] : shape[axis] - 1;
    return Math.max(1, Math.min(odd, fit));
  }) as [number, number, number];
}

/** Window start along one axis: centred on c, shifted to stay inside [0, size). */
function windowStart(c: number, half: number, extent: number, size: number): number {
  const s = c - half;
  return s < 0 ? 0 : s > size - extent ? size - extent : s;
}

/**
 * 1 / (4√γ) for each candidate count of noise components M' = i + 1: the
 * factor that turns the spread of the M' smallest eigenvalues into σ².
 */
export function marchenkoPasturScales(r: number, q: number, estimator: NoiseEstimator): Float64Array {
  const scales = new Float64Array(r);
  for (let i = 0; i < r; i++) {
    const mPrime = i + 1;
    const gamma = estimator === 'veraart' ? mPrime / q : mPrime / (q - (r - mPrime));
    scales[i] = 1 / (4 * Math.sqrt(gamma));
  }
  return scales;
}

/**
 * Noise-component count and σ² from eigenvalues sorted ascending
 * (`sorted[i]` = i-th smallest of XXᵀ, not yet divided by q).
 * Returns the number of noise components (0 = keep all). `scales` is
 * marchenkoPasturScales(r, q, estimator), passed in by callers that loop.
 */
export function marchenkoPasturCutoff(
  sorted: Float64Array,
  r: number,
  q: number,
  estimator: NoiseEstimator,
  out: { sigma2: number },
  scales: Float64Array = marchenkoPasturScales(r, q, estimator),
): number {
  const invQ = 1 / q;
  const lambdaMin = Math.max(sorted[0], 0) * invQ;
  let cumulative = 0;
  let noiseCount = 0;
  let sigma2 = 0;
  for (let i = 0; i < r; i++) {
    const lambda = Math.max(sorted[i], 0) * invQ;
    cumulative += lambda;
    const fromMean = cumulative / (i + 1);
    const fromRange = (lambda - lambdaMin) * scales[i];
    if (fromRange < fromMean) {
      noiseCount = i + 1;
      sigma2 = fromMean;
    }
  }
  out.sigma2 = sigma2;
  return noiseCount;
}

/** Source of original (not yet denoised) slices in voxel-major layout [y][x][volume]. */
export interface SliceSource {
  /** Copy slice z of the original series into `target` (length nx·ny·nv). */
  load(z: number, target: Float32Array): void;
}

/** Slices straight from a volume-major series that has not been overwritten yet. */
export function seriesSliceSource(data: Float32Array, shape: readonly number[]): SliceSource {
  const [nx, ny, nz, nv] = shape;
  const nxy = nx * ny;
  const nvox = nxy * nz;
  return {
    load(z, target) {
      for (let v = 0; v < nv; v++) {
        const base = v * nvox + z * nxy;
        for (let i = 0; i < nxy; i++) target[i * nv + v] = data[base + i];
      }
    },
  };
}

/** Sizes both window kernels need: the series' shape, the window extent and half-extent. */
function windowGeometry(shape: readonly number[], extent: [number, number, number]) {
  const [nx, ny, nz, m] = shape;
  const [ex, ey, ez] = extent;
  const nxy = nx * ny;
  return { nx, ny, nz, m, ex, ey, ez, hx: ex >> 1, hy: ey >> 1, hz: ez >> 1, n: ex * ey * ez, nxy, nvox: nxy * nz };
}

/** Original slices on demand from a ring of `depth` buffers indexed by z % depth. */
function sliceRing(source: SliceSource, depth: number, size: number): (z: number) => Float32Array {
  const ring: Float32Array[] = Array.from({ length: depth }, () => new Float32Array(size));
  const ringZ = new Int32Array(depth).fill(-1);
  return (z) => {
    const k = z % depth;
    if (ringZ[k] !== z) {
      source.load(z, ring[k]);
      ringZ[k] = z;
    }
    return ring[k];
  };
}

/**
 * Eigen-decompose the Gram matrix in `eig.a` and split its r eigenvalues into signal and noise:
 * sets out.sigma2, out.noiseCount and σ of `voxel` in the noise map; returns the ascending eigenvalue order.
 */
function splitComponents(
  eig: SymmetricEigen,
  opts: SliceDenoiseOptions,
  r: number,
  q: number,
  sorted: Float64Array,
  out: { sigma2: number; noiseCount: number },
  noiseMap: Float32Array,
  voxel: number,
  scales: Float64Array,
): Int32Array {
  eig.decompose(opts.apply);
  const order = eig.ascendingOrder();
  for (let i = 0; i < r; i++) sorted[i] = eig.values[order[i]];
  out.noiseCount = marchenkoPasturCutoff(sorted, r, q, opts.estimator, out, scales);
  noiseMap[voxel] = Math.sqrt(out.sigma2);
  return order;
}

export interface SliceDenoiseOptions {
  extent: [number, number, number];
  estimator: NoiseEstimator;
  apply: boolean;
  onSlice?: () => void;
}

/**
 * Denoise output slices [zStart, zEnd) of `data` in place (volume-major
 * float32 series). Original slices come from `source`, which must still
 * return original values for every slice a window of this range touches.
 */
export function denoiseSlices(
  data: Float32Array,
  shape: readonly number[],
  zStart: number,
  zEnd: number,
  source: SliceSource,
  noiseMap: Float32Array,
  opts: SliceDenoiseOptions,
): { signalComponents: number } {
  const { nx, ny, nz, m, ex, ey, ez, hx, hy, hz, n, nxy, nvox } = windowGeometry(shape, opts.extent);
  if (n < m) return denoiseSlicesSmallWindow(data, shape, zStart, zEnd, source, noiseMap, opts);
  const packed = (m * (m + 1)) / 2;
  const q = n;
  const r = m;
  const slice = sliceRing(source, ez, nxy * m);
  const eig = new SymmetricEigen(m, { deflation: EIGEN_DEFLATION });
  const y = new Float64Array(m);
  const sortedValues = new Float64Array(m);
  const mp = { sigma2: 0, noiseCount: 0 };
  const scales = marchenkoPasturScales(r, q, opts.estimator);
  let signalTotal = 0;

  // Per z, each image row's column sums Σ_{z' in window} v vᵀ (one packed triangle per x) are
  // built once and kept in a ring while the y window passes over them: sliding y then costs two
  // additions of a row instead of 2·ez outer products. The sums run as WebAssembly with SIMD
  // (wasm/kernels.c) on arrays in its memory: the ring, the per-x Gram over the current (y, z)
  // window (`planes`), the window's Gram, and the ez copies of a row the ring's sums are built from.
  const rowDepth = ey + 1;
  const { kernels, arrays } = instantiateKernels([rowDepth * nx * packed, nx * packed, packed, ez * nx * m]);
  const [ring, planes, gram, rowValues] = arrays;
  const rowSums = Array.from({ length: rowDepth }, (_, k) => ring.subarray(k * nx * packed, (k + 1) * nx * packed));
  const rowY = new Int32Array(rowDepth);
  const rowSum = (yy: number, z0: number): Float64Array => {
    const k = yy % rowDepth;
    const sums = rowSums[k];
    if (rowY[k] === yy) return sums;
    const rowLength = nx * m;
    for (let zz = z0; zz < z0 + ez; zz++) rowValues.set(slice(zz).subarray(yy * rowLength, (yy + 1) * rowLength), (zz - z0) * rowLength);
    kernels.gram_row_sums(nx, m, ez, rowValues.byteOffset, sums.byteOffset);
    rowY[k] = yy;
    return sums;
  };
  const addPlane = (dst: Float64Array, src: Float64Array, offset: number, length: number, sign: number) =>
    kernels.add_plane(dst.byteOffset, src.byteOffset + 8 * offset, length, sign);

  for (let z = zStart; z < zEnd; z++) {
    const z0 = windowStart(z, hz, ez, nz);
    for (let zz = z0; zz < z0 + ez; zz++) slice(zz);
    const center = slice(z);
    rowY.fill(-1);
    planes.fill(0);
    let y0 = windowStart(0, hy, ey, ny);
    for (let yy = y0; yy < y0 + ey; yy++) addPlane(planes, rowSum(yy, z0), 0, planes.length, 1);
    for (let yc = 0; yc < ny; yc++) {
      const ny0 = windowStart(yc, hy, ey, ny);
      while (y0 < ny0) {
        addPlane(planes, rowSum(y0, z0), 0, planes.length, -1);
        addPlane(planes, rowSum(y0 + ey, z0), 0, planes.length, 1);
        y0++;
      }
      gram.fill(0);
      let x0 = windowStart(0, hx, ex, nx);
      for (let xx = x0; xx < x0 + ex; xx++) addPlane(gram, planes, xx * packed, packed, 1);
      for (let xc = 0; xc < nx; xc++) {
        const nx0 = windowStart(xc, hx, ex, nx);
        while (x0 < nx0) {
          addPlane(gram, planes, x0 * packed, packed, -1);
          addPlane(gram, planes, (x0 + ex) * packed, packed, 1);
          x0++;
        }
        const voxel = z * nxy + yc * nx + xc;
        // An all-zero window (air outside the scanner's field of view): every
        // eigenvalue is 0, so no noise component, σ = 0 and nothing to change.
        let trace = 0;
        for (let i = 0, d = 0; i < m; d += ++i + 1) trace += gram[d];
        if (trace === 0) {
          noiseMap[voxel] = 0;
          signalTotal += r;
          continue;
        }
        // Unpack the packed lower triangle into the eigen workspace.
        const a = eig.a;
        let off = 0;
        for (let i = 0; i < m; i++) {
          const row = i * m;
          for (let j = 0; j <= i; j++) a[row + j] = gram[off + j];
          off += i + 1;
        }
        const cv = (yc * nx + xc) * m;
        const order = splitComponents(eig, opts, r, q, sortedValues, mp, noiseMap, voxel, scales);
        const noiseCount = mp.noiseCount;
        signalTotal += r - noiseCount;
        if (opts.apply && noiseCount > 0) {
          for (let i = 0; i < m; i++) y[i] = center[cv + i];
          eig.toEigenbasis(y);
          for (let i = 0; i < noiseCount; i++) y[order[i]] = 0;
          eig.fromEigenbasis(y);
          for (let i = 0; i < m; i++) data[i * nvox + voxel] = y[i];
        }
      }
    }
    opts.onSlice?.();
  }
  return { signalComponents: signalTotal };
}

/** Windows with fewer voxels than volumes: eigen-decompose XᵀX (n×n) per voxel. */
function denoiseSlicesSmallWindow(data: Float32Array, shape: readonly number[], zStart: number, zEnd: number, source: SliceSource, noiseMap: Float32Array, opts: SliceDenoiseOptions): { signalComponents: number } {
  const { nx, ny, nz, m, ex, ey, ez, hx, hy, hz, n, nxy, nvox } = windowGeometry(shape, opts.extent);
  const slice = sliceRing(source, ez, nxy * m);
  const eig = new SymmetricEigen(n, { deflation: EIGEN_DEFLATION });
  const cols = new Int32Array(n); // offsets of the window voxels: slice index·(big) + position
  const colSlice: Float32Array[] = new Array(n);
  const w = new Float64Array(n);
  const sortedValues = new Float64Array(n);
  const mp = { sigma2: 0, noiseCount: 0 };
  const scales = marchenkoPasturScales(n, m, opts.estimator);
  let signalTotal = 0;
  for (let z = zStart; z < zEnd; z++) {
    const z0 = windowStart(z, hz, ez, nz);
    for (let yc = 0; yc < ny; yc++) {
      const y0 = windowStart(yc, hy, ey, ny);
      for (let xc = 0; xc < nx; xc++) {
        const x0 = windowStart(xc, hx, ex, nx);
        let c = 0;
        let centre = 0;
        for (let zz = z0; zz < z0 + ez; zz++) {
          const s = slice(zz);
          for (let yy = y0; yy < y0 + ey; yy++) {
            for (let xx = x0; xx < x0 + ex; xx++) {
              if (zz === z && yy === yc && xx === xc) centre = c;
              colSlice[c] = s;
              cols[c++] = (yy * nx + xx) * m;
            }
          }
        }
        const a = eig.a;
        for (let i = 0; i < n; i++) {
          const si = colSlice[i], oi = cols[i];
          for (let j = 0; j <= i; j++) {
            const sj = colSlice[j], oj = cols[j];
            let acc = 0;
            for (let k = 0; k < m; k++) acc += si[oi + k] * sj[oj + k];
            a[i * n + j] = acc;
          }
        }
        const voxel = z * nxy + yc * nx + xc;
        const order = splitComponents(eig, opts, n, m, sortedValues, mp, noiseMap, voxel, scales);
        const noiseCount = mp.noiseCount;
        signalTotal += n - noiseCount;
        if (opts.apply && noiseCount > 0) {
          // x̂_c = X · (V_s V_sᵀ e_c)
          w.fill(0);
          w[centre] = 1;
          eig.toEigenbasis(w);
          for (let i = 0; i < noiseCount; i++) w[order[i]] = 0;
          eig.fromEigenbasis(w);
          for (let k = 0; k < m; k++) {
            let acc = 0;
            for (let i = 0; i < n; i++) acc += colSlice[i][cols[i] + k] * w[i];
            data[k * nvox + voxel] = acc;
          }
        }
      }
    }
    opts.onSlice?.();
  }
  return { signalComponents: signalTotal };
}

/** Denoise a whole volume-major series [nx, ny, nz, nv] in place (single thread). */
export function mppcaDenoise(data: Float32Array, shape: readonly number[], opts: MppcaOptions = {}): MppcaResult {
  const [nx, ny, nz, nv] = shape;
  if (shape.length < 4 || nv < 2) throw new RangeError('MP-PCA needs a 4D series with at least 2 volumes');
  const extent = resolveExtent(opts.extent, shape);
  const estimator = opts.estimator ?? 'cordero-grande';
  const noiseMap = new Float32Array(nx * ny * nz);
  let done = 0;
  const { signalComponents } = denoiseSlices(data, shape, 0, nz, seriesSliceSource(data, shape), noiseMap, {
    extent,
    estimator,
    apply: opts.apply ?? true,
    onSlice: () => opts.onProgress?.(++done / nz),
  });
  return { noiseMap, extent, estimator, meanSignalComponents: signalComponents / (nx * ny * nz) };
}
