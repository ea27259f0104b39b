// DWI derivation on every real series under shared/images (issue #13): each one yields the maps it
// can (or a recorded reason), agrees with MRtrix3 like for like (denoise → Gibbs → tensor), and
// co-registration is kept only where it lowers the tensor fit's residual. A clinical trace series
// (b0 + 3 orthogonal directions) is cut from the Philips b2000 series, whose scanner trace image
// is the reference for TRACE.
//
// Time: ≈ 4 min on 2 busy cores with MRtrix3. The registration check runs on two series by
// default (OPENMIND_DWI_REAL_ALL=1: all seven).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNifti } from '../lib/nifti/index.js';
import { deriveDwi, type DeriveDwiResult } from '../lib/dwi/index.js';
import { readSeries, writeSeries } from '../lib/dwi/io.js';
import { correlation, hasMrtrix, median, mrtrix, REAL_DWI_SERIES } from './helpers/mrtrix.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.OPENMIND_SHARED ?? path.resolve(repoRoot, '../shared');
const IMAGES = path.join(shared, 'images');
const B2000 = 'real/philips_dwi-b2000_dcmqaphilips';
const REGISTRATION_SERIES = process.env.OPENMIND_DWI_REAL_ALL
  ? REAL_DWI_SERIES
  : ['real/toshiba_dwi-ortho_dcmqatoshiba', 'real/siemens_dwi-hfs_dcmqadecubitus'];
const LIKE_FOR_LIKE = ['denoise', 'gibbs', 'tensor'];

const files = (series: string) => {
  const d = path.join(IMAGES, series);
  return { dwi: path.join(d, 'dwi.nii.gz'), bval: path.join(d, 'dwi.bval'), bvec: path.join(d, 'dwi.bvec') };
};

describe('DWI derivation on every real series', function () {
  this.timeout(300_000);
  let dir: string;
  const results = new Map<string, DeriveDwiResult>();
  const mrtrixOk = hasMrtrix();

  before(async function () {
    try {
      await fs.access(files(REAL_DWI_SERIES[0]).dwi);
    } catch {
      console.log(`      (no real DWI series under ${IMAGES})`);
      this.skip();
    }
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dwi-real-'));
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const work = (series: string) => path.join(dir, path.basename(series), 'work');
  const out = (series: string, name: string) => path.join(dir, path.basename(series), name);

  for (const series of REAL_DWI_SERIES) {
    const name = path.basename(series);
    describe(name, () => {
      it('yields its maps (denoise → Gibbs → tensor), each with its provenance', async () => {
        const f = files(series);
        const r = await deriveDwi(f.dwi, f.bval, f.bvec, out(series, 'l4l'), { workDir: work(series), steps: LIKE_FOR_LIKE, threads: 2 });
        results.set(series, r);
        assert.deepEqual(r.params.skipSteps, ['register', 'biasfield']);
        assert.equal(r.model, 'tensor');
        assert.deepEqual(r.maps.map((m) => m.modality), ['T2w', 'ADC', 'FA', 'MD']);
        assert.deepEqual(r.notDerived, []);
        for (const m of r.maps.slice(1)) {
          assert.deepEqual(m.shells, r.gradients.shellsUsed);
          assert.ok(m.directions >= 6 && /tensor/.test(m.method), m.method);
        }
        const highB = r.warnings.some((w) => w.startsWith('tensor_high_b'));
        if (series === B2000) {
          assert.deepEqual(r.gradients.shellsUsed, [2000]);
          assert.equal(r.gradients.directions, 15);
          assert.ok(highB, 'tensor_high_b warning');
        } else {
          assert.ok(r.gradients.shellsUsed.every((b) => b <= 1500));
          assert.ok(!highB);
        }
        const adc = (await readNifti(r.files.adc.path)).data;
        const mask = (await readNifti(r.files.brainMask.path)).data;
        const inside: number[] = [];
        for (let i = 0; i < mask.length; i++) if (mask[i]) inside.push(adc[i]);
        const md = median(inside);
        assert.ok(md > 0.4e-3 && md < 1.6e-3, `median ADC ${md} mm²/s`);
      });

      it('agrees with MRtrix3 like for like (dwidenoise → mrdegibbs → dwi2tensor): FA r ≥ 0.99, median ADC difference ≤ 1%', async function () {
        if (!mrtrixOk) {
          console.log('      (MRtrix3 not installed)');
          this.skip();
        }
        const r = results.get(series);
        if (!r) this.skip();
        const f = files(series);
        const d = path.join(dir, name, 'mrtrix');
        await fs.mkdir(d, { recursive: true });
        const p = (x: string) => path.join(d, x);
        mrtrix('dwidenoise', [f.dwi, p('dn.mif')]);
        mrtrix('mrdegibbs', [p('dn.mif'), p('dg.mif')]);
        mrtrix('dwi2mask', ['-fslgrad', f.bvec, f.bval, p('dg.mif'), p('mask.nii')]);
        mrtrix('dwi2tensor', ['-fslgrad', f.bvec, f.bval, '-mask', r!.files.brainMask.path, p('dg.mif'), p('dt.mif')]);
        mrtrix('tensor2metric', [p('dt.mif'), '-fa', p('fa.nii'), '-adc', p('adc.nii')]);
        const ours = (await readNifti(r!.files.brainMask.path)).data;
        const theirs = (await readNifti(p('mask.nii'))).data;
        const both = Uint8Array.from(ours, (v, i) => (v && theirs[i] ? 1 : 0));
        const fa = (await readNifti(r!.files.fa!.path)).data, faR = (await readNifti(p('fa.nii'))).data;
        const adc = (await readNifti(r!.files.adc.path)).data, adcR = (await readNifti(p('adc.nii'))).data;
        const rFa = correlation(fa, faR, both);
        const rel: number[] = [];
        for (let i = 0; i < both.length; i++) if (both[i] && adcR[i] !== 0) rel.push(Math.abs(adc[i] - adcR[i]) / Math.abs(adcR[i]));
        const mrel = median(rel);
        console.log(`      ${name}: FA r ${rFa.toFixed(5)}, median |ΔADC| ${(mrel * 100).toFixed(3)}% (${rel.length} voxels in both masks)`);
        assert.ok(rFa >= 0.99, `FA correlation ${rFa}`);
        assert.ok(mrel <= 0.01, `median relative ADC difference ${mrel}`);
      });

      if (REGISTRATION_SERIES.includes(series)) {
        it('co-registration lowers the fit residual, or is not kept and says why', async () => {
          const f = files(series);
          // Same work folder: denoising and Gibbs removal are reused from the like-for-like run.
          const r = await deriveDwi(f.dwi, f.bval, f.bvec, out(series, 'reg'), { workDir: work(series), steps: ['denoise', 'gibbs', 'register', 'tensor'], threads: 2 });
          const reg = r.registration;
          assert.ok(reg, 'registration check recorded');
          const worst = Math.max(...r.motion.map((m) => Math.hypot(...m.translation)));
          console.log(
            `      ${name}: residual ${reg.residualWithout.toFixed(4)} unregistered → ${reg.residualWith.toFixed(4)} registered (${reg.applied ? 'kept' : 'not kept'}), largest translation ${worst.toFixed(2)} mm`,
          );
          assert.equal(r.motion.length, r.gradients.volumes);
          if (reg.applied) assert.ok(reg.residualWith < reg.residualWithout);
          else {
            assert.match(reg.reason ?? '', /did not lower/);
            assert.ok(r.warnings.some((w) => w.startsWith('registration_not_kept')));
          }
        });
      }
    });
  }

  describe('clinical trace series (b0 + 3 orthogonal directions, cut from the Philips b2000 series)', () => {
    let cut: { dwi: string; bval: string; bvec: string };
    before(async () => {
      const f = files(B2000);
      const bvals = (await fs.readFile(f.bval, 'utf8')).trim().split(/\s+/).map(Number);
      const rows = (await fs.readFile(f.bvec, 'utf8')).trim().split(/\n/).map((l) => l.trim().split(/\s+/).map(Number));
      // Volumes 1–3 are the orthogonal directions (x, y, z).
      const keep = [0, 1, 2, 3];
      for (const v of keep.slice(1)) assert.ok(Math.max(...rows.map((r) => Math.abs(r[v]))) > 0.999, `volume ${v} is along an axis`);
      const full = await readSeries(f.dwi);
      const [nx, ny, nz] = full.shape;
      const nvox = nx * ny * nz;
      const data = new Float32Array(nvox * keep.length);
      keep.forEach((v, k) => data.set(full.data.subarray(v * nvox, (v + 1) * nvox), k * nvox));
      cut = { dwi: path.join(dir, 'trace', 'dwi.nii.gz'), bval: path.join(dir, 'trace', 'dwi.bval'), bvec: path.join(dir, 'trace', 'dwi.bvec') };
      await fs.mkdir(path.dirname(cut.dwi), { recursive: true });
      await writeSeries(cut.dwi, full.header, [nx, ny, nz, keep.length], data);
      await fs.writeFile(cut.bval, keep.map((v) => bvals[v]).join(' ') + '\n');
      await fs.writeFile(cut.bvec, rows.map((r) => keep.map((v) => r[v]).join(' ')).join('\n') + '\n');
    });

    it('yields T2w, ADC and TRACE, no FA (with the reason), and a TRACE that matches the scanner trace image', async () => {
      const r = await deriveDwi(cut.dwi, cut.bval, cut.bvec, path.join(dir, 'trace', 'out'), { workDir: path.join(dir, 'trace', 'work') });
      assert.equal(r.model, 'trace');
      assert.deepEqual(r.maps.map((m) => m.modality), ['T2w', 'ADC', 'TRACE']);
      assert.equal(r.files.fa, undefined);
      assert.deepEqual(r.notDerived.map((n) => n.modality), ['FA', 'MD']);
      assert.match(r.notDerived[0].reason, /3 distinct direction/);
      assert.deepEqual(r.gradients.shellsUsed, [2000]);
      const trace = r.maps.find((m) => m.modality === 'TRACE')!;
      assert.equal(trace.directions, 3);
      assert.match(trace.method, /geometric mean/);
      assert.ok(!r.warnings.some((w) => w.startsWith('trace_anisotropic_directions')), 'orthogonal directions are isotropic');
      const mask = (await readNifti(r.files.brainMask.path)).data;
      const adc = (await readNifti(r.files.adc.path)).data;
      const inside: number[] = [];
      for (let i = 0; i < mask.length; i++) if (mask[i]) inside.push(adc[i]);
      const md = median(inside);
      assert.ok(md > 0.4e-3 && md < 1.6e-3, `median ADC ${md} mm²/s`);
      // The scanner's isotropic image (same grid).
      const scanner = await readNifti(path.join(IMAGES, B2000, 'trace_b2000.nii.gz'));
      const ours = (await readNifti(r.files.trace!.path)).data;
      assert.equal(scanner.data.length, ours.length);
      const rTrace = correlation(ours, scanner.data, mask);
      // And the tensor series' MD against the trace ADC (same subject, same shell).
      const tensor = results.get(B2000);
      const rAdc = tensor ? correlation(adc, (await readNifti(tensor.files.adc.path)).data, mask) : NaN;
      console.log(`      TRACE vs scanner trace: r ${rTrace.toFixed(4)} (${inside.length} voxels); trace ADC vs 15-direction tensor MD: r ${rAdc.toFixed(4)}`);
      assert.ok(rTrace >= 0.9, `TRACE correlation with the scanner trace ${rTrace}`);
    });

    it('without preprocessing, TRACE is the scanner\'s isotropic image (geometric mean of the 3 orthogonal volumes)', async () => {
      const r = await deriveDwi(cut.dwi, cut.bval, cut.bvec, path.join(dir, 'trace', 'raw'), { steps: ['tensor'] });
      assert.deepEqual(r.params.skipSteps, ['denoise', 'gibbs', 'register', 'biasfield']);
      const mask = (await readNifti(r.files.brainMask.path)).data;
      const scanner = (await readNifti(path.join(IMAGES, B2000, 'trace_b2000.nii.gz'))).data;
      const rTrace = correlation((await readNifti(r.files.trace!.path)).data, scanner, mask);
      console.log(`      TRACE (no preprocessing) vs scanner trace: r ${rTrace.toFixed(4)}`);
      assert.ok(rTrace >= 0.99, `TRACE correlation with the scanner trace ${rTrace}`);
    });
  });
});
