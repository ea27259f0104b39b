// Test helper: cross-checks against nibabel 5 via Debian's /usr/bin/python3
// (the python3 on PATH may not have nibabel).
import { execFile, execFileSync } from 'node:child_process';

export const NIBABEL_PYTHON = '/usr/bin/python3';

let available: boolean | undefined;

/** True when /usr/bin/python3 can import nibabel and numpy. */
export function nibabelAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync(NIBABEL_PYTHON, ['-c', 'import nibabel, numpy'], { stdio: 'ignore', timeout: 30_000 });
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

/** Run a Python script with one JSON argument (sys.argv[1]); parse its JSON stdout. */
export function runPythonJson<T>(script: string, arg: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      NIBABEL_PYTHON,
      ['-c', script, JSON.stringify(arg)],
      { timeout: 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`python failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout) as T);
        } catch (parseErr) {
          reject(new Error(`python printed non-JSON output: ${stdout.slice(0, 500)}\n${stderr}`));
        }
      },
    );
  });
}

export interface NibabelView {
  shape: number[];
  affine: number[][];
  qform: number[][];
  qformCode: number;
  sform: number[][];
  sformCode: number;
  zooms: number[];
  dtype: string;
  axcodes: string;
  /** Sum of the scaled data (get_fdata). */
  sum: number;
  /** Sum of value * (linear index % 97), to catch reordered voxels. */
  weightedSum: number;
  /** Values at the requested linear (x-fastest) indices. */
  values: number[];
}

const LOAD_SCRIPT = `
import json, sys
import numpy as np
import nibabel as nib
args = json.loads(sys.argv[1])
img = nib.load(args['path'])
data = np.asarray(img.get_fdata(dtype=np.float64)).reshape(-1, order='F')
weights = (np.arange(data.size) % 97).astype(np.float64)
hdr = img.header
print(json.dumps({
  'shape': [int(s) for s in img.shape],
  'affine': img.affine.tolist(),
  'qform': hdr.get_qform().tolist(),
  'qformCode': int(hdr['qform_code']),
  'sform': hdr.get_sform().tolist(),
  'sformCode': int(hdr['sform_code']),
  'zooms': [float(z) for z in hdr.get_zooms()],
  'dtype': str(hdr.get_data_dtype()),
  'axcodes': ''.join(str(c) for c in nib.aff2axcodes(img.affine)),
  'sum': float(data.sum()),
  'weightedSum': float((data * weights).sum()),
  'values': [float(data[i]) for i in args['indices']],
}))
`;

/** Load a file with nibabel and summarise what it sees. */
export function nibabelLoad(path: string, indices: number[] = []): Promise<NibabelView> {
  return runPythonJson<NibabelView>(LOAD_SCRIPT, { path, indices });
}

const WRITE_SCRIPT = `
import json, sys
import numpy as np
import nibabel as nib
args = json.loads(sys.argv[1])
shape = args['shape']
n = int(np.prod(shape))
values = (np.arange(n) % args['modulo']).astype(np.float64) * args['scale'] + args['offset']
data = values.astype(np.dtype(args['dtype']).newbyteorder(args['endian'])).reshape(shape, order='F')
affine = np.array(args['affine'], dtype=np.float64)
cls = nib.Nifti2Image if args['version'] == 2 else nib.Nifti1Image
hdr = (nib.Nifti2Header if args['version'] == 2 else nib.Nifti1Header)(endianness=args['endian'])
img = cls(data, affine, header=hdr)
img.header.set_data_dtype(data.dtype)
if args['slope'] is not None:
  img.header.set_slope_inter(args['slope'], args['inter'])
img.set_qform(affine, code=1)
img.set_sform(affine, code=2)
nib.save(img, args['path'])
print(json.dumps({'ok': True}))
`;

export interface NibabelWriteSpec {
  path: string;
  version: 1 | 2;
  shape: number[];
  /** numpy dtype name, e.g. 'int16', 'float32'. */
  dtype: string;
  affine: number[][];
  /** '<' little or '>' big endian. */
  endian?: '<' | '>';
  /** Stored value at linear index i: (i % modulo) * scale + offset. */
  modulo?: number;
  scale?: number;
  offset?: number;
  /** scl_slope/scl_inter to set in the header (stored values unchanged). */
  slope?: number;
  inter?: number;
}

/** Write an image with nibabel whose stored values follow a known formula. */
export async function nibabelWrite(spec: NibabelWriteSpec): Promise<void> {
  await runPythonJson(WRITE_SCRIPT, {
    endian: '<', modulo: 251, scale: 1, offset: 0, slope: null, inter: 0,
    ...spec,
  });
}

/** Expected stored value at linear index i for a NibabelWriteSpec. */
export function nibabelWrittenValue(spec: NibabelWriteSpec, i: number): number {
  return (i % (spec.modulo ?? 251)) * (spec.scale ?? 1) + (spec.offset ?? 0);
}

const QFORM_SCRIPT = `
import json, sys
import numpy as np
import nibabel as nib
affine = np.array(json.loads(sys.argv[1]), dtype=np.float64)
hdr = nib.Nifti1Header()
hdr.set_data_shape((2, 2, 2))
hdr.set_qform(affine, code=1, strip_shears=True)
print(json.dumps(hdr.get_qform().tolist()))
`;

/** The qform affine nibabel stores for an affine (shears stripped), for comparison with ours. */
export function nibabelQformOf(affine: number[][]): Promise<number[][]> {
  return runPythonJson<number[][]>(QFORM_SCRIPT, affine);
}
