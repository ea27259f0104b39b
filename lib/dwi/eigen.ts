// Symmetric eigen-decomposition without allocations in the hot path:
// Householder tridiagonalisation (WebAssembly) followed by implicit QR with
// Wilkinson shifts. Instead of forming eigenvectors (O(n³) more work), the Givens
// rotations are recorded so that one vector can be taken into the eigenbasis
// and back: enough to project a vector onto a subset of eigenvectors, which is
// all that MP-PCA needs per voxel.

import { instantiateKernels, type DwiKernels } from './wasm/index.js';

export class SymmetricEigen {
  readonly n: number;
  /** Working matrix, row-major n×n; only the lower triangle is read; overwritten by decompose(). */
  readonly a: Float64Array;
  /** Eigenvalues after decompose() (unsorted, aligned with eigenbasis coordinates). */
  readonly values: Float64Array;
  private readonly offDiag: Float64Array;
  private readonly beta: Float64Array;
  private readonly p: Float64Array;
  private readonly house: Float64Array;
  private readonly q: Float64Array;
  private rotIndex: Int32Array;
  private rotC: Float64Array;
  private rotS: Float64Array;
  private rotCount = 0;
  private readonly order: Int32Array;
  private readonly deflation: number;
  private readonly kernels: DwiKernels;

  /**
   * `deflation`: an off-diagonal entry under this share of the tridiagonal matrix's norm also counts
   * as zero. Each such deflation moves eigenvalues by at most that much, so a share far below the
   * data's own precision ends QR sweeps that would only refine the smallest eigenvalues' last digits.
   */
  constructor(n: number, opts: { deflation?: number } = {}) {
    this.n = n;
    this.deflation = opts.deflation ?? 0;
    // The arrays the tridiagonalisation works on live in its kernel's memory.
    const { kernels, arrays } = instantiateKernels([n * n, n * n, n, n, n, n, n]);
    this.kernels = kernels;
    [this.a, this.house, this.values, this.offDiag, this.beta, this.p, this.q] = arrays;
    const cap = Math.max(64, 8 * n * n);
    this.rotIndex = new Int32Array(cap);
    this.rotC = new Float64Array(cap);
    this.rotS = new Float64Array(cap);
    this.order = new Int32Array(n);
  }

  /**
   * Decompose the symmetric matrix in `this.a` (lower triangle). With
   * `record`, the QR rotations are kept for toEigenbasis/fromEigenbasis.
   */
  decompose(record: boolean): void {
    this.tridiagonalize();
    this.qrIterate(record);
  }

  /**
   * Householder reduction A = Q T Qᵀ (values = T's diagonal, offDiag its off-diagonal); reflector k
   * is I - β_k v_k v_kᵀ with v_k stored in row k of `house` (v_k[k+1] = 1). It is the O(n³) part,
   * so it runs as WebAssembly with SIMD (wasm/kernels.c), on this object's arrays in place.
   */
  private tridiagonalize(): void {
    this.kernels.tridiagonalize(this.n, this.a.byteOffset, this.values.byteOffset, this.offDiag.byteOffset, this.beta.byteOffset,
      this.p.byteOffset, this.house.byteOffset, this.q.byteOffset);
  }

  /** Implicit symmetric QR with Wilkinson shifts on (values, offDiag). */
  private qrIterate(record: boolean): void {
    const { n, values: d, offDiag: e } = this;
    // Worst case: 60 iterations per eigenvalue, each up to n rotations.
    if (record && this.rotIndex.length < 8 * n * n) this.growRotations(8 * n * n);
    let rotIndex = this.rotIndex, rotC = this.rotC, rotS = this.rotS;
    let count = 0;
    const eps = 2.220446049250313e-16;
    let norm = 0;
    for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]) + (i > 0 ? Math.abs(e[i - 1]) : 0));
    const tol = this.deflation * norm;
    let hi = n - 1;
    let iterations = 0;
    const maxIterations = 60 * n;
    while (hi > 0) {
      if (Math.abs(e[hi - 1]) <= eps * (Math.abs(d[hi - 1]) + Math.abs(d[hi])) || Math.abs(e[hi - 1]) <= tol) {
        e[hi - 1] = 0;
        hi--;
        continue;
      }
      let lo = hi - 1;
      while (lo > 0 && Math.abs(e[lo - 1]) > eps * (Math.abs(d[lo - 1]) + Math.abs(d[lo])) && Math.abs(e[lo - 1]) > tol) lo--;
      if (lo > 0) e[lo - 1] = 0;
      if (++iterations > maxIterations) break;
      if (record && count + (hi - lo) > rotIndex.length) {
        this.rotCount = count;
        this.growRotations(rotIndex.length * 2);
        rotIndex = this.rotIndex; rotC = this.rotC; rotS = this.rotS;
      }
      // Wilkinson shift from the trailing 2×2 block.
      const delta = (d[hi - 1] - d[hi]) / 2;
      const bb = e[hi - 1] * e[hi - 1];
      const mu = d[hi] - bb / (delta + (delta >= 0 ? 1 : -1) * Math.sqrt(delta * delta + bb));
      let x = d[lo] - mu;
      let z = e[lo];
      for (let k = lo; k < hi; k++) {
        // c², s² and c·s come from 1/(x² + z²) alone, so the next rotation
        // does not wait for the square root (c and s are needed one step later).
        const rho = x * x + z * z;
        let c = 1, s = 0, cc = 1, ss = 0, cs = 0, r = 0;
        if (rho !== 0) {
          const invRho = 1 / rho;
          cc = x * x * invRho;
          ss = z * z * invRho;
          cs = -x * z * invRho;
          r = Math.sqrt(rho);
          const invR = 1 / r;
          c = x * invR;
          s = -z * invR;
        }
        if (k > lo) e[k - 1] = r;
        const pk = d[k], q = e[k], t = d[k + 1];
        d[k] = cc * pk - 2 * cs * q + ss * t;
        d[k + 1] = ss * pk + 2 * cs * q + cc * t;
        const ek = cs * (pk - t) + (cc - ss) * q;
        e[k] = ek;
        if (k < hi - 1) {
          const en = e[k + 1];
          z = -s * en;
          e[k + 1] = c * en;
          x = ek;
        }
        if (record) {
          rotIndex[count] = k;
          rotC[count] = c;
          rotS[count] = s;
          count++;
        }
      }
    }
    this.rotCount = count;
  }

  private growRotations(capacity: number): void {
    const idx = new Int32Array(capacity); idx.set(this.rotIndex.subarray(0, this.rotCount)); this.rotIndex = idx;
    const rc = new Float64Array(capacity); rc.set(this.rotC.subarray(0, this.rotCount)); this.rotC = rc;
    const rs = new Float64Array(capacity); rs.set(this.rotS.subarray(0, this.rotCount)); this.rotS = rs;
  }

  /** y ← (Q Z)ᵀ y: coordinates of y in the eigenbasis (aligned with `values`). */
  toEigenbasis(y: Float64Array): void {
    const { n, house, beta } = this;
    for (let k = 0; k < n - 2; k++) applyReflector(house, k * n, k + 1, n, beta[k], y);
    const { rotIndex, rotC, rotS } = this;
    for (let r = 0; r < this.rotCount; r++) {
      const k = rotIndex[r], c = rotC[r], s = rotS[r];
      const yk = y[k], yk1 = y[k + 1];
      y[k] = c * yk - s * yk1;
      y[k + 1] = s * yk + c * yk1;
    }
  }

  /** y ← (Q Z) y: back from eigenbasis coordinates. */
  fromEigenbasis(y: Float64Array): void {
    const { rotIndex, rotC, rotS } = this;
    for (let r = this.rotCount - 1; r >= 0; r--) {
      const k = rotIndex[r], c = rotC[r], s = rotS[r];
      const yk = y[k], yk1 = y[k + 1];
      y[k] = c * yk + s * yk1;
      y[k + 1] = -s * yk + c * yk1;
    }
    const { n, house, beta } = this;
    for (let k = n - 3; k >= 0; k--) applyReflector(house, k * n, k + 1, n, beta[k], y);
  }

  /** Indices of `values` in ascending order of eigenvalue (insertion sort: n is small, data nearly sorted). */
  ascendingOrder(): Int32Array {
    const { n, values, order } = this;
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = 1; i < n; i++) {
      const idx = order[i];
      const v = values[idx];
      let j = i - 1;
      while (j >= 0 && values[order[j]] > v) {
        order[j + 1] = order[j];
        j--;
      }
      order[j + 1] = idx;
    }
    return order;
  }
}

/** y ← (I - b v vᵀ) y with v = house[offset + s .. offset + n). */
function applyReflector(house: Float64Array, offset: number, s: number, n: number, b: number, y: Float64Array): void {
  if (b === 0) return;
  let dot = 0;
  for (let i = s; i < n; i++) dot += house[offset + i] * y[i];
  dot *= b;
  for (let i = s; i < n; i++) y[i] -= dot * house[offset + i];
}

/**
 * Eigenvalues (descending) and eigenvectors of a symmetric 3×3 matrix by
 * cyclic Jacobi rotations. `m` = [xx, yy, zz, xy, xz, yz]; vectors row-wise.
 */
export function eigenSymmetric3(m: ArrayLike<number>): { values: [number, number, number]; vectors: number[][] } {
  const a = [
    [m[0], m[3], m[4]],
    [m[3], m[1], m[5]],
    [m[4], m[5], m[2]],
  ];
  const v = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[0][1] ** 2 + a[0][2] ** 2 + a[1][2] ** 2;
    if (off < 1e-30 * (a[0][0] ** 2 + a[1][1] ** 2 + a[2][2] ** 2) || off === 0) break;
    for (let p = 0; p < 2; p++) {
      for (let q = p + 1; q < 3; q++) {
        if (a[p][q] === 0) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < 3; k++) {
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < 3; k++) {
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 3; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const idx = [0, 1, 2].sort((i, j) => a[j][j] - a[i][i]);
  return {
    values: [a[idx[0]][idx[0]], a[idx[1]][idx[1]], a[idx[2]][idx[2]]],
    vectors: idx.map((i) => [v[0][i], v[1][i], v[2][i]]),
  };
}
