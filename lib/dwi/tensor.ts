// Diffusion-tensor fit and scalar maps.
//
// ln S = ln S0 - b gᵀDg is linear in (ln S0, Dxx, Dyy, Dzz, Dxy, Dxz, Dyz).
// The fit is weighted least squares: first with weights S² from the measured
// signal (the variance of ln S is ≈ σ²/S²), then iteratively reweighted with
// the squared predicted signal (Salvador et al. 2005; Veraart et al. 2013).
// Diffusivities are in mm²/s when b is in s/mm².

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

/** Solve the 7×7 SPD system (lower-triangular Cholesky in place); false when not positive definite. */
function solve7(a: Float64Array, rhs: Float64Array, out: Float64Array): boolean {
  const n = 7;
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    a[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / ljj;
    }
  }
  for (let i = 0; i < n; i++) {
    let s = rhs[i];
    for (let k = 0; k < i; k++) s -= a[i * n + k] * out[k];
    out[i] = s / a[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = out[i];
    for (let k = i + 1; k < n; k++) s -= a[k * n + i] * out[k];
    out[i] = s / a[i * n + i];
  }
  return true;
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
  const [nx, ny, nz] = shape;
  const nvox = nx * ny * nz;
  const iterations = opts.iterations ?? 2;
  const rows = volumes.length;
  const design = tensorDesign(bvals, bvecs, volumes);
  const tensor = new Float32Array(nvox * 6);
  const s0 = new Float32Array(nvox);
  const logS = new Float64Array(rows);
  const weight = new Float64Array(rows);
  const normal = new Float64Array(49);
  const rhs = new Float64Array(7);
  const beta = new Float64Array(7);
  const offsets = volumes.map((v) => v * nvox);
  // Floor for non-positive signal (log undefined): a small fraction of the voxel's largest signal.
  const floorFraction = 1e-3;
  const step = Math.max(1, Math.floor(nvox / 100));
  for (let voxel = 0; voxel < nvox; voxel++) {
    if (opts.onProgress && voxel % step === 0) opts.onProgress(voxel / nvox);
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
    for (let it = 0; it <= iterations && ok; it++) {
      normal.fill(0);
      rhs.fill(0);
      for (let r = 0; r < rows; r++) {
        const w = weight[r];
        const row = r * 7;
        for (let i = 0; i < 7; i++) {
          const wi = w * design[row + i];
          rhs[i] += wi * logS[r];
          for (let j = 0; j <= i; j++) normal[i * 7 + j] += wi * design[row + j];
        }
      }
      ok = solve7(normal, rhs, beta);
      if (!ok || it === iterations) break;
      for (let r = 0; r < rows; r++) {
        let pred = 0;
        const row = r * 7;
        for (let i = 0; i < 7; i++) pred += design[row + i] * beta[i];
        // Clamp the exponent: a diverging fit must not produce infinite weights.
        weight[r] = Math.exp(2 * Math.min(pred, 50));
      }
    }
    if (!ok) continue;
    s0[voxel] = Math.exp(Math.min(beta[0], 50));
    for (let i = 0; i < 6; i++) tensor[voxel * 6 + i] = beta[i + 1];
  }
  opts.onProgress?.(1);
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
