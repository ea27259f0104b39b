// Classical brain mask on the mean b0: Otsu threshold, erosion to cut thin
// bridges (scalp, eyes, vessels), the largest connected component, dilation
// back, and hole filling. Also the binary-image helpers it needs.

/** Otsu's threshold of the positive values (256-bin histogram between min and max). */
export function otsuThreshold(values: ArrayLike<number>, mask?: Uint8Array): number {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (mask && !mask[i]) continue;
    const v = values[i];
    if (!(v > 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return lo === Infinity ? 0 : lo;
  const bins = 256;
  const hist = new Float64Array(bins);
  const scale = (bins - 1) / (hi - lo);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    if (mask && !mask[i]) continue;
    const v = values[i];
    if (!(v > 0)) continue;
    hist[Math.round((v - lo) * scale)]++;
    total++;
  }
  let sumAll = 0;
  for (let b = 0; b < bins; b++) sumAll += b * hist[b];
  let w0 = 0, sum0 = 0, bestVar = -1, bestBin = 0;
  for (let b = 0; b < bins - 1; b++) {
    w0 += hist[b];
    sum0 += b * hist[b];
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0, m1 = (sumAll - sum0) / w1;
    const between = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (between > bestVar) {
      bestVar = between;
      bestBin = b;
    }
  }
  return lo + (bestBin + 0.5) / scale;
}

/** Erode (op 'erode') or dilate with a 6-connected cross, `times` times. Axes of size 1 are ignored. */
export function morph(mask: Uint8Array, shape: readonly number[], op: 'erode' | 'dilate', times: number): Uint8Array {
  const [nx, ny, nz] = shape;
  const nxy = nx * ny;
  const erode = op === 'erode';
  let src = mask;
  for (let t = 0; t < times; t++) {
    const dst = new Uint8Array(src.length);
    for (let z = 0; z < nz; z++) {
      for (let y = 0; y < ny; y++) {
        for (let x = 0; x < nx; x++) {
          const i = z * nxy + y * nx + x;
          if (erode) {
            if (!src[i]) continue;
            // Outside the image counts as background, except along singleton axes.
            const keep =
              (nx === 1 || (x > 0 && src[i - 1] && x < nx - 1 && src[i + 1])) &&
              (ny === 1 || (y > 0 && src[i - nx] && y < ny - 1 && src[i + nx])) &&
              (nz === 1 || (z > 0 && src[i - nxy] && z < nz - 1 && src[i + nxy]));
            dst[i] = keep ? 1 : 0;
          } else {
            dst[i] =
              src[i] ||
              (x > 0 && src[i - 1]) || (x < nx - 1 && src[i + 1]) ||
              (y > 0 && src[i - nx]) || (y < ny - 1 && src[i + nx]) ||
              (z > 0 && src[i - nxy]) || (z < nz - 1 && src[i + nxy])
                ? 1
                : 0;
          }
        }
      }
    }
    src = dst;
  }
  return src === mask ? mask.slice() : src;
}

/** The largest 6-connected component (empty when there is none). */
export function largestComponent(mask: Uint8Array, shape: readonly number[]): Uint8Array {
  const [nx, ny, nz] = shape;
  const labels = new Int32Array(mask.length);
  const stack = new Int32Array(mask.length);
  let bestLabel = 0, bestSize = 0, label = 0;
  for (let seed = 0; seed < mask.length; seed++) {
    if (!mask[seed] || labels[seed]) continue;
    label++;
    let top = 0, size = 0;
    stack[top++] = seed;
    labels[seed] = label;
    while (top > 0) {
      const i = stack[--top];
      size++;
      const x = i % nx, y = Math.floor(i / nx) % ny, z = Math.floor(i / (nx * ny));
      for (let k = 0; k < 6; k++) {
        let j = -1;
        if (k === 0 && x > 0) j = i - 1;
        else if (k === 1 && x < nx - 1) j = i + 1;
        else if (k === 2 && y > 0) j = i - nx;
        else if (k === 3 && y < ny - 1) j = i + nx;
        else if (k === 4 && z > 0) j = i - nx * ny;
        else if (k === 5 && z < nz - 1) j = i + nx * ny;
        if (j >= 0 && mask[j] && !labels[j]) {
          labels[j] = label;
          stack[top++] = j;
        }
      }
    }
    if (size > bestSize) {
      bestSize = size;
      bestLabel = label;
    }
  }
  const out = new Uint8Array(mask.length);
  if (bestLabel) for (let i = 0; i < mask.length; i++) out[i] = labels[i] === bestLabel ? 1 : 0;
  return out;
}

/** Fill holes slice by slice (axial): background not connected to the slice border becomes mask. */
export function fillHoles(mask: Uint8Array, shape: readonly number[]): Uint8Array {
  const [nx, ny, nz] = shape;
  const out = mask.slice();
  const outside = new Uint8Array(nx * ny);
  const stack = new Int32Array(nx * ny);
  for (let z = 0; z < nz; z++) {
    const base = z * nx * ny;
    outside.fill(0);
    let top = 0;
    const seed = (i: number) => {
      if (!mask[base + i] && !outside[i]) {
        outside[i] = 1;
        stack[top++] = i;
      }
    };
    for (let x = 0; x < nx; x++) { seed(x); seed((ny - 1) * nx + x); }
    for (let y = 0; y < ny; y++) { seed(y * nx); seed(y * nx + nx - 1); }
    while (top > 0) {
      const i = stack[--top];
      const x = i % nx, y = (i - x) / nx;
      if (x > 0) seed(i - 1);
      if (x < nx - 1) seed(i + 1);
      if (y > 0) seed(i - nx);
      if (y < ny - 1) seed(i + nx);
    }
    for (let i = 0; i < nx * ny; i++) if (!outside[i]) out[base + i] = 1;
  }
  return out;
}

export interface ClassicalMaskOptions {
  /** Erosion/dilation radius in mm (default 4). */
  openingMm?: number;
}

/**
 * Brain mask from the mean b0 (after bias correction): Otsu threshold,
 * opening of radius openingMm, largest component, holes filled.
 */
export function classicalBrainMask(
  meanB0: Float32Array,
  shape: readonly number[],
  voxelSize: readonly number[],
  opts: ClassicalMaskOptions = {},
): Uint8Array {
  const spatial = shape.slice(0, 3);
  const threshold = otsuThreshold(meanB0);
  let mask: Uint8Array = new Uint8Array(meanB0.length);
  for (let i = 0; i < meanB0.length; i++) mask[i] = meanB0[i] > threshold ? 1 : 0;
  const minVoxel = Math.min(...voxelSize.slice(0, 3).map((v) => (v > 0 ? v : 1)));
  const steps = Math.max(1, Math.round((opts.openingMm ?? 4) / minVoxel));
  const eroded = morph(mask, spatial, 'erode', steps);
  let core = largestComponent(eroded, spatial);
  if (!core.some((v) => v)) core = largestComponent(mask, spatial);
  mask = morph(core, spatial, 'dilate', steps);
  for (let i = 0; i < mask.length; i++) mask[i] = mask[i] && meanB0[i] > threshold * 0.5 ? 1 : 0;
  return fillHoles(largestComponent(mask, spatial), spatial);
}
