// Symmetric eigen-decomposition without allocations in the hot path:
// Householder tridiagonalisation followed by implicit QR with Wilkinson shifts,
// both as WebAssembly (wasm/kernels.c). Instead of forming eigenvectors (O(n³) more work), the Givens
// rotations are recorded so that one vector can be taken into the eigenbasis
// and back: enough to project a vector onto a subset of eigenvectors, which is
// all that MP-PCA needs per voxel.

import { KernelMemory, type DwiKernels } from './wasm/index.js';

/** Arrays of SymmetricEigen in its kernel memory, in the order taken; the rotations last, so they can grow. */
const EIGEN_ARRAYS = ['a', 'house', 'values', 'offDiag', 'beta', 'p', 'q', 'y', 'state', 'rotations'] as const;

export class SymmetricEigen {
  readonly n: number;
  /** Working matrix, row-major n×n; only the lower triangle is read; overwritten by decompose(). */
  a!: Float64Array;
  /** Eigenvalues after decompose() (unsorted, aligned with eigenbasis coordinates). */
  values!: Float64Array;
  private offDiag!: Float64Array;
  private beta!: Float64Array;
  private p!: Float64Array;
  private house!: Float64Array;
  private q!: Float64Array;
  /** The vector toEigenbasis and fromEigenbasis transform, in the kernel's memory. */
  private y!: Float64Array;
  /** qr_iterate's resumable state (three int32s). */
  private state!: Float64Array;
  /** Recorded QR rotations, (k, c, s) each. */
  private rotations!: Float64Array;
  private rotCount = 0;
  private readonly order: Int32Array;
  private readonly deflation: number;
  private readonly memory: KernelMemory;
  private readonly kernels: DwiKernels;
  /** Byte offset and length of each array in EIGEN_ARRAYS, to take them again after the memory grows. */
  private readonly layout = new Map<(typeof EIGEN_ARRAYS)[number], [number, number]>();

  /**
   * `deflation`: an off-diagonal entry under this share of the tridiagonal matrix's norm also counts
   * as zero. Each such deflation moves eigenvalues by at most that much, so a share far below the
   * data's own precision ends QR sweeps that would only refine the smallest eigenvalues' last digits.
   */
  constructor(n: number, opts: { deflation?: number; /** Room for QR rotations before it first grows (tests). */ rotations?: number } = {}) {
    this.n = n;
    this.deflation = opts.deflation ?? 0;
    // The arrays the kernels work on live in their memory. Worst case for the rotations: 60 QR
    // iterations per eigenvalue of up to n rotations each; 8n² is plenty in practice, and they grow.
    const rotations = 3 * (opts.rotations ?? Math.max(64, 8 * n * n));
    const lengths = { a: n * n, house: n * n, values: n, offDiag: n, beta: n, p: n, q: n, y: n, state: 2, rotations };
    this.memory = new KernelMemory(Object.values(lengths).reduce((sum, length) => sum + length, 0));
    this.kernels = this.memory.kernels;
    for (const name of EIGEN_ARRAYS) {
      const view = this.memory.take(lengths[name]);
      this.layout.set(name, [view.byteOffset, view.length]);
    }
    this.bindArrays();
    this.order = new Int32Array(n);
  }

  /** (Re)takes every array's view from the kernel memory. */
  private bindArrays(): void {
    for (const [name, [offset, length]] of this.layout) this[name] = this.memory.view(offset, length);
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

  /**
   * Implicit symmetric QR with Wilkinson shifts on (values, offDiag), as WebAssembly
   * (wasm/kernels.c, qr_iterate): each sweep deflates converged eigenvalues at the bottom, takes
   * a Wilkinson shift from the trailing 2×2 block and chases the bulge down with Givens rotations,
   * whose c², s² and c·s come from 1/(x² + z²) alone, so the next rotation does not wait for the
   * square root. With `record`, the rotations are kept for toEigenbasis/fromEigenbasis; when they
   * outgrow their room, it doubles and the kernel resumes.
   */
  private qrIterate(record: boolean): void {
    const { n, values: d, offDiag: e } = this;
    let norm = 0;
    for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]) + (i > 0 ? Math.abs(e[i - 1]) : 0));
    const tol = this.deflation * norm;
    const state = new Int32Array(this.state.buffer, this.state.byteOffset, 3);
    state[0] = 0;
    state[1] = n - 1;
    state[2] = 0;
    for (;;) {
      const capacity = this.rotations.length / 3;
      const done = this.kernels.qr_iterate(n, this.values.byteOffset, this.offDiag.byteOffset, tol, record ? 1 : 0,
        this.rotations.byteOffset, capacity, this.state.byteOffset);
      if (done) break;
      const [offset, length] = this.layout.get('rotations')!;
      this.memory.reserve(offset + 16 * length);
      this.layout.set('rotations', [offset, 2 * length]);
      this.bindArrays();
    }
    this.rotCount = new Int32Array(this.state.buffer, this.state.byteOffset, 1)[0];
  }

  /** y ← (Q Z)ᵀ y: coordinates of y in the eigenbasis (aligned with `values`). */
  toEigenbasis(y: Float64Array): void {
    this.y.set(y);
    this.kernels.to_eigenbasis(this.n, this.house.byteOffset, this.beta.byteOffset, this.rotations.byteOffset, this.rotCount, this.y.byteOffset);
    y.set(this.y);
  }

  /** y ← (Q Z) y: back from eigenbasis coordinates. */
  fromEigenbasis(y: Float64Array): void {
    this.y.set(y);
    this.kernels.from_eigenbasis(this.n, this.house.byteOffset, this.beta.byteOffset, this.rotations.byteOffset, this.rotCount, this.y.byteOffset);
    y.set(this.y);
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
