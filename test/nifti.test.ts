import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  affineOf,
  encodeNifti1,
  isGzipped,
  NiftiValidationError,
  orientationCodes,
  parseNifti,
  qformAffine,
  readNifti,
  readNiftiHeader,
  sformAffine,
  validateNifti,
  voxelSizes,
  writeNifti,
  type NiftiDatatypeName,
  type NiftiHeader,
  type NiftiInvalidReason,
} from '../lib/nifti/index.js';
import { nibabelAvailable, nibabelLoad, nibabelQformOf, nibabelWrite, nibabelWrittenValue, type NibabelWriteSpec } from './helpers/nibabel.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.OPENMIND_SHARED ?? path.resolve(repoRoot, '../shared');
const T1W = path.join(shared, 'images/t1w_head_brainchop.nii.gz');
const FLAIR = path.join(shared, 'images/flair_axial_dib2019.nii.gz');
const DWI = path.join(shared, 'images/dwi_philips/dwi.nii.gz');

/** An oblique affine with a left-handed (qfac -1) voxel grid and anisotropic voxels. */
const OBLIQUE_AFFINE = [
  [-0.9, 0.1, 0.05, 90],
  [0.08, 0.95, -0.2, -120],
  [0.0, 0.25, 2.9, -60],
  [0, 0, 0, 1],
];

let tmp: string;

function tmpPath(name: string): string {
  return path.join(tmp, name);
}

/** Deterministic test data in NIfTI (x-fastest) order. */
function ramp(n: number, f: (i: number) => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(i);
  return out;
}

function assertAllClose(actual: number[][], expected: number[][], tol: number, what: string): void {
  actual.forEach((row, i) =>
    row.forEach((v, j) => assert.ok(Math.abs(v - expected[i][j]) <= tol, `${what}[${i}][${j}]: ${v} vs ${expected[i][j]}`)),
  );
}

/** Bytewise equality of two float arrays (fast for whole volumes). */
function sameFloats(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Await a rejection and check it is a NiftiValidationError with the reason and a readable message. */
async function expectInvalid(promise: Promise<unknown>, reason: NiftiInvalidReason): Promise<NiftiValidationError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof NiftiValidationError, `expected NiftiValidationError, got ${String(err)}`);
    assert.equal(err.reason, reason, `reason (message: ${err.message})`);
    assert.ok(err.message.length > 15 && !err.message.includes('[object'), `readable message: ${err.message}`);
    return err;
  }
  assert.fail(`expected rejection with reason '${reason}'`);
}

function expectInvalidSync(fn: () => unknown, reason: NiftiInvalidReason): void {
  assert.throws(fn, (err: unknown) => err instanceof NiftiValidationError && err.reason === reason);
}

/** A small valid NIfTI-1 file as bytes, for corrupting. */
function smallNifti(datatype: NiftiDatatypeName = 'int16', dims = [4, 3, 2]): Buffer {
  const n = dims.reduce((a, b) => a * b, 1);
  return encodeNifti1({ dims, pixdim: [1, 1, 1] }, ramp(n, (i) => i), { datatype });
}

function patch(bytes: Buffer, edit: (v: DataView) => void): Buffer {
  const copy = Buffer.from(bytes);
  edit(new DataView(copy.buffer, copy.byteOffset, copy.byteLength));
  return copy;
}

async function writeBytes(name: string, bytes: Uint8Array): Promise<string> {
  const p = tmpPath(name);
  await fs.writeFile(p, bytes);
  return p;
}

const GEOMETRY_FIELDS: (keyof NiftiHeader)[] = [
  'pixdim', 'xyztUnits', 'dimInfo', 'qformCode', 'sformCode', 'quaternB', 'quaternC', 'quaternD',
  'qoffsetX', 'qoffsetY', 'qoffsetZ', 'srowX', 'srowY', 'srowZ', 'sliceCode', 'sliceStart', 'sliceEnd',
  'sliceDuration', 'toffset',
];

describe('lib/nifti', function () {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'openmind-nifti-test-'));
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  describe('encode / read round trip', () => {
    const cases: { datatype: NiftiDatatypeName; value: (i: number) => number }[] = [
      { datatype: 'uint8', value: (i) => i % 256 },
      { datatype: 'int16', value: (i) => ((i * 37) % 60000) - 30000 },
      { datatype: 'float32', value: (i) => Math.fround(Math.sin(i) * 1000) },
    ];
    for (const { datatype, value } of cases) {
      for (const ext of ['.nii', '.nii.gz']) {
        it(`${datatype} ${ext}`, async () => {
          const dims = [7, 5, 3];
          const data = ramp(105, value);
          const file = tmpPath(`rt_${datatype}${ext}`);
          const written = await writeNifti(file, { dims, pixdim: [1.5, 2, 2.5], affine: OBLIQUE_AFFINE }, data, {
            datatype,
            description: 'round trip',
          });
          const onDisk = await fs.readFile(file);
          assert.equal(written.bytes, onDisk.length);
          assert.equal(written.sha256, createHash('sha256').update(onDisk).digest('hex'));
          assert.equal(isGzipped(onDisk), ext === '.nii.gz');
          // No temp files are left behind by the atomic write.
          assert.deepEqual((await fs.readdir(tmp)).filter((f) => f.includes('.tmp')), []);

          for (const img of [await readNifti(file), parseNifti(onDisk)]) {
            assert.deepEqual(img.shape, dims);
            assert.equal(img.header.version, 1);
            assert.equal(img.header.voxOffset, 352);
            assert.equal(img.header.descrip, 'round trip');
            assert.deepEqual(Array.from(img.data), Array.from(data));
            assertAllClose(affineOf(img.header), OBLIQUE_AFFINE, 1e-5, 'sform');
          }
        });
      }
    }

    it('clamps and rounds values for integer datatypes', () => {
      const img = parseNifti(encodeNifti1({ dims: [5] }, [-3.6, 2.5, 300, Number.NaN, 254.4], { datatype: 'uint8' }));
      assert.deepEqual(Array.from(img.data), [0, 3, 255, 0, 254]);
      const i16 = parseNifti(encodeNifti1({ dims: [3] }, [-1e9, 1e9, -7.5], { datatype: 'int16' }));
      assert.deepEqual(Array.from(i16.data), [-32768, 32767, -7]);
    });

    it('stores real-world values through scl_slope / scl_inter', () => {
      const data = ramp(24, (i) => 100 + i * 0.5);
      const bytes = encodeNifti1({ dims: [4, 3, 2] }, data, { datatype: 'int16', sclSlope: 0.5, sclInter: 100 });
      const img = parseNifti(bytes);
      assert.equal(img.header.sclSlope, 0.5);
      assert.equal(img.header.sclInter, 100);
      assert.deepEqual(Array.from(img.data), Array.from(data));
    });

    it('supports the other integer and float datatypes', () => {
      const types: NiftiDatatypeName[] = ['int8', 'uint16', 'int32', 'uint32', 'float64', 'int64', 'uint64'];
      for (const datatype of types) {
        const data = ramp(12, (i) => (datatype.startsWith('u') ? i * 3 : i * 3 - 17));
        const img = parseNifti(encodeNifti1({ dims: [2, 3, 2] }, data, { datatype }));
        assert.deepEqual(Array.from(img.data), Array.from(data), datatype);
      }
    });

    it('uses 3D dims of a 4D geometry for a single-volume derivative', async () => {
      const h = await readNiftiHeader(DWI);
      const bytes = encodeNifti1(h, new Float32Array(112 * 112 * 32), { datatype: 'uint8' });
      const img = parseNifti(bytes);
      assert.deepEqual(img.shape, [112, 112, 32]);
      assert.equal(img.header.dim[4], 1);
      expectInvalidSync(() => encodeNifti1(h, new Float32Array(10)), 'bad_dims');
      // A subset of the volumes keeps the spatial grid.
      const subset = parseNifti(encodeNifti1(h, new Float32Array(112 * 112 * 32 * 5), { datatype: 'uint8' }));
      assert.deepEqual(subset.shape, [112, 112, 32, 5]);
      assert.equal(subset.header.pixdim[4], h.pixdim[4]);
      expectInvalidSync(() => encodeNifti1({ dims: [40000, 2, 1] }, new Float32Array(80000)), 'bad_dims');
    });

    it('without an affine writes unknown orientation and nibabel-style fallback affine', () => {
      const img = parseNifti(encodeNifti1({ dims: [4, 6, 8], pixdim: [2, 3, 4] }, new Float32Array(192)));
      assert.equal(img.header.qformCode, 0);
      assert.equal(img.header.sformCode, 0);
      assert.deepEqual(voxelSizes(img.header), [2, 3, 4]);
      assert.deepEqual(affineOf(img.header), [
        [-2, 0, 0, 3],
        [0, 3, 0, -7.5],
        [0, 0, 4, -14],
        [0, 0, 0, 1],
      ]);
    });
  });

  describe('geometry copied exactly from real images', () => {
    for (const [label, source] of [['t1w_head_brainchop', T1W], ['flair_axial_dib2019', FLAIR]] as const) {
      it(label, async function () {
        const original = await readNifti(source);
        const copyPath = tmpPath(`copy_${label}.nii.gz`);
        await writeNifti(copyPath, original.header, original.data, { datatype: 'int16' });
        const copy = await readNifti(copyPath);
        assert.deepEqual(copy.header.dim, original.header.dim);
        for (const field of GEOMETRY_FIELDS) {
          assert.deepEqual(copy.header[field], original.header[field], `header field ${field}`);
        }
        assert.deepEqual(affineOf(copy.header), affineOf(original.header));
        assert.ok(sameFloats(copy.data, original.data), 'voxel data identical');

        if (!nibabelAvailable()) return;
        const indices = [0, 123_456, 1_000_000, original.data.length - 1];
        const [theirs, ours] = await Promise.all([nibabelLoad(source, indices), nibabelLoad(copyPath, indices)]);
        assertAllClose(ours.affine, theirs.affine, 1e-4, 'affine');
        assertAllClose(ours.qform, theirs.qform, 1e-4, 'qform');
        assert.equal(ours.qformCode, theirs.qformCode);
        assert.equal(ours.sformCode, theirs.sformCode);
        assert.equal(ours.sum, theirs.sum);
        assert.equal(ours.weightedSum, theirs.weightedSum);
        assert.deepEqual(ours.values, theirs.values);
      });
    }
  });

  describe('nibabel agrees with files we write', function () {
    before(function () {
      if (!nibabelAvailable()) this.skip();
    });

    for (const datatype of ['uint8', 'int16', 'float32'] as NiftiDatatypeName[]) {
      it(`${datatype} .nii.gz with an oblique affine`, async () => {
        const dims = [9, 8, 7];
        const data = ramp(504, (i) => (datatype === 'float32' ? Math.fround(i / 7 - 20) : (i * 13) % 200));
        const file = tmpPath(`nib_${datatype}.nii.gz`);
        await writeNifti(file, { dims, affine: OBLIQUE_AFFINE }, data, { datatype });
        const indices = [0, 1, 77, 503];
        const view = await nibabelLoad(file, indices);
        assert.deepEqual(view.shape, dims);
        assertAllClose(view.affine, OBLIQUE_AFFINE, 1e-4, 'nibabel affine');
        assertAllClose(view.sform, OBLIQUE_AFFINE, 1e-4, 'nibabel sform');
        assert.equal(view.qformCode, 1);
        assert.equal(view.sformCode, 1);
        // The qform is the shear-free part of the affine; ours must match nibabel's reading of it.
        const ours = await readNiftiHeader(file);
        assertAllClose(qformAffine(ours), view.qform, 1e-4, 'qform');
        assert.equal(view.axcodes, orientationCodes(OBLIQUE_AFFINE));
        // ...and equal to what nibabel's own set_qform makes of the affine.
        assertAllClose(view.qform, await nibabelQformOf(OBLIQUE_AFFINE), 1e-5, 'nibabel set_qform');
        const sum = data.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(view.sum - sum) <= 1e-6 * Math.max(1, Math.abs(sum)), `sum ${view.sum} vs ${sum}`);
        assert.deepEqual(view.values, indices.map((i) => data[i]));
      });
    }

    it('a rotation-only affine round-trips through the qform', async () => {
      const c = Math.cos(0.3);
      const s = Math.sin(0.3);
      const affine = [
        [0, -1.2 * s, 3 * c, 10],
        [0, 1.2 * c, 3 * s, 20],
        [-1.1, 0, 0, 30],
        [0, 0, 0, 1],
      ];
      const file = tmpPath('rotation.nii');
      await writeNifti(file, { dims: [3, 4, 5] }, new Float32Array(60), { datatype: 'uint8' });
      await writeNifti(file, { dims: [3, 4, 5], affine }, new Float32Array(60), { datatype: 'uint8' });
      const header = await readNiftiHeader(file);
      assertAllClose(qformAffine(header), affine, 1e-5, 'our qform');
      const view = await nibabelLoad(file);
      assertAllClose(view.qform, affine, 1e-5, 'nibabel qform');
      assert.equal(view.axcodes, orientationCodes(affine));
    });
  });

  describe('reading', () => {
    it('reads the 4D DWI header and applies scl_slope', async function () {
      const h = await readNiftiHeader(DWI);
      assert.deepEqual(h.dim.slice(0, 5), [4, 112, 112, 32, 17]);
      assert.ok(Math.abs(h.sclSlope - 37.13) < 0.01, `scl_slope ${h.sclSlope}`);
      const img = await readNifti(DWI);
      assert.deepEqual(img.shape, [112, 112, 32, 17]);
      // Scaled values are integer multiples of the slope (plus intercept).
      const raw = parseNifti(await fs.readFile(DWI));
      assert.deepEqual(Array.from(raw.data.subarray(0, 1000)), Array.from(img.data.subarray(0, 1000)));
      const some = img.data.find((v) => v !== 0)!;
      const stored = (some - h.sclInter) / h.sclSlope;
      assert.ok(Math.abs(stored - Math.round(stored)) < 1e-3, `value ${some} is a multiple of the slope`);
      if (!nibabelAvailable()) return;
      const indices = [5000, 250_000, 6_000_000];
      const view = await nibabelLoad(DWI, indices);
      indices.forEach((idx, k) =>
        assert.ok(Math.abs(img.data[idx] - view.values[k]) <= 1e-3 * Math.max(1, Math.abs(view.values[k])), `voxel ${idx}`),
      );
    });

    it('orientation of t1w_head_brainchop is LIA, like nibabel', async () => {
      const h = await readNiftiHeader(T1W);
      assert.equal(orientationCodes(affineOf(h)), 'LIA');
      if (!nibabelAvailable()) return;
      for (const file of [FLAIR, DWI]) {
        const view = await nibabelLoad(file);
        assert.equal(orientationCodes(affineOf(await readNiftiHeader(file))), view.axcodes, file);
        assertAllClose(affineOf(await readNiftiHeader(file)), view.affine, 1e-5, `affine of ${file}`);
      }
    });

    it('orientation codes of simple affines', () => {
      const diag = (x: number, y: number, z: number) => [[x, 0, 0, 0], [0, y, 0, 0], [0, 0, z, 0], [0, 0, 0, 1]];
      assert.equal(orientationCodes(diag(1, 1, 1)), 'RAS');
      assert.equal(orientationCodes(diag(-1, -1, 1)), 'LPS');
      assert.equal(orientationCodes([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]), 'ASR');
    });

    it('reads NIfTI-2 and big-endian files written by nibabel', async function () {
      if (!nibabelAvailable()) this.skip();
      const specs: NibabelWriteSpec[] = [
        { path: tmpPath('n2.nii'), version: 2, shape: [6, 5, 4], dtype: 'int16', affine: OBLIQUE_AFFINE, modulo: 97, offset: -40 },
        { path: tmpPath('n2.nii.gz'), version: 2, shape: [6, 5, 4, 3], dtype: 'float32', affine: OBLIQUE_AFFINE, scale: 0.25 },
        { path: tmpPath('n2be.nii'), version: 2, shape: [5, 4, 3], dtype: 'int32', affine: OBLIQUE_AFFINE, endian: '>', slope: 2, inter: 1 },
        { path: tmpPath('n1be.nii.gz'), version: 1, shape: [5, 4, 3], dtype: 'float64', affine: OBLIQUE_AFFINE, endian: '>' },
      ];
      for (const spec of specs) {
        await nibabelWrite(spec);
        const img = await readNifti(spec.path);
        const label = path.basename(spec.path);
        assert.equal(img.header.version, spec.version, label);
        assert.equal(img.header.littleEndian, (spec.endian ?? '<') === '<', label);
        assert.deepEqual(img.shape, spec.shape, label);
        const expected = Array.from(img.data, (_, i) => nibabelWrittenValue(spec, i) * (spec.slope ?? 1) + (spec.inter ?? 0));
        assert.deepEqual(Array.from(img.data), expected, label);
        assertAllClose(affineOf(img.header), OBLIQUE_AFFINE, 1e-5, label);
        const summary = await validateNifti(spec.path);
        assert.equal(summary.version, spec.version);
        assert.deepEqual(summary.dims, spec.shape);
      }
    });
  });

  describe('validateNifti', () => {
    it('summarises a file: hash, size, statistics, geometry', async () => {
      const data = ramp(60, (i) => i - 10);
      const file = tmpPath('summary.nii.gz');
      const written = await writeNifti(file, { dims: [5, 4, 3], affine: OBLIQUE_AFFINE }, data, { datatype: 'int16' });
      const s = await validateNifti(file, { expect: '3d' });
      assert.equal(s.sha256, written.sha256);
      assert.equal(s.bytes, written.bytes);
      assert.deepEqual(s.dims, [5, 4, 3]);
      assert.equal(s.datatype, 'int16');
      assert.equal(s.ndim, 3);
      assert.equal(s.volumes, 1);
      assert.equal(s.min, -10);
      assert.equal(s.max, 49);
      assert.equal(s.mean, 19.5);
      assert.equal(s.orientation, orientationCodes(OBLIQUE_AFFINE));
      assertAllClose(s.affine, OBLIQUE_AFFINE, 1e-5, 'summary affine');
    });

    it('real images: t1w 3D LIA, DWI 4D with slope applied', async () => {
      const t1 = await validateNifti(T1W, { expect: '3d' });
      assert.equal(t1.orientation, 'LIA');
      assert.deepEqual(t1.dims, [256, 256, 256]);
      assert.equal(t1.sha256, createHash('sha256').update(await fs.readFile(T1W)).digest('hex'));
      const dwi = await validateNifti(DWI, { expect: '4d' });
      assert.equal(dwi.volumes, 17);
      assert.ok(dwi.max > 32767, 'scaled maximum exceeds the int16 range');
    });

    it('accepts a 3D image stored with dim[0]=4 and dim[4]=1', async () => {
      const file = await writeBytes('3d_as_4d.nii', encodeNifti1({ dims: [3, 3, 3, 1] }, new Float32Array(27)));
      const s = await validateNifti(file, { expect: '3d' });
      assert.equal(s.volumes, 1);
      assert.equal(s.sha256, createHash('sha256').update(await fs.readFile(file)).digest('hex'));
      await expectInvalid(validateNifti(file, { expect: '4d' }), 'not_4d');
    });
  });

  describe('invalid files carry a reason and a readable message', () => {
    it('missing', async () => {
      const err = await expectInvalid(validateNifti(tmpPath('nope.nii.gz')), 'missing');
      assert.match(err.message, /nope\.nii\.gz/);
      await expectInvalid(readNifti(tmpPath('nope.nii')), 'missing');
      await expectInvalid(readNiftiHeader(tmpPath('nope.nii')), 'missing');
    });

    it('empty_file', async () => {
      const file = await writeBytes('empty.nii', new Uint8Array(0));
      await expectInvalid(validateNifti(file), 'empty_file');
      await expectInvalid(validateNifti(await writeBytes('empty.nii.gz', gzipSync(Buffer.alloc(0)))), 'empty_file');
      expectInvalidSync(() => parseNifti(new Uint8Array(0)), 'empty_file');
    });

    it('unreadable: corrupt gzip', async () => {
      const gz = gzipSync(smallNifti());
      const corrupt = Buffer.from(gz);
      for (let i = 12; i < corrupt.length - 8; i++) corrupt[i] ^= 0x5a;
      const file = await writeBytes('corrupt.nii.gz', corrupt);
      await expectInvalid(validateNifti(file), 'unreadable');
      await expectInvalid(readNifti(file), 'unreadable');
      expectInvalidSync(() => parseNifti(corrupt), 'unreadable');
      const dir = tmpPath('a_directory.nii');
      await fs.mkdir(dir);
      await expectInvalid(validateNifti(dir), 'not_regular_file');
    });

    it('truncated: .nii and .nii.gz cut short', async () => {
      const full = smallNifti('float32', [10, 10, 10]);
      const cut = full.subarray(0, full.length - 100);
      await expectInvalid(validateNifti(await writeBytes('cut.nii', cut)), 'truncated');
      await expectInvalid(readNifti(tmpPath('cut.nii')), 'truncated');
      expectInvalidSync(() => parseNifti(cut), 'truncated');
      // A complete gzip stream whose content is short of the data...
      await expectInvalid(validateNifti(await writeBytes('short.nii.gz', gzipSync(cut))), 'truncated');
      // ...and a gzip file cut off mid-stream.
      const gz = gzipSync(full);
      await expectInvalid(validateNifti(await writeBytes('cutgz.nii.gz', gz.subarray(0, gz.length - 50))), 'truncated');
      // Cut inside the header.
      await expectInvalid(validateNifti(await writeBytes('cuthdr.nii', full.subarray(0, 200))), 'truncated');
      // The header alone is still readable.
      const h = await readNiftiHeader(tmpPath('cut.nii'));
      assert.deepEqual(h.dim.slice(0, 4), [3, 10, 10, 10]);
    });

    it('bad_magic: not NIfTI, plain or gzipped, and .hdr/.img pairs', async () => {
      const text = Buffer.from('this is certainly not a NIfTI image, just some text '.repeat(20));
      await expectInvalid(validateNifti(await writeBytes('text.nii', text)), 'bad_magic');
      await expectInvalid(validateNifti(await writeBytes('text.nii.gz', gzipSync(text))), 'bad_magic');
      expectInvalidSync(() => parseNifti(text), 'bad_magic');
      const pair = patch(smallNifti(), (v) => [0x6e, 0x69, 0x31, 0].forEach((b, i) => v.setUint8(344 + i, b)));
      const err = await expectInvalid(validateNifti(await writeBytes('pair.nii', pair)), 'bad_magic');
      assert.match(err.message, /pair/);
    });

    it('bad_dims: zero size, dim[0] out of range', async () => {
      const zero = patch(smallNifti(), (v) => v.setInt16(42, 0, true));
      await expectInvalid(validateNifti(await writeBytes('dim0.nii', zero)), 'bad_dims');
      expectInvalidSync(() => parseNifti(zero), 'bad_dims');
      const negative = patch(smallNifti(), (v) => v.setInt16(44, -3, true));
      await expectInvalid(validateNifti(await writeBytes('dimneg.nii', negative)), 'bad_dims');
      const ndim9 = patch(smallNifti(), (v) => v.setInt16(40, 9, true));
      await expectInvalid(readNifti(await writeBytes('ndim9.nii', ndim9)), 'bad_dims');
      const ndim0 = patch(smallNifti(), (v) => v.setInt16(40, 0, true));
      await expectInvalid(validateNifti(await writeBytes('ndim0.nii', ndim0)), 'bad_dims');
    });

    it('too_large / truncated: absurd dims fail fast without allocating', async () => {
      // NIfTI-1 dims are int16: 32767^3 int16 voxels claimed by a tiny file.
      const huge1 = patch(smallNifti(), (v) => [3, 32767, 32767, 32767].forEach((d, i) => v.setInt16(40 + 2 * i, d, true)));
      const f1 = await writeBytes('huge1.nii', huge1);
      await expectInvalid(validateNifti(f1), 'too_large');
      await expectInvalid(readNifti(f1), 'too_large');
      expectInvalidSync(() => parseNifti(huge1), 'too_large');
      // Without the voxel limit, the file size check still refuses before allocating.
      await expectInvalid(validateNifti(f1, { maxVoxels: Infinity }), 'truncated');
      await expectInvalid(readNifti(f1, { maxVoxels: Infinity }), 'truncated');
      const f1gz = await writeBytes('huge1.nii.gz', gzipSync(huge1));
      await expectInvalid(readNifti(f1gz, { maxVoxels: Infinity }), 'truncated');
      await expectInvalid(validateNifti(f1gz), 'too_large');

      if (!nibabelAvailable()) return;
      // NIfTI-2 (int64 dims): 100000^3 int16.
      const spec: NibabelWriteSpec = { path: tmpPath('small2.nii'), version: 2, shape: [2, 2, 2], dtype: 'int16', affine: OBLIQUE_AFFINE };
      await nibabelWrite(spec);
      const huge2 = patch(await fs.readFile(spec.path), (v) =>
        [3, 100000, 100000, 100000].forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), true)),
      );
      const f2 = await writeBytes('huge2.nii', huge2);
      const err = await expectInvalid(validateNifti(f2), 'too_large');
      assert.match(err.message, /100000x100000x100000/);
      await expectInvalid(readNifti(f2), 'too_large');
      await expectInvalid(validateNifti(f2, { maxVoxels: Infinity }), 'truncated');
      const h = await readNiftiHeader(f2);
      assert.deepEqual(h.dim.slice(0, 4), [3, 100000, 100000, 100000]);
    });

    it('unsupported_datatype: complex, rgb and unknown codes', async () => {
      const complex = patch(smallNifti('float64'), (v) => v.setInt16(70, 32, true));
      await expectInvalid(validateNifti(await writeBytes('complex.nii', complex)), 'unsupported_datatype');
      const rgb = encodeNifti1({ dims: [2, 2, 1] }, ramp(12, (i) => i * 20), { datatype: 'rgb24' });
      assert.equal(rgb.readInt16LE(70), 128);
      await expectInvalid(readNifti(await writeBytes('rgb.nii', rgb)), 'unsupported_datatype');
      const unknown = patch(smallNifti(), (v) => v.setInt16(70, 99, true));
      expectInvalidSync(() => parseNifti(unknown), 'unsupported_datatype');
    });

    it('non_finite: NaN or Inf in float data', async () => {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const data = ramp(27, (i) => (i === 13 ? bad : i));
        for (const datatype of ['float32', 'float64'] as NiftiDatatypeName[]) {
          const file = tmpPath(`nonfinite_${datatype}_${bad}.nii.gz`);
          await writeNifti(file, { dims: [3, 3, 3] }, data, { datatype });
          const err = await expectInvalid(validateNifti(file), 'non_finite');
          assert.equal(err.details?.voxelIndex, 13);
        }
      }
    });

    it('not_3d: a 4D series where 3D is expected; not_4d the reverse', async () => {
      const err = await expectInvalid(validateNifti(DWI, { expect: '3d' }), 'not_3d');
      assert.match(err.message, /17 volumes/);
      await expectInvalid(validateNifti(FLAIR, { expect: '4d' }), 'not_4d');
      const flat = await writeBytes('2d.nii', encodeNifti1({ dims: [4, 4] }, new Float32Array(16)));
      await expectInvalid(validateNifti(flat, { expect: '3d' }), 'not_3d');
    });

    it('gzip detection is by content, not file name', async () => {
      const plain = smallNifti();
      const file = await writeBytes('misnamed.nii.gz', plain);
      const img = await readNifti(file);
      assert.deepEqual(img.shape, [4, 3, 2]);
      assert.deepEqual(Array.from(parseNifti(gzipSync(plain)).data), Array.from(img.data));
      assert.deepEqual(gunzipSync(gzipSync(plain)), plain);
    });
  });
});
