// B1 bias-field correction of the N4 kind (Tustison et al., IEEE TMI 2010),
// estimated on the mean b0 and applied to every volume.
//
// In the log domain the image is v = u + f (true intensities u, smooth field
// f). Each iteration sharpens the histogram of the current estimate of u by
// Wiener-deconvolving a Gaussian of width FWHM (the blur the field causes),
// maps every voxel to its expected sharpened value E[u | v], and fits the
// residual with a smooth cubic B-spline (scattered-data approximation of Lee,
// Wolberg & Shin 1997); the fitted residual is added to the field. Fitting
// levels double the control-point spacing resolution. The work is done on a
// block-averaged copy (shrink factor), the final field is evaluated at full
// resolution from the control lattices.
import { fftPlan } from './fft.js';
import { dilateCross, erodeCross, fillHolesSlices, largestComponent } from '../volume/morphology.js';
import { spatialDims } from '../volume/shape.js';
import { otsuThreshold } from '../volume/statistics.js';
import { AXIAL_SLICE_EDGES } from './mask.js';

export interface N4Options {
  /** Shrink factor for the estimation grid (default: so that the largest axis is ≤ 64 voxels). */
  shrink?: number;
  /** Fitting levels (default 4): B-spline spans 1, 2, 4, 8 per axis... times `initialSpans`. */
  levels?: number;
  initialSpans?: number;
  /** Maximum iterations per level (default 50). */
  iterations?: number;
  /** Stop a level when the coefficient of variation of the field update falls below this (default 0.001). */
  convergence?: number;
  /** Histogram FWHM in log-intensity units (default 0.15). */
  fwhm?: number;
  wienerNoise?: number;
  bins?: number;
}

export interface N4Params {
  shrink: number;
  levels: number;
  initialSpans: number;
  iterations: number;
  convergence: number;
  fwhm: number;
  wienerNoise: number;
  bins: number;
}

export interface N4Result {
  /** Multiplicative field at full resolution (smooth everywhere), geometric mean 1 inside the mask. */
  field: Float32Array;
  mask: Uint8Array;
  params: N4Params;
  iterationsRun: number[];
}

/** Head (foreground) mask for the estimation: Otsu, one opening step, largest component, holes filled. */
export function foregroundMask(image: Float32Array, shape: readonly number[]): Uint8Array {
  const t = otsuThreshold(image);
  const m = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) m[i] = image[i] > t * 0.5 ? 1 : 0;
  const spatial = spatialDims(shape);
  return fillHolesSlices(largestComponent(dilateCross(erodeCross(m, spatial), spatial), spatial), spatial, 2, AXIAL_SLICE_EDGES);
}

/** Cubic B-spline basis weights at local coordinate t ∈ [0, 1). */
function bspline(t: number, out: Float64Array): void {
  const it = 1 - t;
  out[0] = (it * it * it) / 6;
  out[1] = (3 * t * t * t - 6 * t * t + 4) / 6;
  out[2] = (-3 * t * t * t + 3 * t * t + 3 * t + 1) / 6;
  out[3] = (t * t * t) / 6;
}

/** A tensor-product cubic B-spline over the physical extent of the image. */
class Lattice {
  readonly spans: [number, number, number];
  readonly size: [number, number, number];
  readonly phi: Float64Array;

  constructor(spans: [number, number, number]) {
    this.spans = spans;
    this.size = [spans[0] + 3, spans[1] + 3, spans[2] + 3];
    this.phi = new Float64Array(this.size[0] * this.size[1] * this.size[2]);
  }
}

/** Parametric coordinate of a position p ∈ [0, extent] along an axis with `spans` spans. */
function cellOf(u: number, spans: number): [number, number] {
  let cell = Math.floor(u);
  if (cell >= spans) cell = spans - 1;
  if (cell < 0) cell = 0;
  return [cell, u - cell];
}

/**
 * B-spline cell and the four basis weights (at 4·i) of every voxel centre along an axis of n
 * voxels, whose centres map to parametric coordinates (i + 0.5)/n · spans.
 */
function axisBasis(n: number, spans: number): { cell: Int32Array; w: Float64Array } {
  const cell = new Int32Array(n);
  const w = new Float64Array(4 * n);
  const tmp = new Float64Array(4);
  for (let i = 0; i < n; i++) {
    const [c, t] = cellOf(((i + 0.5) / n) * spans, spans);
    cell[i] = c;
    bspline(t, tmp);
    w.set(tmp, 4 * i);
  }
  return { cell, w };
}

/**
 * Scattered-data B-spline approximation (Lee et al. 1997) of `values` at the
 * mask voxels of a grid whose voxel centres map to parametric coordinates
 * (i + 0.5)/n · spans.
 */
function fitLattice(values: Float64Array, mask: Uint8Array, shape: readonly number[], spans: [number, number, number]): Lattice {
  const lattice = new Lattice(spans);
  const [nx, ny, nz] = shape;
  const [sx, sy] = lattice.size;
  const num = new Float64Array(lattice.phi.length);
  const den = new Float64Array(lattice.phi.length);
  const [{ cell: cxs, w: bx }, { cell: cys, w: by }, { cell: czs, w: bz }] = [0, 1, 2].map((a) => axisBasis(shape[a], spans[a]));
  for (let z = 0; z < nz; z++) {
    const cz = czs[z], oz = 4 * z;
    for (let y = 0; y < ny; y++) {
      const cy = cys[y], oy = 4 * y;
      for (let x = 0; x < nx; x++) {
        const i = (z * ny + y) * nx + x;
        if (!mask[i]) continue;
        const cx = cxs[x], ox = 4 * x;
        let sumW2 = 0;
        for (let c = 0; c < 4; c++) for (let b = 0; b < 4; b++) for (let a = 0; a < 4; a++) {
          const w = bx[ox + a] * by[oy + b] * bz[oz + c];
          sumW2 += w * w;
        }
        const z0 = values[i] / sumW2;
        for (let c = 0; c < 4; c++) {
          for (let b = 0; b < 4; b++) {
            const row = ((cz + c) * sy + cy + b) * sx + cx;
            for (let a = 0; a < 4; a++) {
              const w = bx[ox + a] * by[oy + b] * bz[oz + c];
              const w2 = w * w;
              num[row + a] += w2 * w * z0;
              den[row + a] += w2;
            }
          }
        }
      }
    }
  }
  for (let k = 0; k < num.length; k++) lattice.phi[k] = den[k] > 0 ? num[k] / den[k] : 0;
  return lattice;
}

/** Add the lattice's values at the voxel centres of a grid of `shape` to `out`. */
function evaluateLattice(lattice: Lattice, shape: readonly number[], out: Float64Array): void {
  const [nx, ny, nz] = shape;
  const [sx, sy] = lattice.size;
  const { spans, phi } = lattice;
  const [{ cell: cxs, w: bx }, { cell: cys, w: by }, { cell: czs, w: bz }] = [0, 1, 2].map((a) => axisBasis(shape[a], spans[a]));
  for (let z = 0; z < nz; z++) {
    const cz = czs[z], oz = 4 * z;
    for (let y = 0; y < ny; y++) {
      const cy = cys[y], oy = 4 * y;
      for (let x = 0; x < nx; x++) {
        const cx = cxs[x];
        let v = 0;
        for (let c = 0; c < 4; c++) {
          for (let b = 0; b < 4; b++) {
            const row = ((cz + c) * sy + cy + b) * sx + cx;
            const wbc = by[oy + b] * bz[oz + c];
            v += wbc * (bx[4 * x] * phi[row] + bx[4 * x + 1] * phi[row + 1] + bx[4 * x + 2] * phi[row + 2] + bx[4 * x + 3] * phi[row + 3]);
          }
        }
        out[(z * ny + y) * nx + x] += v;
      }
    }
  }
}

/**
 * Histogram sharpening: for each value of `u` (mask voxels), the expected
 * value of the deconvolved distribution given the blurred one.
 */
function sharpen(u: Float64Array, mask: Uint8Array, p: N4Params, out: Float64Array): void {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < u.length; i++) {
    if (!mask[i]) continue;
    if (u[i] < lo) lo = u[i];
    if (u[i] > hi) hi = u[i];
  }
  if (!(hi > lo)) {
    for (let i = 0; i < u.length; i++) out[i] = u[i];
    return;
  }
  const bins = p.bins;
  const width = (hi - lo) / (bins - 1);
  let size = 1;
  while (size < 2 * bins) size *= 2;
  const hRe = new Float64Array(size), hIm = new Float64Array(size);
  for (let i = 0; i < u.length; i++) {
    if (!mask[i]) continue;
    const pos = (u[i] - lo) / width;
    const b = Math.min(bins - 2, Math.floor(pos));
    const f = pos - b;
    hRe[b] += 1 - f;
    hRe[b + 1] += f;
  }
  // Gaussian of the given FWHM in bins, centred at 0 (wrapped).
  const sigma = p.fwhm / width / (2 * Math.sqrt(2 * Math.log(2)));
  const gRe = new Float64Array(size), gIm = new Float64Array(size);
  let gSum = 0;
  for (let i = 0; i < size; i++) {
    const d = i <= size / 2 ? i : i - size;
    const g = Math.exp((-d * d) / (2 * sigma * sigma));
    gRe[i] = g;
    gSum += g;
  }
  for (let i = 0; i < size; i++) gRe[i] /= gSum;
  const fft = fftPlan(size);
  fft.forward(hRe, hIm);
  fft.forward(gRe, gIm);
  // Wiener deconvolution: U = H·conj(G) / (|G|² + noise).
  const uRe = new Float64Array(size), uIm = new Float64Array(size);
  for (let k = 0; k < size; k++) {
    const g2 = gRe[k] * gRe[k] + gIm[k] * gIm[k];
    const d = g2 + p.wienerNoise;
    uRe[k] = (hRe[k] * gRe[k] + hIm[k] * gIm[k]) / d;
    uIm[k] = (hIm[k] * gRe[k] - hRe[k] * gIm[k]) / d;
  }
  fft.inverse(uRe, uIm);
  for (let k = 0; k < size; k++) {
    uRe[k] = k < bins ? Math.max(0, uRe[k] / size) : 0;
    uIm[k] = 0;
  }
  // E[u|v] = (G * (U·u)) / (G * U)
  const numRe = new Float64Array(size), numIm = new Float64Array(size);
  for (let k = 0; k < bins; k++) numRe[k] = uRe[k] * (lo + k * width);
  fft.forward(numRe, numIm);
  fft.forward(uRe, uIm);
  for (let k = 0; k < size; k++) {
    const nr = numRe[k] * gRe[k] - numIm[k] * gIm[k], ni = numRe[k] * gIm[k] + numIm[k] * gRe[k];
    numRe[k] = nr; numIm[k] = ni;
    const dr = uRe[k] * gRe[k] - uIm[k] * gIm[k], di = uRe[k] * gIm[k] + uIm[k] * gRe[k];
    uRe[k] = dr; uIm[k] = di;
  }
  fft.inverse(numRe, numIm);
  fft.inverse(uRe, uIm);
  const expected = new Float64Array(bins);
  for (let k = 0; k < bins; k++) {
    const den = uRe[k];
    expected[k] = Math.abs(den) > 1e-12 * size ? numRe[k] / den : lo + k * width;
  }
  for (let i = 0; i < u.length; i++) {
    if (!mask[i]) {
      out[i] = u[i];
      continue;
    }
    const pos = (u[i] - lo) / width;
    const b = Math.min(bins - 2, Math.floor(pos));
    const f = pos - b;
    out[i] = expected[b] * (1 - f) + expected[b + 1] * f;
  }
}

/** Block-average `image` inside `mask` by `s` (partial blocks kept); mask of blocks with any voxel. */
function shrinkImage(image: Float32Array, mask: Uint8Array, shape: readonly number[], s: number): { data: Float64Array; mask: Uint8Array; shape: number[] } {
  const [nx, ny, nz] = shape;
  const sx = Math.ceil(nx / s), sy = Math.ceil(ny / s), sz = Math.ceil(nz / s);
  const sum = new Float64Array(sx * sy * sz);
  const count = new Float64Array(sx * sy * sz);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
    const i = (z * ny + y) * nx + x;
    if (!mask[i] || !(image[i] > 0)) continue;
    const j = (Math.floor(z / s) * sy + Math.floor(y / s)) * sx + Math.floor(x / s);
    sum[j] += image[i];
    count[j]++;
  }
  const smask = new Uint8Array(sum.length);
  for (let j = 0; j < sum.length; j++) {
    if (count[j] > 0) {
      sum[j] /= count[j];
      smask[j] = 1;
    }
  }
  return { data: sum, mask: smask, shape: [sx, sy, sz] };
}

export function n4Params(opts: N4Options, shape: readonly number[]): N4Params {
  const largest = Math.max(...shape.slice(0, 3));
  return {
    shrink: opts.shrink ?? Math.max(1, Math.ceil(largest / 64)),
    levels: opts.levels ?? 4,
    initialSpans: opts.initialSpans ?? 1,
    iterations: opts.iterations ?? 50,
    convergence: opts.convergence ?? 0.001,
    fwhm: opts.fwhm ?? 0.15,
    wienerNoise: opts.wienerNoise ?? 0.01,
    bins: opts.bins ?? 200,
  };
}

/** Estimate the bias field of a 3D image (e.g. the mean b0). */
export function n4BiasField(image: Float32Array, shape: readonly number[], opts: N4Options & { mask?: Uint8Array; onProgress?: (f: number) => void } = {}): N4Result {
  const params = n4Params(opts, shape);
  const fullShape = shape.slice(0, 3);
  const mask = opts.mask ?? foregroundMask(image, fullShape);
  const small = shrinkImage(image, mask, fullShape, params.shrink);
  const count = small.data.length;
  const logImage = new Float64Array(count);
  for (let i = 0; i < count; i++) logImage[i] = small.mask[i] ? Math.log(small.data[i]) : 0;
  const field = new Float64Array(count);
  const corrected = new Float64Array(count);
  const sharpened = new Float64Array(count);
  const residual = new Float64Array(count);
  const update = new Float64Array(count);
  const lattices: Lattice[] = [];
  const iterationsRun: number[] = [];
  // Spans per axis scale with the axis' physical share, at least 1.
  const [sx, sy, sz] = small.shape;
  const maxAxis = Math.max(sx, sy, sz);
  for (let level = 0; level < params.levels; level++) {
    const base = params.initialSpans * 2 ** level;
    const spans: [number, number, number] = [
      Math.max(1, Math.round((base * sx) / maxAxis)),
      Math.max(1, Math.round((base * sy) / maxAxis)),
      Math.max(1, Math.round((base * sz) / maxAxis)),
    ];
    let levelLattice: Lattice | undefined;
    let it = 0;
    for (; it < params.iterations; it++) {
      for (let i = 0; i < count; i++) corrected[i] = logImage[i] - field[i];
      sharpen(corrected, small.mask, params, sharpened);
      for (let i = 0; i < count; i++) residual[i] = small.mask[i] ? corrected[i] - sharpened[i] : 0;
      const fitted = fitLattice(residual, small.mask, small.shape, spans);
      update.fill(0);
      evaluateLattice(fitted, small.shape, update);
      // Convergence: coefficient of variation of exp(update) inside the mask.
      let s = 0, s2 = 0, n = 0;
      for (let i = 0; i < count; i++) {
        if (!small.mask[i]) continue;
        field[i] += update[i];
        const e = Math.exp(update[i]);
        s += e; s2 += e * e; n++;
      }
      if (levelLattice) for (let k = 0; k < fitted.phi.length; k++) levelLattice.phi[k] += fitted.phi[k];
      else levelLattice = fitted;
      const mean = s / n;
      const cv = Math.sqrt(Math.max(0, s2 / n - mean * mean)) / mean;
      if (cv < params.convergence) {
        it++;
        break;
      }
    }
    iterationsRun.push(it);
    if (levelLattice) lattices.push(levelLattice);
    opts.onProgress?.((level + 1) / params.levels);
  }
  // Full-resolution field from the lattices; the lattice parametrisation is
  // over the shrunk grid's extent, which covers ceil(n/s)·s full voxels.
  const full = new Float64Array(image.length);
  const [nx, ny, nz] = fullShape;
  const s = params.shrink;
  const padded = [sx * s, sy * s, sz * s];
  const paddedField = new Float64Array(padded[0] * padded[1] * padded[2]);
  for (const lattice of lattices) evaluateLattice(lattice, padded, paddedField);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
    full[(z * ny + y) * nx + x] = paddedField[(z * padded[1] + y) * padded[0] + x];
  }
  // Normalise to geometric mean 1 in the mask, so intensities keep their scale.
  let meanLog = 0, n = 0;
  for (let i = 0; i < full.length; i++) if (mask[i]) { meanLog += full[i]; n++; }
  meanLog = n > 0 ? meanLog / n : 0;
  const out = new Float32Array(image.length);
  for (let i = 0; i < full.length; i++) out[i] = Math.exp(full[i] - meanLog);
  return { field: out, mask, params, iterationsRun };
}

/** Divide every volume of a volume-major series by the field, in place. */
export function applyBiasField(data: Float32Array, field: Float32Array): void {
  const nvox = field.length;
  const volumes = data.length / nvox;
  for (let v = 0; v < volumes; v++) {
    const base = v * nvox;
    for (let i = 0; i < nvox; i++) data[base + i] /= field[i];
  }
}
