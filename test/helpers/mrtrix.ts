// MRtrix3 as the DWI tests' reference, and the comparisons they make against it.
import { execFileSync } from 'node:child_process';

/** Is MRtrix3 on PATH? (.ci/run installs it; the tests that need it skip without it.) */
export function hasMrtrix(): boolean {
  try {
    execFileSync('dwi2tensor', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function mrtrix(cmd: string, args: string[]): void {
  execFileSync(cmd, ['-quiet', '-force', '-nthreads', '2', ...args], { stdio: 'pipe' });
}

/** Pearson correlation of a and b over the voxels of `mask`. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>, mask: ArrayLike<number>): number {
  let n = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    n++; sa += a[i]; sb += b[i]; saa += a[i] * a[i]; sbb += b[i] * b[i]; sab += a[i] * b[i];
  }
  return (sab - (sa * sb) / n) / Math.sqrt((saa - (sa * sa) / n) * (sbb - (sb * sb) / n));
}

/** The upper median (the comparisons' convention). */
export function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  return s[s.length >> 1];
}

/** Every real DWI series under shared/images, relative to it: the ones compared with MRtrix3 (tests and bench). */
export const REAL_DWI_SERIES = [
  'dwi_philips',
  'real/siemens_dwi-hfs_dcmqadecubitus',
  'real/siemens_dwi-hfdr_dcmqadecubitus',
  'real/philips_dwi_dcmqaphilipsenh',
  'real/toshiba_dwi-ortho_dcmqatoshiba',
  'real/toshiba_dwi-all20d_dcmqatoshiba',
  'real/philips_dwi-b2000_dcmqaphilips',
];
