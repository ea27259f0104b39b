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
}

/** The kernels' stack: build.sh links it first, 16 KiB; arrays start after it. */
const STACK_BYTES = 16384;

let compiled: WebAssembly.Module | undefined;

/**
 * A fresh instance with room for Float64Arrays of the given lengths, returned in that order.
 * The module is compiled once per thread.
 */
export function instantiateKernels(lengths: readonly number[]): { kernels: DwiKernels; arrays: Float64Array[] } {
  compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM, 'base64'));
  const bytes = STACK_BYTES + 8 * lengths.reduce((sum, length) => sum + length, 0);
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) });
  const instance = new WebAssembly.Instance(compiled, { env: { memory } });
  let offset = STACK_BYTES;
  const arrays = lengths.map((length) => {
    const view = new Float64Array(memory.buffer, offset, length);
    offset += 8 * length;
    return view;
  });
  return { kernels: instance.exports as unknown as DwiKernels, arrays };
}
