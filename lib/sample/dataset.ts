// Generates the small sample BIDS dataset the demo and tests run on: a few subjects with
// T1w, T2w and FLAIR, and one DWI series with a real gradient table (.bval/.bvec).
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeNifti } from '../nifti/index.js';
import { dwiSeries, gradientDirections, structuralImage, tissueMap } from './phantom.js';
import { seededRandom } from '../random.js';
import { writeFileAtomic } from '../files.js';

export interface SampleOptions {
  subjects?: number;
  /** Structural grid (voxels) and voxel size (mm). */
  dims?: [number, number, number];
  voxelSize?: number;
  contrasts?: string[];
  /** Subjects that get a DWI series (default: the first). */
  dwiSubjects?: number;
  seed?: number;
  /** Tiny images (orchestration benchmark): every image a few voxels. */
  tiny?: boolean;
}

const PARTICIPANTS = [
  ['sub-01', '24', 'F', 'R', 'control'],
  ['sub-02', '31,5', 'M', 'L', 'patient'],
  ['sub-03', '45', 'f', 'R', 'control'],
  ['sub-04', '52', 'M', 'R', 'patient'],
  ['sub-05', '67', 'F', 'A', 'control'],
];

function affineFor(dims: number[], vox: number): number[][] {
  // RAS, centred on the origin.
  return [
    [vox, 0, 0, -((dims[0] - 1) * vox) / 2],
    [0, vox, 0, -((dims[1] - 1) * vox) / 2],
    [0, 0, vox, -((dims[2] - 1) * vox) / 2],
    [0, 0, 0, 1],
  ];
}

export async function generateSampleDataset(dir: string, opts: SampleOptions = {}): Promise<{ dir: string; images: string[] }> {
  const subjects = opts.subjects ?? 3;
  const dims = opts.tiny ? ([4, 4, 4] as [number, number, number]) : (opts.dims ?? [48, 56, 48]);
  const vox = opts.voxelSize ?? 4;
  const contrasts = opts.contrasts ?? ['T1w', 'T2w', 'FLAIR'];
  const dwiSubjects = opts.dwiSubjects ?? 1;
  const rand = seededRandom(opts.seed ?? 1234);
  const images: string[] = [];
  await fsp.mkdir(dir, { recursive: true });

  await writeFileAtomic(
    path.join(dir, 'dataset_description.json'),
    JSON.stringify({ Name: 'OpenMind sample dataset', BIDSVersion: '1.8.0', DatasetType: 'raw', License: 'CC0', Authors: ['OpenMind pipeline'] }, null, 2),
  );
  const rows = ['participant_id\tage\tsex\thandedness\tgroup'];
  for (let s = 0; s < subjects; s++) rows.push((PARTICIPANTS[s % PARTICIPANTS.length].map((v, i) => (i === 0 ? `sub-${String(s + 1).padStart(2, '0')}` : v))).join('\t'));
  await writeFileAtomic(path.join(dir, 'participants.tsv'), rows.join('\n') + '\n');
  await writeFileAtomic(
    path.join(dir, 'participants.json'),
    JSON.stringify({ age: { Description: 'age at scan', Units: 'years' }, sex: { Levels: { F: 'female', M: 'male' } }, group: { Levels: { control: 'healthy control', patient: 'patient' } } }, null, 2),
  );
  // Inherited sidecars: one top-level file per contrast (BIDS inheritance).
  for (const c of contrasts) {
    await writeFileAtomic(
      path.join(dir, `${c}.json`),
      JSON.stringify({ Manufacturer: 'SIEMENS', ManufacturersModelName: 'Prisma_fit', MagneticFieldStrength: 3, RepetitionTime: c === 'T1w' ? 2300 : 3.2, EchoTime: c === 'T1w' ? 0.00293 : 0.409 }, null, 2),
    );
  }

  const tissue = tissueMap(dims);
  for (let s = 0; s < subjects; s++) {
    const sub = `sub-${String(s + 1).padStart(2, '0')}`;
    for (const c of contrasts) {
      const rel = `${sub}/anat/${sub}_${c}.nii.gz`;
      const data = structuralImage(tissue, c, rand);
      await writeNifti(path.join(dir, rel), { dims, affine: affineFor(dims, vox) }, data, { datatype: 'int16' });
      images.push(rel);
    }
    if (s < dwiSubjects) {
      const ddims = opts.tiny ? ([4, 4, 4] as [number, number, number]) : ([32, 36, 24] as [number, number, number]);
      const dirs = gradientDirections(opts.tiny ? 6 : 30);
      const bvals = [0, ...dirs.map(() => 1000), 0];
      const bvecs: [number, number, number][] = [[0, 0, 0], ...dirs, [0, 0, 0]];
      const dt = tissueMap(ddims);
      const data = dwiSeries(dt, bvals, bvecs, rand);
      const base = `${sub}/dwi/${sub}_dwi`;
      await writeNifti(path.join(dir, `${base}.nii.gz`), { dims: [...ddims, bvals.length], affine: affineFor(ddims, 6), tr: 4.2 }, data, { datatype: 'int16' });
      await writeFileAtomic(path.join(dir, `${base}.bval`), bvals.join(' ') + '\n');
      await writeFileAtomic(path.join(dir, `${base}.bvec`), [0, 1, 2].map((k) => bvecs.map((v) => v[k]).join(' ')).join('\n') + '\n');
      await writeFileAtomic(
        path.join(dir, `${base}.json`),
        JSON.stringify({ Manufacturer: 'Philips', ManufacturersModelName: 'Ingenia', MagneticFieldStrength: 3, RepetitionTime: 4.2, EchoTime: 0.08, PhaseEncodingDirection: 'j-' }, null, 2),
      );
      images.push(`${base}.nii.gz`);
    }
  }
  return { dir, images };
}
