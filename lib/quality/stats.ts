// MRIQC-style summary of a set of intensities (the statistics themselves live in lib/volume).
import { mad, mean, percentiles, stdev } from '../volume/statistics.js';

// predict.ts takes its median from here.
export { median } from '../volume/statistics.js';

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
