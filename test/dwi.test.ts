import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNifti, writeNifti, affineOf } from '../lib/nifti/index.js';
import {
  applyMotion,
  classicalBrainMask,
  deriveDwi,
  DwiInputError,
  eigenSymmetric3,
  estimateMotion,
  fitTensor,
  marchenkoPasturCutoff,
  mppcaDenoise,
  n4BiasField,
  removeGibbs,
  resolveSkippedSteps,
  tensorMetrics,
  validateDwiGradients,
  type DeriveDwiResult,
  type DwiInputReason,
} from '../lib/dwi/index.js';
import { SymmetricEigen } from '../lib/dwi/eigen.js';
import { KERNELS_WASM_SHA256 } from '../lib/dwi/wasm/kernels.wasm.js';
import { BatchFft, Fft } from '../lib/dwi/fft.js';
import { parseBvec } from '../lib/dwi/gradients.js';
import { parallelDenoise, parallelFitTensor, parallelGibbs } from '../lib/dwi/parallel.js';
import { gibbsParams } from '../lib/dwi/gibbs.js';
import { runDwi } from '../cli/commands/dwi.js';
import { readGradientTable, simulateDwi, tissueAt, writeSimulatedDwi, type Vec3 } from './helpers/dwi-sim.js';
import { correlation, hasMrtrix, median, mrtrix } from './helpers/mrtrix.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.OPENMIND_SHARED ?? path.resolve(repoRoot, '../shared');
const PHILIPS = path.join(shared, 'images/dwi_philips');
const DIPY = path.join(shared, 'images/dipy');

/** ‖a - b‖ / ‖b‖ over the voxels of `mask` (all volumes of a volume-major series). */
function relativeRms(a: Float32Array, b: Float32Array, mask: Uint8Array): number {
  const nvox = mask.length;
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    if (!mask[i % nvox]) continue;
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Head mask of a series for comparisons: mean over volumes above 10% of its maximum. */
function signalMask(data: Float32Array, nvox: number): Uint8Array {
  const mean = new Float64Array(nvox);
  const nv = data.length / nvox;
  for (let i = 0; i < data.length; i++) mean[i % nvox] += data[i] / nv;
  let max = 0;
  for (const v of mean) max = Math.max(max, v);
  return Uint8Array.from(mean, (v) => (v > 0.1 * max ? 1 : 0));
}

/** The largest |A·u − λ·u| over the eigenpairs of a decomposed n×n matrix (each u from the eigenbasis). */
function largestEigenpairResidual(eig: SymmetricEigen, a: Float64Array): number {
  const n = eig.values.length;
  let largest = 0;
  for (let k = 0; k < n; k++) {
    const u = new Float64Array(n);
    u[k] = 1;
    eig.fromEigenbasis(u);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += a[r * n + c] * u[c];
      largest = Math.max(largest, Math.abs(s - eig.values[k] * u[r]));
    }
  }
  return largest;
}

async function tempDir(name: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `dwi-${name}-`));
}

describe('DWI derivation', function () {
  this.timeout(240_000);

  describe('numerics', () => {
    it('decomposes symmetric matrices (eigenbasis round trip, A·u = λ·u)', () => {
      let seed = 3;
      const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
      // Sizes around the kernel's 4- and 2-lane steps; `blocks` zeroes the coupling between the
      // first half and the rest, so some columns are already reduced (β = 0).
      for (const [n, blocks] of [[1, false], [2, false], [3, false], [6, false], [17, false], [17, true], [65, false], [66, true]] as const) {
        const eig = new SymmetricEigen(n);
        const a = new Float64Array(n * n);
        const half = Math.floor(n / 2);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j <= i; j++) {
            const coupled = !blocks || (i < half) === (j < half);
            a[i * n + j] = a[j * n + i] = coupled ? rnd() + (i < 3 && j < 3 ? 4 : 0) : 0;
          }
        }
        eig.a.set(a);
        eig.decompose(true);
        const residual = largestEigenpairResidual(eig, a);
        assert.ok(residual < 1e-12, `n=${n}${blocks ? ' (blocks)' : ''}: |A·u − λu| = ${residual}`);
      }
      const e3 = eigenSymmetric3([2, 1, 1, 0.5, 0, 0]);
      assert.ok(Math.abs(e3.values[0] - 2.2071067811865475) < 1e-12 && Math.abs(e3.values[2] - 0.7928932188134524) < 1e-12);
    });

    it('grows the room for QR rotations mid-decomposition and resumes with the same result', () => {
      const n = 17;
      let seed = 11;
      const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rnd();
      const roomy = new SymmetricEigen(n);
      const cramped = new SymmetricEigen(n, { rotations: 5 });
      for (const eig of [roomy, cramped]) {
        eig.a.set(a);
        eig.decompose(true);
      }
      assert.deepEqual(Array.from(cramped.values), Array.from(roomy.values));
      const u = Float64Array.from({ length: n }, (_, i) => i - 3);
      const v = Float64Array.from(u);
      roomy.toEigenbasis(u);
      cramped.toEigenbasis(v);
      assert.deepEqual(Array.from(v), Array.from(u));
      roomy.fromEigenbasis(u);
      cramped.fromEigenbasis(v);
      assert.deepEqual(Array.from(v), Array.from(u));
    });

    it('runs the WebAssembly kernels built from their committed source', async () => {
      const source = await fs.readFile(new URL('../lib/dwi/wasm/kernels.c', import.meta.url));
      const sha256 = createHash('sha256').update(source).digest('hex');
      assert.equal(sha256, KERNELS_WASM_SHA256, 'kernels.c changed: run lib/dwi/wasm/build.sh');
    });

    it('deflates below a share of the norm: fewer rotations, eigenpairs within that share', () => {
      const n = 17;
      let seed = 5;
      const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
      // A Gram-like spectrum: a few large components over many small ones, as in MP-PCA windows.
      const x = Float64Array.from({ length: n * 60 }, (_, i) => rnd() * (i % n < 3 ? 1000 : 1));
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < 60; k++) a[i * n + j] += x[k * n + i] * x[k * n + j];
      const rotations = (eig: SymmetricEigen) => (eig as unknown as { rotCount: number }).rotCount;
      const exact = new SymmetricEigen(n);
      const loose = new SymmetricEigen(n, { deflation: 1e-10 });
      exact.a.set(a);
      loose.a.set(a);
      exact.decompose(true);
      loose.decompose(true);
      assert.ok(rotations(loose) < rotations(exact), `${rotations(loose)} vs ${rotations(exact)} rotations`);
      let norm = 0;
      for (let r = 0; r < n; r++) norm = Math.max(norm, a.slice(r * n, r * n + n).reduce((s, v) => s + Math.abs(v), 0));
      const residual = largestEigenpairResidual(loose, a);
      assert.ok(residual < 1e-9 * norm, `|A·u − λu| = ${residual}, norm ${norm}`);
    });

    it('computes FFTs of mixed-radix lengths', () => {
      for (const n of [6, 7, 12, 35, 80, 96, 112, 125, 143]) {
        const re = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) + i / n);
        const im = Float64Array.from({ length: n }, (_, i) => Math.cos(i * 0.3));
        const [r0, i0] = [re.slice(), im.slice()];
        new Fft(n).forward(re, im);
        for (const k of [0, 1, n >> 1, n - 1]) {
          let sr = 0, si = 0;
          for (let t = 0; t < n; t++) {
            const a = (-2 * Math.PI * k * t) / n;
            sr += r0[t] * Math.cos(a) - i0[t] * Math.sin(a);
            si += r0[t] * Math.sin(a) + i0[t] * Math.cos(a);
          }
          assert.ok(Math.abs(sr - re[k]) < 1e-9 && Math.abs(si - im[k]) < 1e-9, `n=${n} k=${k}`);
        }
      }
    });

    it('batched inverse FFTs of a modulated spectrum equal the plain inverse of each product', () => {
      const batch = 5;
      // 90 and 75 start with radix 2 and 3 (the modulation in its own pass); 22 has a generic radix-11 stage.
      for (const n of [64, 80, 90, 112, 75, 22]) {
        const zRe = Float64Array.from({ length: n }, (_, k) => Math.sin(k * 0.9));
        const zIm = Float64Array.from({ length: n }, (_, k) => Math.cos(k * 1.3) - 0.5);
        const modRe = Float64Array.from({ length: n * batch }, (_, e) => Math.cos(e * 0.37));
        const modIm = Float64Array.from({ length: n * batch }, (_, e) => Math.sin(e * 0.11));
        const fft = new BatchFft(n, batch);
        fft.setModulation(modRe, modIm);
        const [re, im] = fft.inverseModulated(zRe, zIm);
        for (let b = 0; b < batch; b++) {
          const pr = new Float64Array(n), pi = new Float64Array(n);
          for (let k = 0; k < n; k++) {
            const cr = modRe[k * batch + b], ci = modIm[k * batch + b];
            pr[k] = zRe[k] * cr - zIm[k] * ci;
            pi[k] = zRe[k] * ci + zIm[k] * cr;
          }
          new Fft(n).inverse(pr, pi);
          for (let t = 0; t < n; t++) assert.ok(Math.abs(re[t * batch + b] - pr[t]) < 1e-10 && Math.abs(im[t * batch + b] - pi[t]) < 1e-10, `n=${n} b=${b} t=${t}`);
        }
      }
    });

    it('finds the Marchenko–Pastur cutoff of a pure-noise spectrum', () => {
      // Eigenvalues of XXᵀ for X 20×200 of unit-variance noise: all noise, σ² ≈ 1.
      const m = 20, n = 200;
      let seed = 11;
      const gauss = () => {
        const u = (seed = (seed * 16807) % 2147483647) / 2147483647;
        const v = (seed = (seed * 16807) % 2147483647) / 2147483647;
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      };
      const x = Float64Array.from({ length: m * n }, gauss);
      const eig = new SymmetricEigen(m);
      for (let i = 0; i < m; i++) for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += x[i * n + k] * x[j * n + k];
        eig.a[i * m + j] = s;
      }
      eig.decompose(false);
      const sorted = Float64Array.from(eig.values).sort();
      const out = { sigma2: 0 };
      const noise = marchenkoPasturCutoff(sorted, m, n, 'cordero-grande', out);
      assert.ok(noise >= m - 1, `noise components ${noise}`);
      assert.ok(Math.abs(out.sigma2 - 1) < 0.1, `σ² ${out.sigma2}`);
    });
  });

  describe('gradient tables and bad input', () => {
    let dir: string;
    const shape: [number, number, number] = [8, 8, 4];
    const goodBvals = [0, 1000, 1000, 1000, 1000, 1000, 1000, 0];
    const goodBvecs: Vec3[] = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.7071, 0.7071, 0], [0.7071, 0, 0.7071], [0, 0.7071, 0.7071], [0, 0, 0]];

    async function series(name: string, volumes: number, fill: (i: number) => number = (i) => 100 + (i % 7)): Promise<string> {
      const file = path.join(dir, `${name}.nii.gz`);
      const n = shape[0] * shape[1] * shape[2] * volumes;
      await writeNifti(file, { dims: volumes > 1 ? [...shape, volumes] : shape }, Float32Array.from({ length: n }, (_, i) => fill(i)));
      return file;
    }
    async function table(name: string, bvals: number[], bvecs: number[][]): Promise<[string, string]> {
      const bval = path.join(dir, `${name}.bval`), bvec = path.join(dir, `${name}.bvec`);
      await fs.writeFile(bval, bvals.join(' ') + '\n');
      await fs.writeFile(bvec, [0, 1, 2].map((k) => bvecs.map((g) => g[k]).join(' ')).join('\n') + '\n');
      return [bval, bvec];
    }
    async function expectReason(reason: DwiInputReason, dwi: string, bval: string, bvec: string): Promise<void> {
      await assert.rejects(deriveDwi(dwi, bval, bvec, path.join(dir, 'out')), (err: unknown) => {
        assert.ok(err instanceof DwiInputError, `expected DwiInputError, got ${err}`);
        assert.equal(err.reason, reason);
        return true;
      });
    }

    before(async () => {
      dir = await tempDir('bad');
    });
    after(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    it('gradient_count_mismatch: .bval/.bvec counts differ from the 4th dimension', async () => {
      const [bval, bvec] = await table('short', goodBvals.slice(0, 7), goodBvecs.slice(0, 7));
      await expectReason('gradient_count_mismatch', await series('eight', 8), bval, bvec);
    });

    it('fewer than 6 distinct directions (antipodes count once): no tensor, trace maps and the reason', async () => {
      const bvecs = goodBvecs.map((g, i) => (i === 6 ? ([-1, 0, 0] as Vec3) : g));
      const checked = validateDwiGradients(goodBvals, bvecs, 8);
      assert.equal(checked.model, 'trace');
      assert.equal(checked.directions, 5);
      assert.match(checked.noTensorReason ?? '', /5 distinct direction/);
      // 5 directions (x twice) are not spread isotropically: the direction average is orientation-dependent.
      assert.ok(checked.warnings.some((w) => w.startsWith('trace_anisotropic_directions')));
      const [bval, bvec] = await table('five', goodBvals, bvecs);
      const r = await deriveDwi(await series('eight', 8), bval, bvec, path.join(dir, 'five-out'));
      assert.deepEqual(r.maps.map((m) => m.modality), ['T2w', 'ADC', 'TRACE']);
      assert.deepEqual(r.notDerived.map((n) => n.modality), ['FA', 'MD']);
    });

    it('chooses the shell: b ≤ 1500 when it holds 6 directions, else the lowest shell that does (tensor_high_b)', () => {
      const six: Vec3[] = goodBvecs.slice(1, 7);
      const three: Vec3[] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
      // b0 + b1000 × 3 + b2000 × 6 + b3000 × 6: the tensor on b2000 only.
      const bvals = [0, ...three.map(() => 1000), ...six.map(() => 2000), ...six.map(() => 3000)];
      const bvecs = [[0, 0, 0], ...three, ...six, ...six];
      const high = validateDwiGradients(bvals, bvecs, bvals.length);
      assert.equal(high.model, 'tensor');
      assert.deepEqual(high.shellsUsed, [2000]);
      assert.deepEqual(high.dwVolumes, [4, 5, 6, 7, 8, 9]);
      assert.deepEqual(high.fitVolumes, [0, 4, 5, 6, 7, 8, 9]);
      assert.ok(high.warnings.some((w) => w.startsWith('tensor_high_b')));
      // b0 + b1000 × 6: as before, no warning.
      const low = validateDwiGradients(goodBvals, goodBvecs, 8);
      assert.deepEqual([low.model, low.shellsUsed, low.warnings], ['tensor', [1000], []]);
      // Clinical trace: b0 + b1000 × 3 orthogonal.
      const trace = validateDwiGradients([0, 1000, 1000, 1000], [[0, 0, 0], ...three], 4);
      assert.deepEqual([trace.model, trace.shellsUsed, trace.directions, trace.warnings], ['trace', [1000], 3, []]);
    });

    it('steps: the steps to run (brainmask and tensor always run); unknown names are refused', () => {
      assert.deepEqual(resolveSkippedSteps(['denoise', 'gibbs', 'tensor']), ['register', 'biasfield']);
      assert.deepEqual(resolveSkippedSteps(['tensor'], ['denoise']), ['denoise', 'gibbs', 'register', 'biasfield']);
      assert.deepEqual(resolveSkippedSteps(undefined, ['gibbs']), ['gibbs']);
      assert.throws(() => resolveSkippedSteps(['denoise', 'fit']), RangeError);
      assert.throws(() => resolveSkippedSteps(undefined, ['tensor']), RangeError);
    });

    it('no_diffusion_weighting: only b0 volumes', async () => {
      const [bval, bvec] = await table('allb0', goodBvals.map(() => 0), goodBvecs.map(() => [0, 0, 0]));
      await expectReason('no_diffusion_weighting', await series('eight', 8), bval, bvec);
    });

    it('no_b0: no volume with b ≤ 50', async () => {
      const [bval, bvec] = await table('nob0', goodBvals.map(() => 1000), goodBvecs.map((g) => (g[0] || g[1] || g[2] ? g : [1, 0, 0])));
      await expectReason('no_b0', await series('eight', 8), bval, bvec);
    });

    it('single_volume: a 3D "DWI"', async () => {
      const [bval, bvec] = await table('one', [0], [[0, 0, 0]]);
      await expectReason('single_volume', await series('three-d', 1), bval, bvec);
    });

    it('non_finite: NaN voxels, and NaN b-values', async () => {
      const [bval, bvec] = await table('good', goodBvals, goodBvecs);
      await expectReason('non_finite', await series('nan', 8, (i) => (i === 77 ? NaN : 100)), bval, bvec);
      const [nanBval] = await table('nanb', goodBvals.map((b, i) => (i === 3 ? NaN : b)), goodBvecs);
      await expectReason('non_finite', await series('eight', 8), nanBval, bvec);
    });

    it('non_unit_bvec: a diffusion direction of length 0.5; near-unit ones are normalised with a warning', async () => {
      const [bval, bvec] = await table('half', goodBvals, goodBvecs.map((g, i) => (i === 2 ? [0, 0.5, 0] : g)));
      await expectReason('non_unit_bvec', await series('eight', 8), bval, bvec);
      const checked = validateDwiGradients(goodBvals, goodBvecs.map((g, i) => (i === 2 ? [0, 1.02, 0] : g)), 8);
      assert.equal(checked.warnings.length, 1);
      assert.deepEqual(checked.bvecs[2], [0, 1, 0]);
    });

    it('bvals_si_units: b-values in s/m²', async () => {
      const [bval, bvec] = await table('si', goodBvals.map((b) => b * 1e6), goodBvecs);
      await expectReason('bvals_si_units', await series('eight', 8), bval, bvec);
    });

    it('accepts NaN or zero vectors on b0 rows (dipy N×3 table with a NaN first row)', async () => {
      const bvals = (await fs.readFile(path.join(DIPY, 'small_64D.bval'), 'utf8')).trim().split(/\s+/).map(Number);
      const rows = parseBvec(await fs.readFile(path.join(DIPY, 'small_64D.bvec'), 'utf8'), bvals.length);
      assert.ok(rows[0].every((c) => Number.isNaN(c)));
      const checked = validateDwiGradients(bvals, rows, 65);
      assert.deepEqual(checked.b0, [0]);
      assert.deepEqual(checked.shellsUsed, [1000]);
      assert.equal(checked.directions, 64);
    });

    it('uses only the b ≤ 1500 shells of a multi-shell series for the tensor', async () => {
      const bvals = (await fs.readFile(path.join(DIPY, 'small_101D.bval'), 'utf8')).trim().split(/\s+/).map(Number);
      const rows = parseBvec(await fs.readFile(path.join(DIPY, 'small_101D.bvec'), 'utf8'), bvals.length);
      const checked = validateDwiGradients(bvals, rows, bvals.length);
      assert.ok(checked.shells.some((b) => b > 1500));
      assert.ok(checked.shellsUsed.length > 0 && checked.shellsUsed.every((b) => b <= 1500));
      assert.ok(checked.fitVolumes.every((v) => bvals[v] <= 1600));
      assert.ok(checked.fitVolumes.length < bvals.length);
    });
  });

  describe('against MRtrix3 3.0.3 on real data', function () {
    let dir: string;
    before(async function () {
      if (!hasMrtrix()) {
        console.log('      (MRtrix3 not installed: `apt-get install -y mrtrix3` to run these comparisons)');
        this.skip();
      }
      dir = await tempDir('mrtrix');
    });
    after(async () => {
      if (dir) await fs.rm(dir, { recursive: true, force: true });
    });

    async function compareDenoise(input: string, label: string): Promise<void> {
      const ref = path.join(dir, `${label}_dn.nii`), refNoise = path.join(dir, `${label}_noise.nii`);
      // dwidenoise defaults in 3.0.3: Exp2 (Cordero-Grande) estimator, smallest odd cube window with ≥ volumes voxels.
      mrtrix('dwidenoise', [input, ref, '-noise', refNoise]);
      const img = await readNifti(input);
      const data = img.data.slice();
      const result = mppcaDenoise(data, img.shape);
      const nvox = img.shape[0] * img.shape[1] * img.shape[2];
      const mask = signalMask(img.data, nvox);
      const dn = relativeRms(data, (await readNifti(ref)).data, mask);
      const noise = relativeRms(result.noiseMap, (await readNifti(refNoise)).data, mask);
      console.log(`      ${label}: window ${result.extent.join('x')}, denoised rel. RMS ${(dn * 100).toFixed(4)}%, noise map ${(noise * 100).toFixed(4)}%`);
      assert.ok(dn < 0.01, `denoised signal differs by ${(dn * 100).toFixed(3)}%`);
      assert.ok(noise < 0.05, `noise map differs by ${(noise * 100).toFixed(3)}%`);
    }

    it('MP-PCA denoising matches dwidenoise (Philips, 17 volumes, 3×3×3 window)', async () => {
      await compareDenoise(path.join(PHILIPS, 'dwi.nii.gz'), 'philips');
    });

    it('MP-PCA denoising matches dwidenoise (dipy 65 and 102 volumes, 5×5×5 window, windows shifted at borders)', async () => {
      await compareDenoise(path.join(DIPY, 'small_64D.nii'), 'dipy64');
      await compareDenoise(path.join(DIPY, 'small_101D.nii.gz'), 'dipy101');
    });

    it('Gibbs removal of the b0 matches mrdegibbs', async () => {
      const b0 = path.join(dir, 'b0.nii'), ref = path.join(dir, 'b0_gibbs.nii');
      mrtrix('mrconvert', [path.join(PHILIPS, 'dwi.nii.gz'), '-coord', '3', '0', '-axes', '0,1,2', b0]);
      mrtrix('mrdegibbs', [b0, ref]);
      const img = await readNifti(b0);
      const data = img.data.slice();
      removeGibbs(data, img.shape);
      const refData = (await readNifti(ref)).data;
      const all = new Uint8Array(data.length).fill(1);
      const rel = relativeRms(data, refData, all);
      const change = relativeRms(img.data, refData, all);
      console.log(`      b0: rel. RMS to mrdegibbs ${(rel * 100).toFixed(3)}% (mrdegibbs changed the image by ${(change * 100).toFixed(2)}%)`);
      assert.ok(rel < 0.01, `Gibbs-corrected b0 differs by ${(rel * 100).toFixed(3)}%`);
    });

    describe('whole pipeline on the Philips series', () => {
      let work: string, out: string;
      let first: DeriveDwiResult;
      before(async () => {
        work = path.join(dir, 'work');
        out = path.join(dir, 'out');
        first = await deriveDwi(path.join(PHILIPS, 'dwi.nii.gz'), path.join(PHILIPS, 'dwi.bval'), path.join(PHILIPS, 'dwi.bvec'), out, { workDir: work });
      });

      it('writes the maps in the series geometry', async () => {
        const input = await readNifti(path.join(PHILIPS, 'dwi.nii.gz'));
        for (const ref of Object.values(first.files)) {
          const img = await readNifti(ref.path);
          assert.deepEqual(img.shape, input.shape.slice(0, 3));
          assert.deepEqual(affineOf(img.header), affineOf(input.header));
        }
        assert.equal(first.gradients.volumes, 17);
        assert.equal(first.gradients.b0Count, 5);
        assert.deepEqual(first.gradients.shellsUsed, [1000]);
        assert.equal(first.motion.length, 17);
        assert.ok(first.noiseLevel > 0);
        assert.equal(first.brainExtraction, 'classical');
        const adc = (await readNifti(first.files.adc.path)).data;
        const mask = (await readNifti(first.files.brainMask.path)).data;
        const inside: number[] = [];
        for (let i = 0; i < mask.length; i++) if (mask[i]) inside.push(adc[i]);
        const md = median(inside);
        assert.ok(md > 0.5e-3 && md < 1.5e-3, `median ADC ${md} mm²/s`);
      });

      it('FA and ADC agree with dwi2tensor + tensor2metric on the same preprocessed input', async () => {
        // Preprocessed series = registered series (or the Gibbs-corrected one where registration was not
        // kept) / bias field; rotated directions from the step record.
        const record = JSON.parse(await fs.readFile(path.join(work, 'tensor.json'), 'utf8'));
        const registered = await readNifti(record.state.series.path);
        const field = (await readNifti(path.join(work, 'biasfield.nii.gz'))).data;
        const nvox = field.length;
        const pre = registered.data;
        for (let i = 0; i < pre.length; i++) pre[i] /= field[i % nvox];
        const preFile = path.join(dir, 'pre.nii');
        await writeNifti(preFile, registered.header, pre);
        const a = affineOf(registered.header);
        const det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
        const fsl = (record.state.bvecsVoxel as number[][]).map((g) => [det > 0 ? -g[0] : g[0], g[1], g[2]]);
        const bvec = path.join(dir, 'pre.bvec');
        await fs.writeFile(bvec, [0, 1, 2].map((k) => fsl.map((g) => g[k]).join(' ')).join('\n') + '\n');
        const dt = path.join(dir, 'dt.nii'), faRef = path.join(dir, 'fa_ref.nii'), adcRef = path.join(dir, 'adc_ref.nii');
        mrtrix('dwi2tensor', ['-fslgrad', bvec, path.join(PHILIPS, 'dwi.bval'), '-mask', first.files.brainMask.path, preFile, dt]);
        mrtrix('tensor2metric', [dt, '-fa', faRef, '-adc', adcRef]);
        const mask = Uint8Array.from((await readNifti(first.files.brainMask.path)).data);
        const fa = (await readNifti(first.files.fa!.path)).data, faR = (await readNifti(faRef)).data;
        const adc = (await readNifti(first.files.adc.path)).data, adcR = (await readNifti(adcRef)).data;
        const r = correlation(fa, faR, mask);
        const rel: number[] = [];
        for (let i = 0; i < nvox; i++) if (mask[i] && adcR[i] !== 0) rel.push(Math.abs(adc[i] - adcR[i]) / Math.abs(adcR[i]));
        const mrel = median(rel);
        console.log(`      FA correlation ${r.toFixed(5)}, median relative ADC difference ${(mrel * 100).toExponential(2)}% (${rel.length} voxels)`);
        assert.ok(r >= 0.99, `FA correlation ${r}`);
        assert.ok(mrel <= 0.02, `median relative ADC difference ${mrel}`);
      });

      it('a rerun skips every step by content hash', async () => {
        const again = await deriveDwi(path.join(PHILIPS, 'dwi.nii.gz'), path.join(PHILIPS, 'dwi.bval'), path.join(PHILIPS, 'dwi.bvec'), out, { workDir: work });
        assert.deepEqual(again.stepsSkipped, ['denoise', 'gibbs', 'register', 'biasfield', 'brainmask', 'tensor']);
        assert.deepEqual(again.files, first.files);
        assert.deepEqual(again.motion, first.motion);
      });

      it('a changed option reruns only the steps after the last unchanged one', async () => {
        const steps: string[] = [];
        const partial = await deriveDwi(path.join(PHILIPS, 'dwi.nii.gz'), path.join(PHILIPS, 'dwi.bval'), path.join(PHILIPS, 'dwi.bvec'), path.join(dir, 'out2'), {
          workDir: work,
          skipSteps: ['biasfield'],
          onProgress: (step) => { if (!steps.includes(step)) steps.push(step); },
        });
        assert.deepEqual(partial.stepsSkipped, ['denoise', 'gibbs', 'register']);
        assert.deepEqual(steps, ['load', 'biasfield', 'brainmask', 'tensor', 'write']);
        assert.deepEqual(partial.motion, first.motion);
      });
    });
  });

  describe('synthetic ground truth', () => {
    let dir: string;
    let dipy: { bvals: number[]; bvecs: Vec3[] };
    before(async () => {
      dir = await tempDir('sim');
      dipy = await readGradientTable(path.join(DIPY, 'small_64D.bval'), path.join(DIPY, 'small_64D.bvec'), true);
    });
    after(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    it('recovers FA within 0.03 RMSE and ADC within 3% (64 directions, Rician noise, whole pipeline)', async () => {
      const shape: Vec3 = [36, 36, 22];
      const voxel: Vec3 = [2.5, 2.5, 2.5];
      const sim = simulateDwi({ shape, voxelSize: voxel, bvals: dipy.bvals, bvecs: dipy.bvecs, snr: 30, seed: 3 });
      // Ground truth: the tensor of the noise-free signal (exact in pure voxels; defined in partial-volume ones too).
      const clean = simulateDwi({ shape, voxelSize: voxel, bvals: dipy.bvals, bvecs: dipy.bvecs, snr: Infinity });
      const all = new Uint8Array(shape[0] * shape[1] * shape[2]).fill(1);
      const truth = tensorMetrics(fitTensor(clean.data, clean.shape, dipy.bvals, dipy.bvecs, dipy.bvals.map((_, i) => i), all).tensor);
      const files = await writeSimulatedDwi(path.join(dir, 'fa'), sim, { positiveDeterminant: true });
      const result = await deriveDwi(files.dwi, files.bval, files.bvec, path.join(dir, 'fa-out'));
      const fa = (await readNifti(result.files.fa!.path)).data, adc = (await readNifti(result.files.adc.path)).data;
      const mask = (await readNifti(result.files.brainMask.path)).data;
      let se = 0, n = 0;
      const rel: number[] = [];
      let dice = 0, inMask = 0, inBrain = 0;
      for (let i = 0; i < fa.length; i++) {
        inMask += mask[i] ? 1 : 0;
        inBrain += sim.truth.brain[i];
        if (mask[i] && sim.truth.brain[i]) dice++;
        const label = sim.truth.label[i];
        if (!mask[i] || (label !== 3 && label !== 4)) continue; // grey and white matter
        se += (fa[i] - truth.fa[i]) ** 2;
        n++;
        rel.push(Math.abs(adc[i] - truth.adc[i]) / truth.adc[i]);
      }
      const rmse = Math.sqrt(se / n);
      dice = (2 * dice) / (inMask + inBrain);
      console.log(`      FA RMSE ${rmse.toFixed(4)} over ${n} voxels, median relative ADC error ${(median(rel) * 100).toFixed(2)}%, mask Dice ${dice.toFixed(3)}`);
      assert.ok(rmse <= 0.03, `FA RMSE ${rmse}`);
      assert.ok(median(rel) <= 0.03);
      assert.ok(dice > 0.9, `brain mask Dice ${dice}`);
    });

    it('recovers a known rigid motion within 0.5 mm and 0.5°', () => {
      const motion: ([number, number, number, number, number, number] | undefined)[] = dipy.bvals.map(() => undefined);
      motion[5] = [1.2, -0.8, 0.6, 2, -1.5, 1];
      motion[20] = [-1.5, 0.5, 1, -1, 2, -2];
      motion[33] = [0.7, 0.7, -0.9, 1.5, 1, 0.5];
      motion[50] = [0, 0, 1.5, 0, 0, 0];
      const sim = simulateDwi({ shape: [44, 44, 26], voxelSize: [2, 2, 2.5], bvals: dipy.bvals, bvecs: dipy.bvecs, snr: 30, motion, seed: 5 });
      const estimate = estimateMotion(sim.data, sim.shape, sim.voxelSize, { referenceVolumes: [0], bvals: dipy.bvals, bvecs: dipy.bvecs });
      let worstMm = 0, worstDeg = 0;
      estimate.params.forEach((p, v) => {
        const truth = motion[v] ?? [0, 0, 0, 0, 0, 0];
        for (let i = 0; i < 3; i++) worstMm = Math.max(worstMm, Math.abs(p[i] - truth[i]));
        for (let i = 3; i < 6; i++) worstDeg = Math.max(worstDeg, Math.abs(p[i] - truth[i]));
      });
      console.log(`      worst error over 65 volumes: ${worstMm.toFixed(3)} mm, ${worstDeg.toFixed(3)}°`);
      assert.ok(worstMm <= 0.5 && worstDeg <= 0.5, `${worstMm} mm, ${worstDeg}°`);
      // Resampling with the estimate brings the moved volume back onto the reference.
      const nvox = 44 * 44 * 26;
      const before = sim.data.slice(50 * nvox, 51 * nvox);
      applyMotion(sim.data, sim.shape, sim.voxelSize, estimate.params);
      const still = simulateDwi({ shape: [44, 44, 26], voxelSize: [2, 2, 2.5], bvals: [dipy.bvals[50]], bvecs: [dipy.bvecs[50]], snr: Infinity });
      const headMask = signalMask(still.data, nvox);
      assert.ok(relativeRms(sim.data.subarray(50 * nvox, 51 * nvox), still.data, headMask) < 0.5 * relativeRms(before, still.data, headMask));
    });

    it('estimates a smooth bias field (N4-type) on a b0', () => {
      const shape: Vec3 = [48, 48, 24];
      const voxel: Vec3 = [2, 2, 3];
      const ext = [48, 48, 36];
      const field = (p: Vec3) => Math.exp(0.25 * (p[0] / ext[0]) * 2 - 0.2 * ((p[1] / ext[1]) * 2) ** 2 + 0.1 * (p[2] / ext[2]));
      const sim = simulateDwi({ shape, voxelSize: voxel, bvals: [0], bvecs: [[0, 0, 0]], snr: 40, bias: field });
      const result = n4BiasField(sim.data, shape);
      const nvox = sim.data.length;
      const truth = new Float32Array(nvox);
      for (let z = 0; z < shape[2]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++) {
        truth[(z * shape[1] + y) * shape[0] + x] = field([(x - 23.5) * 2, (y - 23.5) * 2, (z - 11.5) * 3]);
      }
      const brain = sim.truth.brain;
      const logEst = Float64Array.from(result.field, Math.log), logTruth = Float64Array.from(truth, Math.log);
      const r = correlation(logEst, logTruth, brain);
      // White matter should become flatter after correction.
      const cv = (values: number[]) => {
        const m = values.reduce((a, b) => a + b, 0) / values.length;
        return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length) / m;
      };
      const wm: number[] = [], wmCorrected: number[] = [];
      for (let i = 0; i < nvox; i++) if (sim.truth.label[i] === 4 && sim.truth.pure[i]) { wm.push(sim.data[i]); wmCorrected.push(sim.data[i] / result.field[i]); }
      console.log(`      log-field correlation ${r.toFixed(3)}, white-matter CV ${cv(wm).toFixed(3)} → ${cv(wmCorrected).toFixed(3)}`);
      // The phantom's own smooth texture is indistinguishable from a field, hence no tighter bound.
      assert.ok(r > 0.8, `field correlation ${r}`);
      assert.ok(cv(wmCorrected) < 0.5 * cv(wm));
    });

    it('classical brain mask separates the brain from the scalp', () => {
      const shape: Vec3 = [40, 40, 24];
      const sim = simulateDwi({ shape, voxelSize: [2.5, 2.5, 2.5], bvals: [0], bvecs: [[0, 0, 0]], snr: 30 });
      const mask = classicalBrainMask(sim.data, shape, [2.5, 2.5, 2.5]);
      let both = 0, a = 0, b = 0, scalp = 0;
      for (let i = 0; i < mask.length; i++) {
        a += mask[i]; b += sim.truth.brain[i];
        if (mask[i] && sim.truth.brain[i]) both++;
        if (mask[i] && sim.truth.label[i] === 1) scalp++;
      }
      const dice = (2 * both) / (a + b);
      assert.ok(dice > 0.9, `Dice ${dice}`);
      assert.ok(scalp < 0.02 * a, `${scalp} scalp voxels in the mask`);
      assert.ok(tissueAt([0, 0, 0], [50, 50, 30], 1).label >= 3);
    });

    describe('options', () => {
      let files: { dwi: string; bval: string; bvec: string };
      const shape: Vec3 = [24, 24, 12];
      const skipAll = ['denoise', 'gibbs', 'register', 'biasfield'];
      before(async () => {
        const philips = await readGradientTable(path.join(PHILIPS, 'dwi.bval'), path.join(PHILIPS, 'dwi.bvec'), false);
        const sim = simulateDwi({ shape, voxelSize: [3, 3, 3], bvals: philips.bvals, bvecs: philips.bvecs, snr: 40 });
        files = await writeSimulatedDwi(path.join(dir, 'small'), sim, { positiveDeterminant: false });
      });

      it('uses the brain extractor when it returns a mask, the classical mask when it returns null', async () => {
        const nvox = shape[0] * shape[1] * shape[2];
        let seen: { shape: number[]; length: number } | undefined;
        const box = new Uint8Array(nvox);
        for (let z = 3; z < 9; z++) for (let y = 6; y < 18; y++) for (let x = 6; x < 18; x++) box[(z * 24 + y) * 24 + x] = 1;
        const network = await deriveDwi(files.dwi, files.bval, files.bvec, path.join(dir, 'net'), {
          skipSteps: skipAll,
          brainExtractor: async (b0) => { seen = { shape: b0.shape, length: b0.data.length }; return box; },
        });
        assert.deepEqual(seen, { shape: [...shape], length: nvox });
        assert.equal(network.brainExtraction, 'network');
        assert.deepEqual(Uint8Array.from((await readNifti(network.files.brainMask.path)).data), box);
        const fallback = await deriveDwi(files.dwi, files.bval, files.bvec, path.join(dir, 'net2'), { skipSteps: skipAll, brainExtractor: async () => null });
        assert.equal(fallback.brainExtraction, 'classical');
      });

      it('reports progress per step, from 0 to 1', async () => {
        const seen = new Map<string, number[]>();
        await deriveDwi(files.dwi, files.bval, files.bvec, path.join(dir, 'progress'), {
          onProgress: (step, f) => seen.set(step, [...(seen.get(step) ?? []), f]),
        });
        assert.deepEqual([...seen.keys()], ['load', 'denoise', 'gibbs', 'register', 'biasfield', 'brainmask', 'tensor', 'write']);
        for (const [step, fractions] of seen) {
          assert.equal(fractions[fractions.length - 1], 1, step);
          assert.ok(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1])), step);
        }
      });

      it('pooled worker threads give the same denoising, Gibbs removal and tensor fit as one thread, call after call', async () => {
        const img = await readNifti(files.dwi);
        const table = await readGradientTable(files.bval, files.bvec, false);
        const volumes = table.bvals.map((_, i) => i);
        const nvox = img.shape[0] * img.shape[1] * img.shape[2];
        const mask = new Uint8Array(nvox).map((_, i) => (i % 7 ? 1 : 0));
        const serial = img.data.slice();
        const serialResult = mppcaDenoise(serial, img.shape);
        removeGibbs(serial, img.shape);
        const serialFit = fitTensor(serial, img.shape, table.bvals, table.bvecs, volumes, mask);
        // Twice: the second call reuses the pool's workers.
        for (let round = 0; round < 2; round++) {
          const sharedData = new Float32Array(new SharedArrayBuffer(img.data.length * 4));
          sharedData.set(img.data);
          const parallelResult = await parallelDenoise(sharedData, img.shape, {}, 2);
          await parallelGibbs(sharedData, img.shape, gibbsParams(), 2);
          const parallelFit = await parallelFitTensor(sharedData, img.shape, table.bvals, table.bvecs, volumes, mask, 2);
          assert.deepEqual(parallelResult.noiseMap, serialResult.noiseMap);
          assert.deepEqual(Array.from(sharedData), Array.from(serial));
          assert.deepEqual(Array.from(parallelFit.tensor), Array.from(serialFit.tensor));
          assert.deepEqual(Array.from(parallelFit.s0), Array.from(serialFit.s0));
        }
      });

      it('runDwi (CLI command) writes the maps and a JSON of parameters, motion and timings', async () => {
        const out = path.join(dir, 'cli');
        const log = console.log;
        console.log = () => {};
        try {
          await runDwi(files.dwi, { bval: files.bval, bvec: files.bvec, out, json: true });
        } finally {
          console.log = log;
        }
        const names = await fs.readdir(out);
        for (const f of ['t2w.nii.gz', 'adc.nii.gz', 'fa.nii.gz', 'brain_mask.nii.gz', 'noise_map.nii.gz', 'dwi.json']) assert.ok(names.includes(f), f);
        const summary = JSON.parse(await fs.readFile(path.join(out, 'dwi.json'), 'utf8'));
        assert.equal(summary.motion.length, 17);
        assert.ok(summary.timings.denoise >= 0 && summary.params.denoise.estimator === 'cordero-grande');
      });
    });
  });
});
