// Broken inputs for the failure tests: corrupt, truncated, absurd header, missing file.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { encodeNifti1 } from '../../lib/nifti/index.js';

export function writeCorruptGzip(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const junk = Buffer.alloc(4096, 7);
  junk[0] = 0x1f;
  junk[1] = 0x8b;
  fs.writeFileSync(file, junk);
}

export function writeTruncated(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const full = encodeNifti1({ dims: [32, 32, 32] }, new Float32Array(32 * 32 * 32).fill(5), { datatype: 'int16' });
  fs.writeFileSync(file, zlib.gzipSync(full.subarray(0, full.length / 3)));
}

/** A header claiming 30000³ int16 voxels over a few bytes of data: a memory bomb. */
export function writeAbsurdDims(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const small = encodeNifti1({ dims: [4, 4, 4] }, new Float32Array(64), { datatype: 'int16' });
  const b = Buffer.from(small);
  for (let i = 1; i <= 3; i++) b.writeInt16LE(30000, 40 + 2 * i);
  fs.writeFileSync(file, zlib.gzipSync(b));
}

/** A git-annex-style broken link: listed in the dataset, content absent. */
export function writeMissing(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.rmSync(file, { force: true });
  fs.symlinkSync('../../.git/annex/objects/XX/missing.nii.gz', file);
}
