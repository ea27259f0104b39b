// Complex FFT of any length: self-sorting (Stockham) mixed radix with
// dedicated radix-2/3/4/5/7 butterflies and a generic O(p²) butterfly for other
// prime factors. Plans are cached per length; transforms are unnormalised.
import { KernelMemory, type DwiKernels } from './wasm/index.js';

interface Stage {
  /** Radix of this stage. */
  p: number;
  /** Length of the sub-transforms already combined before this stage. */
  l: number;
  /** Number of interleaved sub-sequences after this stage (n / (l·p)). */
  m: number;
  /** Forward twiddles ω_{l·p}^{q·j}, indexed j·p + q. */
  twRe: Float64Array;
  twIm: Float64Array;
}

function factorize(n: number): number[] {
  const factors: number[] = [];
  let rest = n;
  while (rest % 4 === 0) { factors.push(4); rest /= 4; }
  while (rest % 2 === 0) { factors.push(2); rest /= 2; }
  for (let f = 3; f * f <= rest; f += 2) {
    while (rest % f === 0) { factors.push(f); rest /= f; }
  }
  if (rest > 1) factors.push(rest);
  return factors;
}

/** The stages of a length-n transform, each with its forward twiddles. */
function planStages(n: number): Stage[] {
  const stages: Stage[] = [];
  let l = 1;
  for (const p of factorize(n)) {
    const L = l * p;
    const twRe = new Float64Array(l * p);
    const twIm = new Float64Array(l * p);
    for (let j = 0; j < l; j++) {
      for (let q = 0; q < p; q++) {
        const angle = (-2 * Math.PI * q * j) / L;
        twRe[j * p + q] = Math.cos(angle);
        twIm[j * p + q] = Math.sin(angle);
      }
    }
    stages.push({ p, l, m: n / L, twRe, twIm });
    l = L;
  }
  return stages;
}

/**
 * One radix-2, 3, 4, 5 or 7 stage over `mb` interleaved values per sub-sequence (m for one transform,
 * m·B for B batched ones); false for other radices, which the caller handles.
 */
function smallRadixStage(s: Stage, mb: number, aRe: Float64Array, aIm: Float64Array, bRe: Float64Array, bIm: Float64Array, sign: 1 | -1): boolean {
  const { p, l, twRe, twIm } = s;
  const outStride = l * mb;
  if (p === 4) {
    for (let j = 0; j < l; j++) {
      const t = j * 4;
      const w1r = twRe[t + 1], w1i = sign * twIm[t + 1];
      const w2r = twRe[t + 2], w2i = sign * twIm[t + 2];
      const w3r = twRe[t + 3], w3i = sign * twIm[t + 3];
      const inBase = j * mb * p;
      const outBase = j * mb;
      for (let k = 0; k < mb; k++) {
        const i0 = inBase + k;
        const x0r = aRe[i0], x0i = aIm[i0];
        let xr = aRe[i0 + mb], xi = aIm[i0 + mb];
        const x1r = xr * w1r - xi * w1i, x1i = xr * w1i + xi * w1r;
        xr = aRe[i0 + 2 * mb]; xi = aIm[i0 + 2 * mb];
        const x2r = xr * w2r - xi * w2i, x2i = xr * w2i + xi * w2r;
        xr = aRe[i0 + 3 * mb]; xi = aIm[i0 + 3 * mb];
        const x3r = xr * w3r - xi * w3i, x3i = xr * w3i + xi * w3r;
        const t0r = x0r + x2r, t0i = x0i + x2i;
        const t1r = x0r - x2r, t1i = x0i - x2i;
        const t2r = x1r + x3r, t2i = x1i + x3i;
        // (x1 - x3)·(∓i): forward multiplies by -i, inverse by +i.
        const t3r = sign * (x1i - x3i), t3i = -sign * (x1r - x3r);
        const o = outBase + k;
        bRe[o] = t0r + t2r; bIm[o] = t0i + t2i;
        bRe[o + outStride] = t1r + t3r; bIm[o + outStride] = t1i + t3i;
        bRe[o + 2 * outStride] = t0r - t2r; bIm[o + 2 * outStride] = t0i - t2i;
        bRe[o + 3 * outStride] = t1r - t3r; bIm[o + 3 * outStride] = t1i - t3i;
      }
    }
  } else if (p === 2) {
    for (let j = 0; j < l; j++) {
      const w1r = twRe[j * 2 + 1], w1i = sign * twIm[j * 2 + 1];
      const inBase = j * mb * p;
      const outBase = j * mb;
      for (let k = 0; k < mb; k++) {
        const i0 = inBase + k;
        const x0r = aRe[i0], x0i = aIm[i0];
        const xr = aRe[i0 + mb], xi = aIm[i0 + mb];
        const x1r = xr * w1r - xi * w1i, x1i = xr * w1i + xi * w1r;
        const o = outBase + k;
        bRe[o] = x0r + x1r; bIm[o] = x0i + x1i;
        bRe[o + outStride] = x0r - x1r; bIm[o + outStride] = x0i - x1i;
      }
    }
  } else if (p === 3) {
    const h = sign * (Math.sqrt(3) / 2);
    for (let j = 0; j < l; j++) {
      const t = j * 3;
      const w1r = twRe[t + 1], w1i = sign * twIm[t + 1];
      const w2r = twRe[t + 2], w2i = sign * twIm[t + 2];
      const inBase = j * mb * p;
      const outBase = j * mb;
      for (let k = 0; k < mb; k++) {
        const i0 = inBase + k;
        const x0r = aRe[i0], x0i = aIm[i0];
        let xr = aRe[i0 + mb], xi = aIm[i0 + mb];
        const x1r = xr * w1r - xi * w1i, x1i = xr * w1i + xi * w1r;
        xr = aRe[i0 + 2 * mb]; xi = aIm[i0 + 2 * mb];
        const x2r = xr * w2r - xi * w2i, x2i = xr * w2i + xi * w2r;
        const sr = x1r + x2r, si = x1i + x2i;
        const cr = x0r - 0.5 * sr, ci = x0i - 0.5 * si;
        // ±i·(√3/2)·(x1 - x2), sign-matched to the transform direction.
        const ur = h * (x1i - x2i), ui = -h * (x1r - x2r);
        const o = outBase + k;
        bRe[o] = x0r + sr; bIm[o] = x0i + si;
        bRe[o + outStride] = cr + ur; bIm[o + outStride] = ci + ui;
        bRe[o + 2 * outStride] = cr - ur; bIm[o + 2 * outStride] = ci - ui;
      }
    }
  } else if (p === 5) {
    radix5Stage(s, mb, aRe, aIm, bRe, bIm, sign);
  } else if (p === 7) {
    radix7Stage(s, mb, aRe, aIm, bRe, bIm, sign);
  } else {
    return false;
  }
  return true;
}

// Odd radices pair inputs q and p-q: with a = x_q + x_{p-q} and b = x_q - x_{p-q},
// y_r = x0 + Σ cos(2πqr/p)·a_q ∓ i·Σ sin(2πqr/p)·b_q and y_{p-r} the same with ±,
// a quarter of the multiplications of the plain DFT.
const C5_1 = Math.cos((2 * Math.PI) / 5), C5_2 = Math.cos((4 * Math.PI) / 5);
const S5_1 = Math.sin((2 * Math.PI) / 5), S5_2 = Math.sin((4 * Math.PI) / 5);

function radix5Stage(s: Stage, mb: number, aRe: Float64Array, aIm: Float64Array, bRe: Float64Array, bIm: Float64Array, sign: 1 | -1): void {
  const { l, twRe, twIm } = s;
  const outStride = l * mb;
  const s1 = sign * S5_1, s2 = sign * S5_2;
  for (let j = 0; j < l; j++) {
    const t = j * 5;
    const w1r = twRe[t + 1], w1i = sign * twIm[t + 1];
    const w2r = twRe[t + 2], w2i = sign * twIm[t + 2];
    const w3r = twRe[t + 3], w3i = sign * twIm[t + 3];
    const w4r = twRe[t + 4], w4i = sign * twIm[t + 4];
    const inBase = j * mb * 5;
    const outBase = j * mb;
    for (let k = 0; k < mb; k++) {
      const i0 = inBase + k;
      const x0r = aRe[i0], x0i = aIm[i0];
      let xr = aRe[i0 + mb], xi = aIm[i0 + mb];
      const x1r = xr * w1r - xi * w1i, x1i = xr * w1i + xi * w1r;
      xr = aRe[i0 + 2 * mb]; xi = aIm[i0 + 2 * mb];
      const x2r = xr * w2r - xi * w2i, x2i = xr * w2i + xi * w2r;
      xr = aRe[i0 + 3 * mb]; xi = aIm[i0 + 3 * mb];
      const x3r = xr * w3r - xi * w3i, x3i = xr * w3i + xi * w3r;
      xr = aRe[i0 + 4 * mb]; xi = aIm[i0 + 4 * mb];
      const x4r = xr * w4r - xi * w4i, x4i = xr * w4i + xi * w4r;
      const a1r = x1r + x4r, a1i = x1i + x4i, b1r = x1r - x4r, b1i = x1i - x4i;
      const a2r = x2r + x3r, a2i = x2i + x3i, b2r = x2r - x3r, b2i = x2i - x3i;
      const c1r = x0r + C5_1 * a1r + C5_2 * a2r, c1i = x0i + C5_1 * a1i + C5_2 * a2i;
      const c2r = x0r + C5_2 * a1r + C5_1 * a2r, c2i = x0i + C5_2 * a1i + C5_1 * a2i;
      // -i·sign·(Σ sin·b): (re, im) → (im, -re).
      const d1r = s1 * b1i + s2 * b2i, d1i = -(s1 * b1r + s2 * b2r);
      const d2r = s2 * b1i - s1 * b2i, d2i = -(s2 * b1r - s1 * b2r);
      const o = outBase + k;
      bRe[o] = x0r + a1r + a2r; bIm[o] = x0i + a1i + a2i;
      bRe[o + outStride] = c1r + d1r; bIm[o + outStride] = c1i + d1i;
      bRe[o + 4 * outStride] = c1r - d1r; bIm[o + 4 * outStride] = c1i - d1i;
      bRe[o + 2 * outStride] = c2r + d2r; bIm[o + 2 * outStride] = c2i + d2i;
      bRe[o + 3 * outStride] = c2r - d2r; bIm[o + 3 * outStride] = c2i - d2i;
    }
  }
}

const C7_1 = Math.cos((2 * Math.PI) / 7), C7_2 = Math.cos((4 * Math.PI) / 7), C7_3 = Math.cos((6 * Math.PI) / 7);
const S7_1 = Math.sin((2 * Math.PI) / 7), S7_2 = Math.sin((4 * Math.PI) / 7), S7_3 = Math.sin((6 * Math.PI) / 7);

function radix7Stage(s: Stage, mb: number, aRe: Float64Array, aIm: Float64Array, bRe: Float64Array, bIm: Float64Array, sign: 1 | -1): void {
  const { l, twRe, twIm } = s;
  const outStride = l * mb;
  const s1 = sign * S7_1, s2 = sign * S7_2, s3 = sign * S7_3;
  for (let j = 0; j < l; j++) {
    const t = j * 7;
    const w1r = twRe[t + 1], w1i = sign * twIm[t + 1];
    const w2r = twRe[t + 2], w2i = sign * twIm[t + 2];
    const w3r = twRe[t + 3], w3i = sign * twIm[t + 3];
    const w4r = twRe[t + 4], w4i = sign * twIm[t + 4];
    const w5r = twRe[t + 5], w5i = sign * twIm[t + 5];
    const w6r = twRe[t + 6], w6i = sign * twIm[t + 6];
    const inBase = j * mb * 7;
    const outBase = j * mb;
    for (let k = 0; k < mb; k++) {
      const i0 = inBase + k;
      const x0r = aRe[i0], x0i = aIm[i0];
      let xr = aRe[i0 + mb], xi = aIm[i0 + mb];
      const x1r = xr * w1r - xi * w1i, x1i = xr * w1i + xi * w1r;
      xr = aRe[i0 + 2 * mb]; xi = aIm[i0 + 2 * mb];
      const x2r = xr * w2r - xi * w2i, x2i = xr * w2i + xi * w2r;
      xr = aRe[i0 + 3 * mb]; xi = aIm[i0 + 3 * mb];
      const x3r = xr * w3r - xi * w3i, x3i = xr * w3i + xi * w3r;
      xr = aRe[i0 + 4 * mb]; xi = aIm[i0 + 4 * mb];
      const x4r = xr * w4r - xi * w4i, x4i = xr * w4i + xi * w4r;
      xr = aRe[i0 + 5 * mb]; xi = aIm[i0 + 5 * mb];
      const x5r = xr * w5r - xi * w5i, x5i = xr * w5i + xi * w5r;
      xr = aRe[i0 + 6 * mb]; xi = aIm[i0 + 6 * mb];
      const x6r = xr * w6r - xi * w6i, x6i = xr * w6i + xi * w6r;
      const a1r = x1r + x6r, a1i = x1i + x6i, b1r = x1r - x6r, b1i = x1i - x6i;
      const a2r = x2r + x5r, a2i = x2i + x5i, b2r = x2r - x5r, b2i = x2i - x5i;
      const a3r = x3r + x4r, a3i = x3i + x4i, b3r = x3r - x4r, b3i = x3i - x4i;
      // cos(2π·q·r/7) for r = 1, 2, 3: (c1, c2, c3), (c2, c3, c1), (c3, c1, c2); sines (s1, s2, s3), (s2, -s3, -s1), (s3, -s1, s2).
      const c1r = x0r + C7_1 * a1r + C7_2 * a2r + C7_3 * a3r, c1i = x0i + C7_1 * a1i + C7_2 * a2i + C7_3 * a3i;
      const c2r = x0r + C7_2 * a1r + C7_3 * a2r + C7_1 * a3r, c2i = x0i + C7_2 * a1i + C7_3 * a2i + C7_1 * a3i;
      const c3r = x0r + C7_3 * a1r + C7_1 * a2r + C7_2 * a3r, c3i = x0i + C7_3 * a1i + C7_1 * a2i + C7_2 * a3i;
      const e1r = s1 * b1r + s2 * b2r + s3 * b3r, e1i = s1 * b1i + s2 * b2i + s3 * b3i;
      const e2r = s2 * b1r - s3 * b2r - s1 * b3r, e2i = s2 * b1i - s3 * b2i - s1 * b3i;
      const e3r = s3 * b1r - s1 * b2r + s2 * b3r, e3i = s3 * b1i - s1 * b2i + s2 * b3i;
      const o = outBase + k;
      bRe[o] = x0r + a1r + a2r + a3r; bIm[o] = x0i + a1i + a2i + a3i;
      // y_r = c_r - i·e_r, y_{7-r} = c_r + i·e_r (sign folded into e).
      bRe[o + outStride] = c1r + e1i; bIm[o + outStride] = c1i - e1r;
      bRe[o + 6 * outStride] = c1r - e1i; bIm[o + 6 * outStride] = c1i + e1r;
      bRe[o + 2 * outStride] = c2r + e2i; bIm[o + 2 * outStride] = c2i - e2r;
      bRe[o + 5 * outStride] = c2r - e2i; bIm[o + 5 * outStride] = c2i + e2r;
      bRe[o + 3 * outStride] = c3r + e3i; bIm[o + 3 * outStride] = c3i - e3r;
      bRe[o + 4 * outStride] = c3r - e3i; bIm[o + 4 * outStride] = c3i + e3r;
    }
  }
}

/** The stage loop of the plain plan: ping-pong between the data and scratch, result in the data. */
abstract class StockhamPlan {
  readonly n: number;
  protected readonly stages: Stage[];
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;
  /** Values per sub-sequence element: 1 for one transform, B for B interleaved ones. */
  private readonly width: number;

  constructor(n: number, width: number) {
    this.n = n;
    this.width = width;
    this.stages = planStages(n);
    this.scratchRe = new Float64Array(n * width);
    this.scratchIm = new Float64Array(n * width);
  }

  protected run(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    const [outRe, outIm] = this.runStages(0, re, im, this.scratchRe, this.scratchIm, sign);
    if (outRe !== re) {
      re.set(outRe);
      im.set(outIm);
    }
  }

  /** Stages from `first` on, ping-ponging between the two buffers; returns the pair that holds the result. */
  protected runStages(first: number, srcRe: Float64Array, srcIm: Float64Array, dstRe: Float64Array, dstIm: Float64Array, sign: 1 | -1): [Float64Array, Float64Array] {
    for (let k = first; k < this.stages.length; k++) {
      const stage = this.stages[k];
      if (!smallRadixStage(stage, stage.m * this.width, srcRe, srcIm, dstRe, dstIm, sign)) this.genericStage(stage, srcRe, srcIm, dstRe, dstIm, sign);
      const tr = srcRe; srcRe = dstRe; dstRe = tr;
      const ti = srcIm; srcIm = dstIm; dstIm = ti;
    }
    return [srcRe, srcIm];
  }

  /** A stage of a radix above 4. */
  protected abstract genericStage(s: Stage, aRe: Float64Array, aIm: Float64Array, bRe: Float64Array, bIm: Float64Array, sign: 1 | -1): void;
}

export class Fft extends StockhamPlan {
  /** Roots of unity ω_p^k for the generic butterfly, per radix. */
  private readonly rootsRe = new Map<number, Float64Array>();
  private readonly rootsIm = new Map<number, Float64Array>();
  private readonly genericRe: Float64Array;
  private readonly genericIm: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`FFT length must be a positive integer, got ${n}`);
    super(n, 1);
    const largest = Math.max(1, ...this.stages.map((s) => s.p));
    this.genericRe = new Float64Array(largest);
    this.genericIm = new Float64Array(largest);
    for (const { p } of this.stages) {
      if (p > 4 && !this.rootsRe.has(p)) {
        const re = new Float64Array(p);
        const im = new Float64Array(p);
        for (let k = 0; k < p; k++) {
          re[k] = Math.cos((-2 * Math.PI * k) / p);
          im[k] = Math.sin((-2 * Math.PI * k) / p);
        }
        this.rootsRe.set(p, re);
        this.rootsIm.set(p, im);
      }
    }
  }

  /** In-place forward (e^{-2πikt/n}) transform. */
  forward(re: Float64Array, im: Float64Array): void {
    this.run(re, im, 1);
  }

  /** In-place inverse (e^{+2πikt/n}) transform, without the 1/n factor. */
  inverse(re: Float64Array, im: Float64Array): void {
    this.run(re, im, -1);
  }

  // One stage: B[k + (j + l·r)·m] = Σ_q ω_p^{q·r} · ω_{lp}^{q·j} · A[(k + q·m) + j·m·p].
  protected genericStage(s: Stage, aRe: Float64Array, aIm: Float64Array, bRe: Float64Array, bIm: Float64Array, sign: 1 | -1): void {
    const { p, l, m, twRe, twIm } = s;
    const mp = m * p;
    const rootRe = this.rootsRe.get(p)!;
    const rootIm = this.rootsIm.get(p)!;
    const xr = this.genericRe;
    const xi = this.genericIm;
    for (let j = 0; j < l; j++) {
      const inBase = j * mp;
      const outBase = j * m;
      const outStride = l * m;
      for (let k = 0; k < m; k++) {
        for (let q = 0; q < p; q++) {
          const ar = aRe[inBase + k + q * m], ai = aIm[inBase + k + q * m];
          const wr = twRe[j * p + q], wi = sign * twIm[j * p + q];
          xr[q] = ar * wr - ai * wi;
          xi[q] = ar * wi + ai * wr;
        }
        for (let r = 0; r < p; r++) {
          let sr = xr[0], si = xi[0];
          let idx = r;
          for (let q = 1; q < p; q++) {
            const wr = rootRe[idx], wi = sign * rootIm[idx];
            sr += xr[q] * wr - xi[q] * wi;
            si += xr[q] * wi + xi[q] * wr;
            idx += r;
            if (idx >= p) idx -= p;
          }
          bRe[outBase + k + r * outStride] = sr;
          bIm[outBase + k + r * outStride] = si;
        }
      }
    }
  }
}

const plans = new Map<number, Fft>();

/** A cached plan for length n (plans hold scratch buffers: one thread each). */
export function fftPlan(n: number): Fft {
  let plan = plans.get(n);
  if (!plan) {
    plan = new Fft(n);
    plans.set(n, plan);
  }
  return plan;
}

/** Constants of the radix-3, 5 and 7 butterflies, in kernels.c's order. */
const BUTTERFLY_CONSTANTS = [C5_1, C5_2, S5_1, S5_2, C7_1, C7_2, C7_3, S7_1, S7_2, S7_3, Math.sqrt(3) / 2];

/**
 * B independent transforms of length n at once, stored interleaved
 * (element k of transform b at index k·B + b): every butterfly runs a simple
 * inner loop over the batch. The radix-2 to 7 stages run as WebAssembly with
 * SIMD (wasm/kernels.c: the same expressions, so the same results); its
 * buffers, twiddles and the modulation live in that kernel's memory.
 */
export class BatchFft {
  readonly n: number;
  readonly batch: number;
  private readonly stages: Stage[];
  private readonly memory: KernelMemory;
  private readonly kernels: DwiKernels;
  /** Per stage: its twiddles in the kernel's memory. */
  private readonly twiddles: { re: Float64Array; im: Float64Array }[];
  private readonly constants: Float64Array;
  private readonly zRe: Float64Array;
  private readonly zIm: Float64Array;
  private readonly modRe: Float64Array;
  private readonly modIm: Float64Array;
  private readonly bufRe: [Float64Array, Float64Array];
  private readonly bufIm: [Float64Array, Float64Array];
  /** Forward combined weights for generic radices, per stage. */
  private readonly generic = new Map<Stage, { re: Float64Array; im: Float64Array }>();

  /** Float64 values a plan takes from the memory it is given. */
  static memoryLength(n: number, batch: number): number {
    const twiddles = planStages(n).reduce((sum, s) => sum + 2 * s.l * s.p, 0);
    return 6 * n * batch + 2 * n + twiddles + BUTTERFLY_CONSTANTS.length;
  }

  /** `memory`: where the buffers go (for kernels that read the results there); a fresh one by default. */
  constructor(n: number, batch: number, memory = new KernelMemory(BatchFft.memoryLength(n, batch))) {
    this.n = n;
    this.batch = batch;
    this.stages = planStages(n);
    this.memory = memory;
    this.kernels = memory.kernels;
    this.twiddles = this.stages.map((s) => {
      const re = memory.take(s.twRe.length), im = memory.take(s.twIm.length);
      re.set(s.twRe);
      im.set(s.twIm);
      return { re, im };
    });
    this.constants = memory.take(BUTTERFLY_CONSTANTS.length);
    this.constants.set(BUTTERFLY_CONSTANTS);
    this.zRe = memory.take(n);
    this.zIm = memory.take(n);
    this.modRe = memory.take(n * batch);
    this.modIm = memory.take(n * batch);
    this.bufRe = [memory.take(n * batch), memory.take(n * batch)];
    this.bufIm = [memory.take(n * batch), memory.take(n * batch)];
    for (const stage of this.stages) {
      const { p, l } = stage;
      if (p > 7) {
        const L = l * p;
        const re = new Float64Array(l * p * p), im = new Float64Array(l * p * p);
        for (let j = 0; j < l; j++) for (let r = 0; r < p; r++) for (let q = 0; q < p; q++) {
          const angle = -2 * Math.PI * ((q * j) / L + ((q * r) % p) / p);
          re[(j * p + r) * p + q] = Math.cos(angle);
          im[(j * p + r) * p + q] = Math.sin(angle);
        }
        this.generic.set(stage, { re, im });
      }
    }
  }

  /** The modulation of inverseModulated, [k][b] (n·B values each), kept until set again. */
  setModulation(modRe: Float64Array, modIm: Float64Array): void {
    this.modRe.set(modRe);
    this.modIm.set(modIm);
  }

  /**
   * Inverse transforms (e^{+2πikt/n}, no 1/n) of one spectrum z modulated B ways: element k of
   * transform b is z[k]·mod[k·B + b]. The products are formed inside the first stage when it is
   * radix 4. Returns the plan's buffers that hold the result ([k][b] layout), valid until the next call.
   */
  inverseModulated(zRe: Float64Array, zIm: Float64Array): [Float64Array, Float64Array] {
    const B = this.batch;
    const { bufRe, bufIm, modRe, modIm } = this;
    this.zRe.set(zRe.subarray(0, this.n));
    this.zIm.set(zIm.subarray(0, this.n));
    const first = this.stages[0];
    let from = 0;
    if (first && first.p === 4) {
      this.kernels.fft_batch_first_modulated(first.m, B, this.zRe.byteOffset, this.zIm.byteOffset, modRe.byteOffset, modIm.byteOffset,
        bufRe[0].byteOffset, bufIm[0].byteOffset);
      from = 1;
    } else {
      const re = bufRe[0], im = bufIm[0];
      for (let k = 0, e = 0; k < this.n; k++) {
        const xr = zRe[k], xi = zIm[k];
        for (let b = 0; b < B; b++, e++) {
          const cr = modRe[e], ci = modIm[e];
          re[e] = xr * cr - xi * ci;
          im[e] = xr * ci + xi * cr;
        }
      }
    }
    let src = 0;
    for (let k = from; k < this.stages.length; k++) {
      const stage = this.stages[k];
      const dst = 1 - src;
      const { re: twRe, im: twIm } = this.twiddles[k];
      const done = this.kernels.fft_batch_stage(stage.p, stage.l, stage.m * B, twRe.byteOffset, twIm.byteOffset, this.constants.byteOffset,
        bufRe[src].byteOffset, bufIm[src].byteOffset, bufRe[dst].byteOffset, bufIm[dst].byteOffset, -1);
      if (!done) this.genericStage(stage, bufRe[src], bufIm[src], bufRe[dst], bufIm[dst], -1);
      src = dst;
    }
    return [bufRe[src], bufIm[src]];
  }

  // Generic radix: combined twiddle·DFT weights ω_{lp}^{qj}·ω_p^{qr}, per (j, r, q).
  private genericStage(s: Stage, aRe: Float64Array, aIm: Float64Array, bRe: Float64Array, bIm: Float64Array, sign: 1 | -1): void {
    const { p, l, m } = s;
    const mB = m * this.batch;
    const outStride = l * mB;
    const { re: cRe, im: cIm } = this.generic.get(s)!;
    for (let j = 0; j < l; j++) {
      const inBase = j * mB * p;
      const outBase = j * mB;
      for (let r = 0; r < p; r++) {
        const o = outBase + r * outStride;
        const w = (j * p + r) * p;
        for (let kb = 0; kb < mB; kb++) {
          let sr = 0, si = 0;
          for (let q = 0; q < p; q++) {
            const wr = cRe[w + q], wi = sign * cIm[w + q];
            const ar = aRe[inBase + kb + q * mB], ai = aIm[inBase + kb + q * mB];
            sr += ar * wr - ai * wi;
            si += ar * wi + ai * wr;
          }
          bRe[o + kb] = sr;
          bIm[o + kb] = si;
        }
      }
    }
  }
}
