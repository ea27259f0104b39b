// The DWI kernels (kernels.c) as WebAssembly instances whose arrays live in their own memory, so
// that TypeScript reads and writes them as ordinary Float64Arrays and a call passes only offsets.
import { KERNELS_WASM } from './kernels.wasm.js';

/** Pointers are byte offsets into the instance's memory. */
export interface DwiKernels {
  tridiagonalize(n: number, a: number, d: number, e: number, beta: number, p: number, house: number, q: number): void;
  tensor_normal_equations(rows: number, weight: number, logS: number, outer: number, designT: number, weightedLog: number, normal: number, rhs: number): void;
  gram_row_sums(nx: number, m: number, rows: number, values: number, sums: number): void;
  add_plane(dst: number, src: number, length: number, sign: number): void;
  gibbs_window_minima(n: number, count: number, minW: number, maxW: number, va: number, vb: number, ringA: number, ringB: number, minA: number, argA: number, minB: number, argB: number): void;
  fft_batch_stage(p: number, l: number, mb: number, twRe: number, twIm: number, constants: number, aRe: number, aIm: number, bRe: number, bIm: number, sign: number): number;
  qr_iterate(n: number, d: number, e: number, tol: number, record: number, rotations: number, capacity: number, state: number): number;
  to_eigenbasis(n: number, house: number, beta: number, rotations: number, count: number, y: number): void;
  from_eigenbasis(n: number, house: number, beta: number, rotations: number, count: number, y: number): void;
  fft_batch_first_modulated(m: number, batch: number, zRe: number, zIm: number, modRe: number, modIm: number, re: number, im: number): void;
}

/** The kernels' stack: build.sh links it first, 16 KiB; arrays start after it. */
const STACK_BYTES = 16384;

let compiled: WebAssembly.Module | undefined;

/**
 * One instance of the kernels with room for a fixed number of float64 values, handed out in
 * order by take(). The module is compiled once per thread.
 */
export class KernelMemory {
  readonly kernels: DwiKernels;
  private readonly memory: WebAssembly.Memory;
  private offset = STACK_BYTES;

  constructor(float64s: number) {
    compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM, 'base64'));
    this.memory = new WebAssembly.Memory({ initial: Math.ceil((STACK_BYTES + 8 * float64s) / 65536) });
    this.kernels = new WebAssembly.Instance(compiled, { env: { memory: this.memory } }).exports as unknown as DwiKernels;
  }

  take(length: number): Float64Array {
    const view = new Float64Array(this.memory.buffer, this.offset, length);
    this.offset += 8 * length;
    return view;
  }

  /**
   * Grows the memory to at least `byteLength` bytes, so that the last array taken can grow in
   * place. Every view taken before is then detached: take them again with view().
   */
  reserve(byteLength: number): void {
    const needed = byteLength - this.memory.buffer.byteLength;
    if (needed > 0) this.memory.grow(Math.ceil(needed / 65536));
  }

  /** A view of `length` float64s at a byte offset a take() returned. */
  view(byteOffset: number, length: number): Float64Array {
    return new Float64Array(this.memory.buffer, byteOffset, length);
  }
}

/** A fresh instance with room for Float64Arrays of the given lengths, returned in that order. */
export function instantiateKernels(lengths: readonly number[]): { kernels: DwiKernels; arrays: Float64Array[] } {
  const memory = new KernelMemory(lengths.reduce((sum, length) => sum + length, 0));
  return { kernels: memory.kernels, arrays: lengths.map((length) => memory.take(length)) };
}
