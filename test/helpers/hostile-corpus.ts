// The hostile-input corpus (issue #18), generated rather than committed: local BIDS folders holding
// what a new user's messy or malicious folders hold. Each input names the outcome it must get.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { encodeNifti1 } from '../../lib/nifti/index.js';
import { structuralImage, tissueMap } from '../../lib/sample/phantom.js';
import { seededRandom } from '../../lib/random.js';

/** Markers that must never appear in the database or the export: they live only outside the datasets. */
export const SECRET = 'SECRET-OUTSIDE-7f3a';

export interface HostileInput {
  name: string;
  dataset: string;
  /** Where the outcome shows: a scan's failure, a metadata/ingest issue of the dataset, a dataset failure, or normal processing. */
  expect:
    | { kind: 'scan_failed'; scan: string; reason: string }
    | { kind: 'issue'; file: string; reason: string }
    | { kind: 'dataset_failed'; reason: string }
    | { kind: 'completed'; scan: string }
    | { kind: 'card_escaped' };
}

export interface HostileCorpus {
  root: string;
  outside: string;
  /** The crawl's local sources, in order. */
  sources: { path: string }[];
  inputs: HostileInput[];
  /** Images that are valid and must complete in every dataset. */
  valid: string[];
}

const rand = seededRandom(18);
const DIMS: [number, number, number] = [40, 48, 40];
const tissue = tissueMap(DIMS);

function head(): Buffer {
  return encodeNifti1({ dims: DIMS, affine: [[4, 0, 0, -78], [0, 4, 0, -94], [0, 0, 4, -78], [0, 0, 0, 1]] }, structuralImage(tissue, 'T1w', rand), { datatype: 'int16' });
}

function write(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
}

function writeHead(file: string, edit?: (bytes: Buffer) => void): void {
  const bytes = head();
  edit?.(bytes);
  write(file, zlib.gzipSync(bytes));
}

function link(target: string, file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.symlinkSync(target, file);
}

function fifo(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  execFileSync('mkfifo', [file]);
}

const description = (name: string, extra: Record<string, unknown> = {}) => JSON.stringify({ Name: name, BIDSVersion: '1.8.0', License: 'CC0', ...extra });

/** Build the corpus under `root` (created fresh). */
export function makeHostileCorpus(root: string): HostileCorpus {
  fs.rmSync(root, { recursive: true, force: true });
  const outside = path.join(root, 'outside');
  const inputs: HostileInput[] = [];
  const valid: string[] = [];
  const ds = (name: string) => path.join(root, 'datasets', name);

  // Files outside every dataset: what links try to leak.
  writeHead(path.join(outside, 'secret_T1w.nii.gz'), (b) => b.write(SECRET, 148, 'latin1'));
  write(path.join(outside, 'sidecar.json'), JSON.stringify({ Manufacturer: SECRET, MagneticFieldStrength: 3 }));
  write(path.join(outside, 'participants.tsv'), `participant_id\tage\tsex\nsub-01\t${SECRET}\tF\n`);
  write(path.join(outside, 'dataset_description.json'), description(SECRET));

  // --- links: hostile-links ---
  const a = ds('hostile-links');
  write(path.join(a, 'dataset_description.json'), description('links'));
  writeHead(path.join(a, 'sub-01/anat/sub-01_T1w.nii.gz'));
  valid.push('hostile-links:sub-01/anat/sub-01_T1w');
  link(path.join(outside, 'secret_T1w.nii.gz'), path.join(a, 'sub-02/anat/sub-02_T1w.nii.gz'));
  inputs.push({ name: 'image linked from outside', dataset: 'hostile-links', expect: { kind: 'scan_failed', scan: 'sub-02/anat/sub-02_T1w', reason: 'outside_dataset' } });
  link('/etc/passwd', path.join(a, 'participants.tsv'));
  inputs.push({ name: 'participants.tsv linked to /etc/passwd', dataset: 'hostile-links', expect: { kind: 'issue', file: 'participants.tsv', reason: 'outside_dataset' } });
  link(path.join(outside, 'sidecar.json'), path.join(a, 'sub-01/anat/sub-01_T1w.json'));
  inputs.push({ name: 'sidecar linked from outside', dataset: 'hostile-links', expect: { kind: 'issue', file: 'sub-01/anat/sub-01_T1w.json', reason: 'outside_dataset' } });
  link('/dev/zero', path.join(a, 'T1w.json'));
  inputs.push({ name: 'sidecar linked to /dev/zero', dataset: 'hostile-links', expect: { kind: 'issue', file: 'T1w.json', reason: 'outside_dataset' } });

  // --- description linked from outside, participants over the limit: hostile-meta ---
  const m = ds('hostile-meta');
  link(path.join(outside, 'dataset_description.json'), path.join(m, 'dataset_description.json'));
  inputs.push({ name: 'dataset_description.json linked from outside', dataset: 'hostile-meta', expect: { kind: 'issue', file: 'dataset_description.json', reason: 'outside_dataset' } });
  writeHead(path.join(m, 'sub-01/anat/sub-01_T1w.nii.gz'));
  valid.push('hostile-meta:sub-01/anat/sub-01_T1w');
  write(path.join(m, 'participants.tsv'), 'participant_id\tage\n' + 'sub-01\t30\n'.repeat(120_000));
  inputs.push({ name: 'participants.tsv over 1 MB', dataset: 'hostile-meta', expect: { kind: 'issue', file: 'participants.tsv', reason: 'too_large' } });
  write(path.join(m, 'sub-01/anat/sub-01_T2w.json'), '['.repeat(100_000) + ']'.repeat(100_000));
  writeHead(path.join(m, 'sub-01/anat/sub-01_T2w.nii.gz'));
  valid.push('hostile-meta:sub-01/anat/sub-01_T2w');
  inputs.push({ name: '100,000-deep JSON sidecar', dataset: 'hostile-meta', expect: { kind: 'issue', file: 'sub-01/anat/sub-01_T2w.json', reason: 'too_deep' } });

  // --- broken description and card injection: hostile-text ---
  const t = ds('hostile-text');
  write(path.join(t, 'dataset_description.json'), '{"Name": "broken", "Authors": [1, 2,,]');
  inputs.push({ name: 'invalid dataset_description.json', dataset: 'hostile-text', expect: { kind: 'issue', file: 'dataset_description.json', reason: 'invalid_json' } });
  writeHead(path.join(t, 'sub-01/anat/sub-01_T1w.nii.gz'));
  valid.push('hostile-text:sub-01/anat/sub-01_T1w');
  const longName = `sub-01_acq-${'x'.repeat(255 - 'sub-01_acq-'.length - '_T2w.nii.gz'.length)}_T2w.nii.gz`;
  writeHead(path.join(t, 'sub-01/anat', longName));
  valid.push(`hostile-text:sub-01/anat/${longName.replace(/\.nii\.gz$/, '')}`);
  inputs.push({ name: 'legal 255-byte file name', dataset: 'hostile-text', expect: { kind: 'completed', scan: `sub-01/anat/${longName.replace(/\.nii\.gz$/, '')}` } });
  for (const [label, ch] of [['newline', '\n'], ['tab', '\t'], ['backslash', '\\'], ['quote', '"']] as const) {
    writeHead(path.join(t, `sub-02/anat/sub-02_acq-a${ch}b_T1w.nii.gz`));
    inputs.push({ name: `file name with a ${label}`, dataset: 'hostile-text', expect: { kind: 'scan_failed', scan: `sub-02/anat/sub-02_acq-a${ch}b_T1w`, reason: 'unsafe_name' } });
  }

  // --- named pipes: hostile-fifo ---
  const f = ds('hostile-fifo');
  fifo(path.join(f, 'dataset_description.json'));
  inputs.push({ name: 'FIFO as dataset_description.json', dataset: 'hostile-fifo', expect: { kind: 'issue', file: 'dataset_description.json', reason: 'not_regular_file' } });
  writeHead(path.join(f, 'sub-01/anat/sub-01_T1w.nii.gz'));
  valid.push('hostile-fifo:sub-01/anat/sub-01_T1w');
  const dwi = encodeNifti1({ dims: [8, 8, 8, 7] }, Float32Array.from({ length: 8 * 8 * 8 * 7 }, (_, i) => 100 + (i % 13)), { datatype: 'int16' });
  write(path.join(f, 'sub-01/dwi/sub-01_dwi.nii.gz'), zlib.gzipSync(dwi));
  fifo(path.join(f, 'sub-01/dwi/sub-01_dwi.bval'));
  write(path.join(f, 'sub-01/dwi/sub-01_dwi.bvec'), '0 1 0 0 1 1 0\n0 0 1 0 1 0 1\n0 0 0 1 0 1 1\n');
  inputs.push({ name: 'FIFO as .bval', dataset: 'hostile-fifo', expect: { kind: 'scan_failed', scan: 'sub-01/dwi/sub-01_dwi', reason: 'not_regular_file' } });

  // --- NIfTI headers and data: hostile-nifti ---
  const n = ds('hostile-nifti');
  write(path.join(n, 'dataset_description.json'), description('<script>alert(1)</script>', { Authors: ['<img src=x onerror=alert(1)>'], License: '[x](javascript:alert(1))' }));
  inputs.push({ name: 'Name, Authors and License with HTML and a javascript: link', dataset: 'hostile-nifti', expect: { kind: 'card_escaped' } });
  writeHead(path.join(n, 'sub-01/anat/sub-01_T1w.nii.gz'), (b) => b.writeFloatLE(1e38, 112));
  inputs.push({ name: 'scl_slope 1e38', dataset: 'hostile-nifti', expect: { kind: 'scan_failed', scan: 'sub-01/anat/sub-01_T1w', reason: 'scaling_out_of_range' } });
  writeHead(path.join(n, 'sub-01/anat/sub-01_T2w.nii.gz'), (b) => b.writeFloatLE(0, 108));
  inputs.push({ name: 'vox_offset 0', dataset: 'hostile-nifti', expect: { kind: 'scan_failed', scan: 'sub-01/anat/sub-01_T2w', reason: 'bad_vox_offset' } });
  writeHead(path.join(n, 'sub-01/anat/sub-01_FLAIR.nii.gz'), (b) => b.writeFloatLE(NaN, 108));
  inputs.push({ name: 'vox_offset NaN', dataset: 'hostile-nifti', expect: { kind: 'scan_failed', scan: 'sub-01/anat/sub-01_FLAIR', reason: 'bad_vox_offset' } });
  // A valid image followed by 5 GiB of gzipped zeros (a decompression bomb, ~5 MB on disk).
  const bomb = zlib.gzipSync(Buffer.alloc(64 << 20), { level: 9 });
  write(path.join(n, 'sub-02/anat/sub-02_T1w.nii.gz'), Buffer.concat([zlib.gzipSync(head()), ...Array.from({ length: 80 }, () => bomb)]));
  inputs.push({ name: 'valid image + 5 GiB of trailing gzip data', dataset: 'hostile-nifti', expect: { kind: 'scan_failed', scan: 'sub-02/anat/sub-02_T1w', reason: 'trailing_data' } });
  writeHead(path.join(n, 'sub-03/anat/sub-03_T1w.nii.gz'));
  valid.push('hostile-nifti:sub-03/anat/sub-03_T1w');

  // --- two folders whose names give the same id ---
  for (const [folder, licence] of [['My DS', 'CC0'], ['my-ds', 'CC-BY-4.0']] as const) {
    const d = ds(folder);
    write(path.join(d, 'dataset_description.json'), description(folder, { License: licence }));
    writeHead(path.join(d, 'sub-01/anat/sub-01_T1w.nii.gz'));
  }
  inputs.push({ name: 'two folders whose ids slug alike', dataset: 'my-ds', expect: { kind: 'completed', scan: 'sub-01/anat/sub-01_T1w' } });

  // --- a crawl target that is a file ---
  write(path.join(root, 'datasets', 'not-a-folder'), 'just a file\n');
  inputs.push({ name: 'crawl target that is a file', dataset: 'not-a-folder', expect: { kind: 'dataset_failed', reason: 'not_a_folder' } });

  const sources = ['hostile-fifo', 'hostile-links', 'hostile-meta', 'hostile-text', 'hostile-nifti', 'My DS', 'my-ds', 'not-a-folder'].map((name) => ({ path: ds(name) }));
  return { root, outside, sources, inputs, valid };
}
