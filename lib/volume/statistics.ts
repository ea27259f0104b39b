// Robust statistics over voxel values: selection-based percentiles and medians, histograms and
// Otsu's threshold.

/** Share of the `member` voxels that are `flag`ged, inside `zone` and outside it (0 where there are none). */
export function flaggedShares(flag: ArrayLike<number>, member: ArrayLike<number>, zone: Uint8Array): { inside: number; outside: number } {
  let inside = 0, insideFlagged = 0, outside = 0, outsideFlagged = 0;
  for (let i = 0; i < zone.length; i++) {
    if (!member[i]) continue;
    if (zone[i]) {
      inside++;
      if (flag[i]) insideFlagged++;
    } else {
      outside++;
      if (flag[i]) outsideFlagged++;
    }
  }
  return { inside: inside ? insideFlagged / inside : 0, outside: outside ? outsideFlagged / outside : 0 };
}

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
function selectInPlace(a: Float32Array | Float64Array, k: number, lo: number, hi: number): void {
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

export interface PercentileOptions {
  /**
   * Between two ranks, as numpy's `method`: 'linear' interpolates (default), 'lower' and 'higher'
   * take the rank below or above, 'midpoint' their mean.
   */
  method?: 'linear' | 'lower' | 'higher' | 'midpoint';
  /** Select in double precision (default: the values are copied to float32, as voxel data is). */
  float64?: boolean;
}

/**
 * Percentiles (0..100) of `values`, as numpy computes them, by selection instead of a full sort:
 * O(n) per percentile, so cheap on millions of voxels. NaN for no values.
 */
export function percentiles(values: ArrayLike<number>, qs: number[], opts: PercentileOptions = {}): number[] {
  const n = values.length;
  if (n === 0) return qs.map(() => NaN);
  const method = opts.method ?? 'linear';
  const a = opts.float64 ? Float64Array.from(values) : Float32Array.from(values);
  return qs.map((q) => {
    const pos = (Math.min(100, Math.max(0, q)) / 100) * (n - 1);
    const k = Math.floor(pos);
    selectInPlace(a, k, 0, n - 1);
    const low = a[k];
    if (pos === k || k + 1 >= n || method === 'lower') return low;
    let next = Infinity;
    for (let i = k + 1; i < n; i++) if (a[i] < next) next = a[i];
    if (method === 'higher') return next;
    if (method === 'midpoint') return (low + next) / 2;
    return low + (next - low) * (pos - k);
  });
}

export function percentile(values: ArrayLike<number>, q: number, opts: PercentileOptions = {}): number {
  return percentiles(values, [q], opts)[0];
}

export function median(values: ArrayLike<number>, opts: PercentileOptions = {}): number {
  return percentiles(values, [50], opts)[0];
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

/**
 * Histogram of `values` in `bins` equal bins from lo to hi. Values above hi count in the top bin;
 * values below lo in the bottom one (below: 'clamp', default) or not at all ('skip'). NaN is skipped.
 */
export function histogram(values: ArrayLike<number>, lo: number, hi: number, bins: number, below: 'clamp' | 'skip' = 'clamp'): Float64Array {
  const hist = new Float64Array(bins);
  const scale = bins / (hi - lo || 1);
  const skip = below === 'skip';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (skip && !(v >= lo)) continue;
    const b = Math.floor((v - lo) * scale);
    if (b >= 0) hist[b < bins ? b : bins - 1]++;
    else if (b < 0) hist[0]++;
  }
  return hist;
}

/** First bin at which the cumulative count reaches the fraction q (0..1) of the total. */
export function histogramQuantileBin(hist: Float64Array, q: number): number {
  let total = 0;
  for (let b = 0; b < hist.length; b++) total += hist[b];
  let acc = 0;
  for (let b = 0; b < hist.length; b++) {
    acc += hist[b];
    if (acc >= q * total) return b;
  }
  return hist.length - 1;
}

/**
 * Percentile (q in 0..1) of the values strictly above `floor`, approximate: the upper edge of the
 * bin of a 4096-bin histogram that holds it; `floor` when no value is above it.
 */
export function percentileAbove(data: ArrayLike<number>, floor: number, q: number): number {
  let max = -Infinity;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] > floor) {
      count++;
      if (data[i] > max) max = data[i];
    }
  }
  if (count === 0) return floor;
  const bins = 4096;
  const hist = new Float64Array(bins);
  const width = (max - floor) / bins || 1;
  for (let i = 0; i < data.length; i++) {
    if (data[i] > floor) hist[Math.min(bins - 1, Math.floor((data[i] - floor) / width))]++;
  }
  return !(q <= 1) ? max : floor + (histogramQuantileBin(hist, q) + 1) * width;
}

/** Otsu's threshold on a histogram (Otsu 1979): the last bin of the lower class, which maximises the between-class variance. */
export function otsuBin(hist: Float64Array): number {
  let total = 0;
  let sumAll = 0;
  for (let b = 0; b < hist.length; b++) {
    total += hist[b];
    sumAll += b * hist[b];
  }
  let wB = 0;
  let sumB = 0;
  let best = 0;
  let bestVar = -1;
  for (let b = 0; b < hist.length - 1; b++) {
    wB += hist[b];
    sumB += b * hist[b];
    const wF = total - wB;
    if (wB === 0 || wF === 0) continue;
    const d = sumB / wB - (sumAll - sumB) / wF;
    const between = wB * wF * d * d;
    if (between > bestVar) {
      bestVar = between;
      best = b;
    }
  }
  return best;
}

export interface OtsuOptions {
  /**
   * Histogram range. Given: equal bins from lo to hi (values below lo ignored, above hi in the top
   * bin) and the threshold is the upper edge of Otsu's bin. Not given: the positive values between
   * their minimum and maximum, rounded to `bins` levels, and the threshold lies halfway between two levels.
   */
  range?: [number, number];
  /** Number of bins (default 256). */
  bins?: number;
  /** Only the voxels set here count (without `range` only). */
  mask?: Uint8Array;
}

/** Otsu's threshold of `values` (see OtsuOptions for the two histogram layouts). */
export function otsuThreshold(values: ArrayLike<number>, opts: OtsuOptions = {}): number {
  const bins = opts.bins ?? 256;
  if (opts.range) {
    const [lo, hi] = opts.range;
    if (!(hi > lo)) return lo;
    return lo + (otsuBin(histogram(values, lo, hi, bins, 'skip')) + 1) / (bins / (hi - lo));
  }
  const mask = opts.mask;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (mask && !mask[i]) continue;
    const v = values[i];
    if (!(v > 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return lo === Infinity ? 0 : lo;
  const hist = new Float64Array(bins);
  const scale = (bins - 1) / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    if (mask && !mask[i]) continue;
    const v = values[i];
    if (v > 0) hist[Math.round((v - lo) * scale)]++;
  }
  return lo + (otsuBin(hist) + 0.5) / scale;
}
