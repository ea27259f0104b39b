// Robust summary statistics over selected voxels.

/** Values of `data` where `mask` is set, as a new array. */
export function valuesIn(data: ArrayLike<number>, mask: Uint8Array): Float32Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  const out = new Float32Array(n);
  let k = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) out[k++] = data[i];
  return out;
}

/** Move the k-th smallest of a[lo..hi] to a[k], smaller ones before it, larger after (Hoare quickselect). */
function selectInPlace(a: Float32Array, k: number, lo: number, hi: number): void {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as the pivot keeps sorted and constant inputs linear.
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * Percentiles (0..100) of `values`, as numpy computes them (linear interpolation), by
 * selection instead of a full sort: O(n) per percentile, so cheap on millions of voxels.
 */
export function percentiles(values: ArrayLike<number>, qs: number[]): number[] {
  const n = values.length;
  if (n === 0) return qs.map(() => NaN);
  const a = Float32Array.from(values);
  return qs.map((q) => {
    const pos = (Math.min(100, Math.max(0, q)) / 100) * (n - 1);
    const k = Math.floor(pos);
    selectInPlace(a, k, 0, n - 1);
    const low = a[k];
    if (pos === k || k + 1 >= n) return low;
    let next = Infinity;
    for (let i = k + 1; i < n; i++) if (a[i] < next) next = a[i];
    return low + (next - low) * (pos - k);
  });
}

export function median(values: ArrayLike<number>): number {
  return percentiles(values, [50])[0];
}

export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/** Population standard deviation (numpy's default, ddof = 0). */
export function stdev(values: ArrayLike<number>, mu = mean(values)): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += (values[i] - mu) ** 2;
  return Math.sqrt(s / values.length);
}

/** Median absolute deviation around `center`, scaled by 1.4826 so that it estimates sigma for Gaussian data. */
export function mad(values: ArrayLike<number>, center = median(values)): number {
  if (values.length === 0) return NaN;
  const dev = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) dev[i] = Math.abs(values[i] - center);
  return 1.4826 * median(dev);
}

export interface Summary {
  mean: number;
  median: number;
  stdv: number;
  mad: number;
  p05: number;
  p95: number;
  n: number;
}

/** MRIQC-style summary of a set of intensities. */
export function summarize(values: ArrayLike<number>): Summary {
  const [p05, med, p95] = percentiles(values, [5, 50, 95]);
  const mu = mean(values);
  return { mean: mu, median: med, stdv: stdev(values, mu), mad: mad(values, med), p05, p95, n: values.length };
}

/** Threshold that maximises the between-class variance of a histogram (Otsu 1979). */
export function otsuThreshold(values: ArrayLike<number>, lo: number, hi: number, bins = 256): number {
  if (!(hi > lo)) return lo;
  const hist = new Float64Array(bins);
  const scale = bins / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo)) continue;
    hist[Math.min(bins - 1, Math.floor((v - lo) * scale))]++;
  }
  let total = 0;
  let sumAll = 0;
  for (let b = 0; b < bins; b++) {
    total += hist[b];
    sumAll += b * hist[b];
  }
  let wB = 0;
  let sumB = 0;
  let best = -1;
  let bestBin = 0;
  for (let b = 0; b < bins - 1; b++) {
    wB += hist[b];
    sumB += b * hist[b];
    const wF = total - wB;
    if (wB === 0 || wF === 0) continue;
    const between = wB * wF * (sumB / wB - (sumAll - sumB) / wF) ** 2;
    if (between > best) {
      best = between;
      bestBin = b;
    }
  }
  return lo + (bestBin + 1) / scale;
}
