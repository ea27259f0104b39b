// Diffusion-tensor fit and scalar maps.
//
// ln S = ln S0 - b gᵀDg is linear in (ln S0, Dxx, Dyy, Dzz, Dxy, Dxz, Dyz).
// The fit is weighted least squares: first with weights S² from the measured
// signal (the variance of ln S is ≈ σ²/S²), then iteratively reweighted with
// the squared predicted signal (Salvador et al. 2005; Veraart et al. 2013).
// Diffusivities are in mm²/s when b is in s/mm².

import { instantiateKernels } from './wasm/index.js';

export interface TensorFitOptions {
  /** Iterations of reweighting with the predicted signal after the first WLS fit (default 2). */
  iterations?: number;
  onProgress?: (fraction: number) => void;
}

export interface TensorFit {
  /** 6 values per voxel: Dxx, Dyy, Dzz, Dxy, Dxz, Dyz (mm²/s); 0 outside the mask. */
  tensor: Float32Array;
  /** Fitted S0 per voxel. */
  s0: Float32Array;
}

/** Design rows [1, -b gx², -b gy², -b gz², -2b gx gy, -2b gx gz, -2b gy gz] for the chosen volumes. */
export function tensorDesign(bvals: readonly number[], bvecs: readonly (readonly number[])[], volumes: readonly number[]): Float64Array {
  const design = new Float64Array(volumes.length * 7);
  volumes.forEach((v, r) => {
    const b = bvals[v];
    const [x, y, z] = bvecs[v];
    design.set([1, -b * x * x, -b * y * y, -b * z * z, -2 * b * x * y, -2 * b * x * z, -2 * b * y * z], r * 7);
  });
  return design;
}

/** Packed lower-triangle index of (i, j), j ≤ i, in a 7×7 matrix. */
const PACKED = 28;

/**
 * Solve the 7×7 SPD system given as a packed lower triangle (row i holds
 * i+1 entries), Cholesky in place; false when not positive definite.
 */
function solvePacked7(a: Float64Array, rhs: Float64Array, out: Float64Array): boolean {
  for (let j = 0, jj = 0; j < 7; jj += ++j) {
    let d = a[jj + j];
    for (let k = 0; k < j; k++) d -= a[jj + k] * a[jj + k];
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    a[jj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1, ii = jj + j + 1; i < 7; ii += ++i) {
      let s = a[ii + j];
      for (let k = 0; k < j; k++) s -= a[ii + k] * a[jj + k];
      a[ii + j] = s * inv;
    }
  }
  for (let i = 0, ii = 0; i < 7; ii += ++i) {
    let s = rhs[i];
    for (let k = 0; k < i; k++) s -= a[ii + k] * out[k];
    out[i] = s / a[ii + i];
  }
  for (let i = 6; i >= 0; i--) {
    let s = out[i];
    for (let k = i + 1; k < 7; k++) s -= a[(k * (k + 1)) / 2 + i] * out[k];
    out[i] = s / a[(i * (i + 1)) / 2 + i];
  }
  return true;
}

/** What one range of voxels needs for the fit: the design, each row's outer product, and where each volume starts. */
export interface TensorProblem {
  nvox: number;
  rows: number;
  design: Float64Array;
  /** Entry i of the packed lower triangle of d dᵀ for design row r, at i·rows + r (a row per entry, so the sums over rows are contiguous). */
  outer: Float64Array;
  /** The design transposed: entry i of row r at i·rows + r. */
  designT: Float64Array;
  offsets: Int32Array;
  iterations: number;
}

export function tensorProblem(
  shape: readonly number[],
  bvals: readonly number[],
  bvecs: readonly (readonly number[])[],
  volumes: readonly number[],
  iterations = 2,
): TensorProblem {
  const nvox = shape[0] * shape[1] * shape[2];
  const rows = volumes.length;
  const design = tensorDesign(bvals, bvecs, volumes);
  const outer = new Float64Array(rows * PACKED);
  const designT = new Float64Array(rows * 7);
  for (let r = 0; r < rows; r++) {
    let o = 0;
    for (let i = 0; i < 7; i++) {
      designT[i * rows + r] = design[r * 7 + i];
      for (let j = 0; j <= i; j++) outer[o++ * rows + r] = design[r * 7 + i] * design[r * 7 + j];
    }
  }
  return { nvox, rows, design, outer, designT, offsets: Int32Array.from(volumes, (v) => v * nvox), iterations };
}

/** Fit voxels [first, last) into `tensor` (6 per voxel) and `s0`; voxels outside the mask are left as they are. */
export function fitTensorVoxels(
  data: Float32Array,
  problem: TensorProblem,
  mask: Uint8Array,
  first: number,
  last: number,
  tensor: Float32Array,
  s0: Float32Array,
  onProgress?: (fraction: number) => void,
): void {
  const { rows, design, offsets, iterations } = problem;
  // The weighted sums run as WebAssembly (wasm/kernels.c) on arrays in its memory.
  const { kernels, arrays } = instantiateKernels([rows, rows, rows * PACKED, rows * 7, rows, PACKED, 7]);
  const [logS, weight, outer, designT, weightedLog, normal, rhs] = arrays;
  outer.set(problem.outer);
  designT.set(problem.designT);
  const beta = new Float64Array(7);
  // Floor for non-positive signal (log undefined): a small fraction of the voxel's largest signal.
  const floorFraction = 1e-3;
  const step = Math.max(1, Math.floor((last - first) / 100));
  for (let voxel = first; voxel < last; voxel++) {
    if (onProgress && (voxel - first) % step === 0) onProgress((voxel - first) / (last - first));
    if (!mask[voxel]) continue;
    let maxS = 0;
    for (let r = 0; r < rows; r++) maxS = Math.max(maxS, data[offsets[r] + voxel]);
    if (!(maxS > 0)) continue;
    const floor = maxS * floorFraction;
    for (let r = 0; r < rows; r++) {
      const s = Math.max(data[offsets[r] + voxel], floor);
      logS[r] = Math.log(s);
      weight[r] = s * s;
    }
    let ok = true;
    for (let it = 0; it <= iterations; it++) {
      kernels.tensor_normal_equations(rows, weight.byteOffset, logS.byteOffset, outer.byteOffset, designT.byteOffset,
        weightedLog.byteOffset, normal.byteOffset, rhs.byteOffset);
      ok = solvePacked7(normal, rhs, beta);
      if (!ok || it === iterations) break;
      for (let r = 0; r < rows; r++) {
        const d = r * 7;
        let pred = 0;
        for (let i = 0; i < 7; i++) pred += design[d + i] * beta[i];
        // Clamp the exponent: a diverging fit must not produce infinite weights.
        weight[r] = Math.exp(2 * Math.min(pred, 50));
      }
    }
    if (!ok) continue;
    s0[voxel] = Math.exp(Math.min(beta[0], 50));
    for (let i = 0; i < 6; i++) tensor[voxel * 6 + i] = beta[i + 1];
  }
  onProgress?.(1);
}

/**
 * Fit a tensor in every voxel of `mask` from the chosen volumes of a
 * volume-major series [nx, ny, nz, nv].
 */
export function fitTensor(
  data: Float32Array,
  shape: readonly number[],
  bvals: readonly number[],
  bvecs: readonly (readonly number[])[],
  volumes: readonly number[],
  mask: Uint8Array,
  opts: TensorFitOptions = {},
): TensorFit {
  const problem = tensorProblem(shape, bvals, bvecs, volumes, opts.iterations);
  const tensor = new Float32Array(problem.nvox * 6);
  const s0 = new Float32Array(problem.nvox);
  fitTensorVoxels(data, problem, mask, 0, problem.nvox, tensor, s0, opts.onProgress);
  return { tensor, s0 };
}

export interface TensorMaps {
  /** Mean diffusivity = apparent diffusion coefficient, mm²/s. */
  adc: Float32Array;
  fa: Float32Array;
}

/**
 * MD and FA from tensors without an eigen-decomposition: with λ the
 * eigenvalues, Σλ² = ‖D‖²_F and Σ(λ - MD)² = ‖D‖²_F - 3·MD².
 */
export function tensorMetrics(tensor: Float32Array, mask?: Uint8Array): TensorMaps {
  const nvox = tensor.length / 6;
  const adc = new Float32Array(nvox);
  const fa = new Float32Array(nvox);
  for (let v = 0; v < nvox; v++) {
    if (mask && !mask[v]) continue;
    const o = v * 6;
    const xx = tensor[o], yy = tensor[o + 1], zz = tensor[o + 2], xy = tensor[o + 3], xz = tensor[o + 4], yz = tensor[o + 5];
    const md = (xx + yy + zz) / 3;
    const norm2 = xx * xx + yy * yy + zz * zz + 2 * (xy * xy + xz * xz + yz * yz);
    adc[v] = md;
    if (norm2 > 0) {
      const f = Math.sqrt(Math.max(0, (1.5 * (norm2 - 3 * md * md)) / norm2));
      fa[v] = Math.min(1, f);
    }
  }
  return { adc, fa };
}

export interface TraceMaps {
  /** Direction-averaged ADC: mean over the diffusion-weighted volumes of ln(S_b0 / S)/b, mm²/s; 0 outside the mask. */
  adc: Float32Array;
  /** Isotropic (trace-weighted) image: geometric mean of the diffusion-weighted volumes. */
  trace: Float32Array;
}

/**
 * Clinical trace maps from a few directions: `s0` the mean b0 and
 * `dwVolumes` the diffusion-weighted volumes of one shell.
 */
export function traceMaps(data: Float32Array, nvox: number, bvals: readonly number[], s0: Float32Array, dwVolumes: readonly number[], mask: Uint8Array): TraceMaps {
  const adc = new Float32Array(nvox);
  const trace = new Float32Array(nvox);
  const offsets = dwVolumes.map((v) => v * nvox);
  const n = dwVolumes.length;
  for (let voxel = 0; voxel < nvox; voxel++) {
    let maxS = s0[voxel];
    for (let r = 0; r < n; r++) maxS = Math.max(maxS, data[offsets[r] + voxel]);
    if (!(maxS > 0)) continue;
    const floor = maxS * 1e-3;
    const lnS0 = Math.log(Math.max(s0[voxel], floor));
    let meanLog = 0, meanAdc = 0;
    for (let r = 0; r < n; r++) {
      const l = Math.log(Math.max(data[offsets[r] + voxel], floor));
      meanLog += l / n;
      meanAdc += (lnS0 - l) / bvals[dwVolumes[r]] / n;
    }
    trace[voxel] = Math.exp(meanLog);
    if (mask[voxel]) adc[voxel] = meanAdc;
  }
  return { adc, trace };
}
