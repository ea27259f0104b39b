// FSL-convention gradient tables (.bval: one row of N b-values; .bvec: 3 rows of N unit vectors).

export class GradientTableError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

function numbersOf(text: string): number[][] {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => l.split(/[\s,]+/).map(Number));
}

export function parseBval(text: string): number[] {
  const rows = numbersOf(text);
  const values = rows.length === 1 ? rows[0] : rows.map((r) => r[0]);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new GradientTableError('bad_bval', 'the .bval file does not hold a row of numbers');
  }
  return values;
}

/** Parse a .bvec: 3×N (FSL) or N×3 (transposed, seen in the wild). Returns N vectors. */
export function parseBvec(text: string, expectedCount?: number): [number, number, number][] {
  const rows = numbersOf(text);
  let vectors: [number, number, number][];
  if (rows.length === 3 && (expectedCount === undefined || rows[0].length === expectedCount || rows[0].length !== 3)) {
    const n = rows[0].length;
    if (rows.some((r) => r.length !== n)) throw new GradientTableError('bad_bvec', 'the .bvec rows differ in length');
    vectors = Array.from({ length: n }, (_, i) => [rows[0][i], rows[1][i], rows[2][i]]);
  } else if (rows.every((r) => r.length === 3)) {
    vectors = rows.map((r) => [r[0], r[1], r[2]]);
  } else {
    throw new GradientTableError('bad_bvec', 'the .bvec file is neither 3×N nor N×3');
  }
  return vectors;
}

export interface GradientCheck {
  volumes: number;
  b0Count: number;
  directions: number;
  shells: number[];
}

/** Checks that need only the table and the 4th dimension (DWI derivation does the rest). */
export function checkGradientTable(bvals: number[], bvecs: [number, number, number][], volumes: number): GradientCheck {
  if (bvals.length !== volumes || bvecs.length !== volumes) {
    throw new GradientTableError(
      'gradient_count_mismatch',
      `the series has ${volumes} volumes but .bval lists ${bvals.length} and .bvec ${bvecs.length}`,
    );
  }
  const b0Count = bvals.filter((b) => b <= 50).length;
  const shells = [...new Set(bvals.filter((b) => b > 50).map((b) => Math.round(b / 100) * 100))].sort((a, b) => a - b);
  return { volumes, b0Count, directions: bvals.length - b0Count, shells };
}
