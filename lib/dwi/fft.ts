// Complex FFT of any length: self-sorting (Stockham) mixed radix with dedicated radix-2/3/4/5/7
// butterflies (WebAssembly with SIMD, wasm/kernels.c) and a generic O(p²) butterfly for other prime
// factors. Plans are cached per length; transforms are unnormalised.
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

// Constants of kernels.c's radix-5 and 7 butterflies. Odd radices pair inputs q and p-q: with
// a = x_q + x_{p-q} and b = x_q - x_{p-q}, y_r = x0 + Σ cos(2πqr/p)·a_q ∓ i·Σ sin(2πqr/p)·b_q and
// y_{p-r} the same with ±, a quarter of the multiplications of the plain DFT.
const C5_1 = Math.cos((2 * Math.PI) / 5), C5_2 = Math.cos((4 * Math.PI) / 5);
const S5_1 = Math.sin((2 * Math.PI) / 5), S5_2 = Math.sin((4 * Math.PI) / 5);

const C7_1 = Math.cos((2 * Math.PI) / 7), C7_2 = Math.cos((4 * Math.PI) / 7), C7_3 = Math.cos((6 * Math.PI) / 7);
const S7_1 = Math.sin((2 * Math.PI) / 7), S7_2 = Math.sin((4 * Math.PI) / 7), S7_3 = Math.sin((6 * Math.PI) / 7);

/**
 * One transform of length n: the batched plan with a batch of one, so the same WebAssembly stages
 * (radices above 7 in TypeScript). Transforms run in place on the caller's arrays, through the
 * plan's buffers.
 */
export class Fft {
  private readonly plan: BatchFft;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`FFT length must be a positive integer, got ${n}`);
    this.plan = new BatchFft(n, 1);
  }

  get n(): number {
    return this.plan.n;
  }

  /** In-place forward (e^{-2πikt/n}) transform. */
  forward(re: Float64Array, im: Float64Array): void {
    this.plan.transform(re, im, 1);
  }

  /** In-place inverse (e^{+2πikt/n}) transform, without the 1/n factor. */
  inverse(re: Float64Array, im: Float64Array): void {
    this.plan.transform(re, im, -1);
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

  /**
   * In-place transforms of the B interleaved sequences in (re, im) ([k][b] layout, n·B values):
   * sign 1 forward (e^{-2πikt/n}), -1 inverse without the 1/n factor.
   */
  transform(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    const { bufRe, bufIm } = this;
    const length = this.n * this.batch;
    bufRe[0].set(re.subarray(0, length));
    bufIm[0].set(im.subarray(0, length));
    const src = this.runStages(0, sign);
    re.set(bufRe[src].subarray(0, length));
    im.set(bufIm[src].subarray(0, length));
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
    const src = this.runStages(from, -1);
    return [bufRe[src], bufIm[src]];
  }

  /** Stages from `first` on, ping-ponging between the two buffers from buffer 0; returns the buffer that holds the result. */
  private runStages(first: number, sign: 1 | -1): number {
    const { bufRe, bufIm } = this;
    let src = 0;
    for (let k = first; k < this.stages.length; k++) {
      const stage = this.stages[k];
      const dst = 1 - src;
      const { re: twRe, im: twIm } = this.twiddles[k];
      const done = this.kernels.fft_batch_stage(stage.p, stage.l, stage.m * this.batch, twRe.byteOffset, twIm.byteOffset, this.constants.byteOffset,
        bufRe[src].byteOffset, bufIm[src].byteOffset, bufRe[dst].byteOffset, bufIm[dst].byteOffset, sign);
      if (!done) this.genericStage(stage, bufRe[src], bufIm[src], bufRe[dst], bufIm[dst], sign);
      src = dst;
    }
    return src;
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
