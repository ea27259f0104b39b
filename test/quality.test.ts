// Quality library: IQMs on real images (and on corrupted copies of them), hand-computed EFC/FBER,
// the two-rater aggregation rule, the predicted score, the PNG codec and the QC mosaics.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNifti, voxelSizes, writeNifti } from '../lib/nifti/index.js';
import { runIqm } from '../cli/commands/iqm.js';
import {
  aggregateRatings,
  computeIqms,
  crc32,
  decodePng,
  encodePng,
  entropyFocusCriterion,
  estimateAnatomyMask,
  foregroundBackgroundEnergyRatio,
  gaussianSource,
  MASK_COLOURS,
  METRIC_DIRECTION,
  predictScanScore,
  predictTaskScore,
  QualityError,
  renderMontage,
  renderScanMosaic,
  sampleForMontage,
  seededRandom,
  writeMontage,
  writeScanMosaic,
  type IqmResult,
  type RgbImage,
} from '../lib/quality/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.OPENMIND_SHARED ?? path.resolve(repoRoot, '../shared');
const T1W = path.join(shared, 'images/t1w_head_brainchop.nii.gz');
const FLAIR = path.join(shared, 'images/flair_axial_dib2019.nii.gz');
const SYSTEM_PYTHON = '/usr/bin/python3';

type Shape3 = [number, number, number];

interface Volume {
  data: Float32Array;
  shape: Shape3;
  voxelSize: Shape3;
}

// ---------------------------------------------------------------------------------------------
// Test images and corruptions

/** Mean of 2x2x2 blocks: the 256³ head becomes 128³ at 2 mm, quick enough for many IQM runs. */
function downsampleBy2(data: Float32Array, shape: number[], voxel: number[]): Volume {
  const [nx, ny] = shape;
  const out: Shape3 = [shape[0] >> 1, shape[1] >> 1, shape[2] >> 1];
  const result = new Float32Array(out[0] * out[1] * out[2]);
  for (let z = 0; z < out[2]; z++)
    for (let y = 0; y < out[1]; y++)
      for (let x = 0; x < out[0]; x++) {
        let sum = 0;
        for (let dz = 0; dz < 2; dz++) for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) sum += data[2 * x + dx + nx * (2 * y + dy + ny * (2 * z + dz))];
        result[x + out[0] * (y + out[1] * z)] = sum / 8;
      }
  return { data: result, shape: out, voxelSize: [2 * voxel[0], 2 * voxel[1], 2 * voxel[2]] };
}

/** Rician noise, as magnitude images have it: |x + n1 + i n2| with n1, n2 ~ N(0, sigma²). */
function addRicianNoise(v: Volume, sigma: number, seed: number): Volume {
  const normal = gaussianSource(seededRandom(seed));
  return { ...v, data: v.data.map((x) => Math.hypot(x + sigma * normal(), sigma * normal())) };
}

/** In-place radix-2 complex FFT (inverse scaled by 1/n). */
function fft(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = ((inverse ? 2 : -2) * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(angle * k);
        const wi = Math.sin(angle * k);
        const a = i + k;
        const b = a + len / 2;
        const br = re[b] * wr - im[b] * wi;
        const bi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - br;
        im[b] = im[a] - bi;
        re[a] += br;
        im[a] += bi;
      }
    }
  }
  if (inverse) for (let i = 0; i < n; i++) (re[i] /= n), (im[i] /= n);
}

/**
 * Periodic motion during the acquisition: every `period`-th phase-encoding line (axis y) was
 * acquired with the head shifted by `shift` voxels, i.e. multiplied by a linear phase in k-space.
 * The magnitude image then carries ghosts replicated at FOV/period along y.
 */
function addMotionGhosts(v: Volume, seed: number): Volume {
  const random = seededRandom(seed);
  const shift = 2 + 4 * random();
  const period = 3 + Math.floor(3 * random());
  const phase = Math.floor(period * random());
  const [nx, ny, nz] = v.shape;
  const out = new Float32Array(v.data.length);
  const re = new Float64Array(ny);
  const im = new Float64Array(ny);
  for (let z = 0; z < nz; z++)
    for (let x = 0; x < nx; x++) {
      for (let y = 0; y < ny; y++) {
        re[y] = v.data[x + nx * (y + ny * z)];
        im[y] = 0;
      }
      fft(re, im, false);
      for (let k = phase; k < ny; k += period) {
        const freq = k < ny / 2 ? k : k - ny;
        const angle = (-2 * Math.PI * freq * shift) / ny;
        const [c, s] = [Math.cos(angle), Math.sin(angle)];
        [re[k], im[k]] = [re[k] * c - im[k] * s, re[k] * s + im[k] * c];
      }
      fft(re, im, true);
      for (let y = 0; y < ny; y++) out[x + nx * (y + ny * z)] = Math.hypot(re[y], im[y]);
    }
  return { ...v, data: out };
}

/** A smooth multiplicative field exp(t / 4), t linear in [-1.7, 1.7] along a random direction: ~0.65 to 1.55. */
function addBiasField(v: Volume, seed: number): Volume {
  const random = seededRandom(seed);
  const dir = [random() - 0.5, random() - 0.5, random() - 0.5];
  const norm = Math.hypot(...dir);
  const [nx, ny, nz] = v.shape;
  const out = new Float32Array(v.data.length);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const p = [(2 * x) / (nx - 1) - 1, (2 * y) / (ny - 1) - 1, (2 * z) / (nz - 1) - 1];
        const t = (dir[0] * p[0] + dir[1] * p[1] + dir[2] * p[2]) / norm;
        const i = x + nx * (y + ny * z);
        out[i] = v.data[i] * Math.exp(0.25 * t);
      }
  return { ...v, data: out };
}

/** Separable Gaussian blur with sigma in voxels. */
function blur(v: Volume, sigma: number): Volume {
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const sum = kernel.reduce((s, k) => s + k, 0);
  const weights = kernel.map((k) => k / sum);
  let src = v.data;
  const strides = [1, v.shape[0], v.shape[0] * v.shape[1]];
  for (let axis = 0; axis < 3; axis++) {
    const dst = new Float32Array(src.length);
    const n = v.shape[axis];
    for (let i = 0; i < src.length; i++) {
      const c = Math.floor(i / strides[axis]) % n;
      let acc = 0;
      for (let k = -radius; k <= radius; k++) {
        const cc = Math.min(n - 1, Math.max(0, c + k));
        acc += weights[k + radius] * src[i + (cc - c) * strides[axis]];
      }
      dst[i] = acc;
    }
    src = dst;
  }
  return { ...v, data: src };
}

function better(metric: string, clean: number, corrupted: number): boolean {
  return METRIC_DIRECTION[metric] === 'higher' ? clean > corrupted : clean < corrupted;
}

function assertAllFinite(result: IqmResult, what: string): void {
  const bad = Object.entries(result.metrics).filter(([, v]) => !Number.isFinite(v));
  assert.deepEqual(bad, [], `${what}: non-finite metrics`);
  for (const key of ['efc', 'fber', 'snr_total', 'snrd_total', 'cnr', 'cjv', 'qi_1', 'fwhm_avg', 'summary_fg_mean', 'summary_bg_mean']) {
    assert.ok(key in result.metrics, `${what}: ${key} missing`);
  }
}

// ---------------------------------------------------------------------------------------------

describe('quality: IQMs on real images', function () {
  this.timeout(240_000);
  let clean: Volume;
  let head: Uint8Array;
  let cleanResult: IqmResult;

  before(async function () {
    assert.ok(fs.existsSync(T1W), `shared image missing at ${T1W} (set OPENMIND_SHARED)`);
    const t1 = await readNifti(T1W);
    clean = downsampleBy2(t1.data, t1.shape, voxelSizes(t1.header));
    // One anatomy mask for the clean image and its corrupted copies: the ranking compares the
    // metrics, not how well the head is re-estimated from a damaged image.
    head = estimateAnatomyMask(clean.data, clean.shape);
    cleanResult = computeIqms(clean, { anatomy: head });
  });

  it('gives finite values for every metric, with and without a given mask', function () {
    assertAllFinite(cleanResult, 'T1w clean');
    assert.deepEqual(cleanResult.warnings, []);
    assert.equal(cleanResult.version, 'openmind-iqm/1');
    const estimated = computeIqms(clean);
    assertAllFinite(estimated, 'T1w, estimated mask');
    assert.equal(estimated.metrics.anat_mask_estimated, 1);
    // The estimated head of a whole-head T1w: a tenth to a third of the grid, most of the rest air.
    assert.ok(estimated.metrics.anat_fraction > 0.1 && estimated.metrics.anat_fraction < 0.35, `anat_fraction ${estimated.metrics.anat_fraction}`);
    assert.ok(estimated.metrics.efc > 0 && estimated.metrics.efc < 1);
    assert.ok(estimated.metrics.fwhm_avg > 2 && estimated.metrics.fwhm_avg < 12, `fwhm_avg ${estimated.metrics.fwhm_avg}`);
  });

  it('gives finite values on a real 2D FLAIR (anisotropic voxels, noisy background)', async function () {
    const flair = await readNifti(FLAIR);
    const result = computeIqms({ data: flair.data, shape: flair.shape, voxelSize: voxelSizes(flair.header) }, {}, { contrast: 'FLAIR' });
    assertAllFinite(result, 'FLAIR');
    // FLAIR: CSF dark, white matter darker than grey.
    assert.ok(result.metrics.summary_csf_mean < result.metrics.summary_wm_mean && result.metrics.summary_wm_mean < result.metrics.summary_gm_mean);
    // 2.4 mm slices: smoother along z than in-plane.
    assert.ok(result.metrics.fwhm_z > result.metrics.fwhm_x);
  });

  // Which metrics must rank the clean image better, per corruption. The others are not expected to
  // be monotone: white noise makes the image "sharper" (FWHM drops) and adds no outliers to a zero
  // background (QI1 stays 0); ghosts cover less than half of the air, so FBER's median air energy
  // does not move; a bias field brightens part of the brain, which can raise GM/WM contrast (CNR)
  // and leaves the air alone (EFC, FBER, SNRd, QI1).
  const MONOTONE: Record<string, { metrics: string[]; corrupt: (v: Volume, seed: number) => Volume }> = {
    noise: { metrics: ['efc', 'fber', 'snr_total', 'snrd_total', 'cnr', 'cjv'], corrupt: (v, seed) => addRicianNoise(v, 10, seed) },
    'motion ghosting': { metrics: ['efc', 'qi_1', 'snr_total', 'snrd_total', 'cnr', 'cjv'], corrupt: addMotionGhosts },
    'bias field': { metrics: ['snr_total', 'cjv'], corrupt: addBiasField },
  };

  for (const [kind, { metrics, corrupt }] of Object.entries(MONOTONE)) {
    it(`ranks the clean image above it with ${kind}, every time (${metrics.join(', ')})`, function () {
      for (const seed of [1, 2, 3]) {
        const result = computeIqms(corrupt(clean, seed), { anatomy: head });
        assertAllFinite(result, `${kind} #${seed}`);
        for (const m of metrics) {
          assert.ok(
            better(m, cleanResult.metrics[m], result.metrics[m]),
            `${kind} #${seed}: ${m} should be ${METRIC_DIRECTION[m]} for the clean image (clean ${cleanResult.metrics[m]}, corrupted ${result.metrics[m]})`,
          );
        }
      }
    });
  }

  it('measures a blurred image as smoother (FWHM grows)', function () {
    const result = computeIqms(blur(clean, 1), { anatomy: head });
    assert.ok(result.metrics.fwhm_avg > cleanResult.metrics.fwhm_avg + 0.5, `blurred ${result.metrics.fwhm_avg} vs ${cleanResult.metrics.fwhm_avg}`);
  });

  it('keeps a defaced face out of the background when given the anonymization mask', function () {
    // A realistic noisy background, then a "defaced" anterior-inferior block set to zero.
    const noisy = addRicianNoise(clean, 4, 7);
    const [nx, ny, nz] = clean.shape;
    const anon = new Uint8Array(noisy.data.length);
    const defaced = Float32Array.from(noisy.data);
    // The brainchop head is LIA: voxel y runs inferior, z anterior.
    for (let z = Math.ceil(nz * 0.6); z < nz; z++)
      for (let y = Math.ceil(ny * 0.55); y < ny; y++)
        for (let x = 0; x < nx; x++) {
          const i = x + nx * (y + ny * z);
          anon[i] = 1;
          defaced[i] = 0;
        }
    const anatomy = Uint8Array.from(head, (h, i) => (h && !anon[i] ? 1 : 0));
    // Without the mask, the zeroed face looks like noise-free air and inflates FBER and SNRd.
    const before = computeIqms(noisy, { anatomy });
    const unmasked = computeIqms({ ...noisy, data: defaced }, { anatomy });
    assert.ok(unmasked.metrics.fber > before.metrics.fber * 1.2, `unmasked ${unmasked.metrics.fber} vs ${before.metrics.fber}`);
    // With the mask, what defacing did to those voxels does not matter: every metric is unchanged.
    const masked = computeIqms({ ...noisy, data: defaced }, { anatomy, anonymization: anon });
    const reference = computeIqms(noisy, { anatomy, anonymization: anon });
    assert.deepEqual(masked.metrics, reference.metrics);
    assert.equal(masked.metrics.summary_bg_n + masked.metrics.summary_fg_n + anon.reduce((s, v) => s + v, 0), anon.length);
    assert.ok(masked.metrics.anon_fraction > 0.05);
  });

  it('warns about a small air mask (tight cropping) and a zero-filled background', function () {
    // Crop to the middle of the head's bounding box: little air is left, only in the corners.
    const [nx, ny, nz] = clean.shape;
    const lo = [nx, ny, nz];
    const hi = [0, 0, 0];
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          if (!head[x + nx * (y + ny * z)]) continue;
          [x, y, z].forEach((c, a) => ((lo[a] = Math.min(lo[a], c)), (hi[a] = Math.max(hi[a], c))));
        }
    const inset = [0, 1, 2].map((a) => Math.round((hi[a] - lo[a]) * 0.15));
    const from = [0, 1, 2].map((a) => lo[a] + inset[a]);
    const shape = [0, 1, 2].map((a) => hi[a] - inset[a] - from[a] + 1) as Shape3;
    const cropped = new Float32Array(shape[0] * shape[1] * shape[2]);
    for (let z = 0; z < shape[2]; z++)
      for (let y = 0; y < shape[1]; y++)
        for (let x = 0; x < shape[0]; x++) cropped[x + shape[0] * (y + shape[1] * z)] = clean.data[x + from[0] + nx * (y + from[1] + ny * (z + from[2]))];
    const result = computeIqms({ data: cropped, shape, voxelSize: clean.voxelSize });
    assertAllFinite(result, 'cropped');
    assert.ok(result.warnings.some((w) => w.startsWith('small air mask')), `air ${result.metrics.air_fraction}: ${JSON.stringify(result.warnings)}`);
    // Air that is exactly zero (masked or zero-filled): flagged, and the metrics stay finite.
    const zeroed = computeIqms({ ...clean, data: clean.data.map((v, i) => (head[i] ? v : 0)) }, { anatomy: head });
    assertAllFinite(zeroed, 'zero background');
    assert.ok(zeroed.warnings.some((w) => w.startsWith('zero background')), JSON.stringify(zeroed.warnings));
  });

  it('predicts a better (lower) score for the clean image than for corrupted ones', function () {
    const cleanScore = predictScanScore(cleanResult.metrics);
    assert.equal(cleanScore.predicted, true);
    assert.ok(cleanScore.score >= 1 && cleanScore.score <= 5);
    for (const corrupted of [addRicianNoise(clean, 16, 1), addMotionGhosts(clean, 1)]) {
      const score = predictScanScore(computeIqms(corrupted, { anatomy: head }).metrics).score;
      assert.ok(score > cleanScore.score, `corrupted ${score} vs clean ${cleanScore.score}`);
    }
    const task = predictTaskScore([cleanResult.metrics, cleanResult.metrics, { efc: 0.9, snr_total: 1, qi_1: 0.2, cjv: 2 }]);
    assert.equal(task.score, cleanScore.score, 'the median over scans resists one bad scan');
    assert.equal(predictScanScore({ efc: 0.9, snr_total: 1, qi_1: 0.2, cjv: 2 }).score, 5);
  });
});

function countOverlap(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] && b[i]) n++;
  return n;
}

describe('quality: EFC and FBER by hand', function () {
  it('EFC of tiny cases', function () {
    // Uniform intensities: maximum entropy, EFC = 1. All energy in one voxel: EFC = 0.
    assert.ok(Math.abs(entropyFocusCriterion([5, 5, 5, 5]) - 1) < 1e-12);
    assert.equal(entropyFocusCriterion([0, 7, 0, 0]), 0);
    // [3, 4, 0, 0]: bmax = 5; E = 0.6 ln 0.6 + 0.8 ln 0.8 = -0.485010; Emax = sqrt(4) ln(1/2) = -1.386294.
    assert.ok(Math.abs(entropyFocusCriterion([3, 4, 0, 0]) - 0.485010 / 1.386294) < 1e-5);
  });

  it('FBER of tiny cases', function () {
    // Median energies: fg [4, 16, 36] -> 16; bg [1, 1, 4] -> 1.
    assert.equal(foregroundBackgroundEnergyRatio([2, 4, 6], [1, 1, 2]), 16);
    // A zero background is floored at the given noise floor (0.5^2).
    assert.equal(foregroundBackgroundEnergyRatio([2, 4, 6], [0, 0, 0], 0.5), 64);
  });

  it('computeIqms reports the same EFC and FBER on a 4x4x4 volume', function () {
    // 8 anatomy voxels (four 10s, four 20s) and 56 air voxels (28 ones, 28 twos).
    const data = new Float32Array(64);
    const anatomy = new Uint8Array(64);
    for (let i = 0; i < 64; i++) {
      anatomy[i] = i < 8 ? 1 : 0;
      data[i] = i < 4 ? 10 : i < 8 ? 20 : i % 2 ? 1 : 2;
    }
    const { metrics } = computeIqms({ data, shape: [4, 4, 4], voxelSize: [1, 1, 1] }, { anatomy });
    // FBER: median fg energy (100 + 400) / 2 = 250, median air energy (1 + 4) / 2 = 2.5.
    assert.equal(metrics.fber, 100);
    // EFC: sum x² = 2140, bmax = sqrt(2140); E = sum (x/bmax) ln(x/bmax) = -8.897834; Emax = 8 ln(1/8) = -16.635532.
    assert.ok(Math.abs(metrics.efc - 8.897834 / 16.635532) < 1e-5, `efc ${metrics.efc}`);
  });

  it('refuses a wrong shape or mask with a reason code', function () {
    assert.throws(() => computeIqms({ data: new Float32Array(10), shape: [4, 4, 4], voxelSize: [1, 1, 1] }), (e: QualityError) => e.reason === 'shape_mismatch');
    assert.throws(
      () => computeIqms({ data: new Float32Array(64).map((_, i) => i), shape: [4, 4, 4], voxelSize: [1, 1, 1] }, { anatomy: new Uint8Array(10) }),
      (e: QualityError) => e.reason === 'mask_shape_mismatch',
    );
    assert.throws(() => computeIqms({ data: new Float32Array(64), shape: [4, 4, 4], voxelSize: [1, 1, 1] }), (e: QualityError) => e.reason === 'empty_image');
  });
});

describe('quality: odd inputs and the iqm command', function () {
  /** A 24³ "head": a noisy ball of two tissues in noisy air. */
  function ball(seed: number): Float32Array {
    const normal = gaussianSource(seededRandom(seed));
    const n = 24;
    return Float32Array.from({ length: n ** 3 }, (_, i) => {
      const [x, y, z] = [i % n, Math.floor(i / n) % n, Math.floor(i / n / n)];
      const r = Math.hypot(x - 11.5, y - 11.5, z - 11.5);
      const tissue = r < 5 ? 120 : r < 9 ? 80 : 0;
      return Math.abs(tissue + 3 * normal());
    });
  }

  it('uses the first volume of a 4D image, with a warning', function () {
    const vol = ball(1);
    const twoVolumes = new Float32Array(vol.length * 2);
    twoVolumes.set(vol);
    twoVolumes.set(ball(2), vol.length);
    const r4 = computeIqms({ data: twoVolumes, shape: [24, 24, 24, 2], voxelSize: [1, 1, 1, 2] });
    const r3 = computeIqms({ data: vol, shape: [24, 24, 24], voxelSize: [1, 1, 1] });
    assert.deepEqual(r4.metrics, r3.metrics);
    assert.ok(r4.warnings.some((w) => w.startsWith('first volume only')));
  });

  it('reads a keep-mask (1 = kept, as pydeface writes it) as its inverse, with a warning', function () {
    const vol = ball(3);
    const face = Uint8Array.from(vol, (_, i) => (i % 24 < 3 ? 1 : 0));
    const keep = Uint8Array.from(face, (v) => 1 - v);
    const asFace = computeIqms({ data: vol, shape: [24, 24, 24], voxelSize: [1, 1, 1] }, { anonymization: face });
    const asKeep = computeIqms({ data: vol, shape: [24, 24, 24], voxelSize: [1, 1, 1] }, { anonymization: keep });
    assert.deepEqual(asKeep.metrics, asFace.metrics);
    assert.ok(asKeep.warnings.some((w) => w.startsWith('anonymization mask inverted')));
    assert.deepEqual(asFace.warnings, []);
  });

  it('prints the metrics of a NIfTI file (runIqm), as JSON or a table', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openmind-iqm-'));
    try {
      const image = path.join(dir, 'ball.nii.gz');
      const mask = path.join(dir, 'mask.nii.gz');
      const vol = ball(4);
      await writeNifti(image, { dims: [24, 24, 24], pixdim: [1, 1.5, 1.5, 1.5] }, vol, { datatype: 'float32' });
      await writeNifti(mask, { dims: [24, 24, 24], pixdim: [1, 1.5, 1.5, 1.5] }, vol.map((_, i) => (Math.hypot((i % 24) - 11.5, (Math.floor(i / 24) % 24) - 11.5, Math.floor(i / 576) - 11.5) < 9 ? 1 : 0)), { datatype: 'uint8' });
      const printed: string[] = [];
      const result = await runIqm(image, { mask, json: true, print: (t) => printed.push(t) });
      const parsed = JSON.parse(printed.join('\n'));
      assert.equal(parsed.version, 'openmind-iqm/1');
      assert.equal(parsed.metrics.anat_mask_estimated, 0);
      assert.deepEqual(parsed.metrics, result.metrics);
      assert.ok(parsed.metrics.fwhm_x > 0);
      const table: string[] = [];
      await runIqm(image, { print: (t) => table.push(t) });
      assert.match(table.join('\n'), /anatomy mask estimated/);
      assert.match(table.join('\n'), /^\s+snr_total\s+\d/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('quality: aggregation rule', function () {
  const r = (rater: string, score: number, firstRatedAt?: string) => ({ rater, score, firstRatedAt });

  it('waits for two raters', function () {
    assert.deepEqual(aggregateRatings([]), { status: 'waiting', raters: [] });
    assert.deepEqual(aggregateRatings([r('ana', 2)]), { status: 'waiting', raters: ['ana'] });
  });

  it('averages two raters who differ by less than 2', function () {
    assert.deepEqual(aggregateRatings([r('ana', 2), r('ben', 3)]), { status: 'final', score: 2.5, raters: ['ana', 'ben'], disagreement: 1 });
    assert.equal(aggregateRatings([r('ana', 4), r('ben', 4)]).score, 4);
  });

  it('asks for a third rating at a difference of 2 or more, then takes the median of three', function () {
    assert.deepEqual(aggregateRatings([r('ana', 1), r('ben', 3)]), { status: 'needs_third', raters: ['ana', 'ben'], disagreement: 2 });
    assert.deepEqual(aggregateRatings([r('ana', 1), r('ben', 3), r('cy', 2)]), { status: 'final', score: 2, raters: ['ana', 'ben', 'cy'], disagreement: 2 });
    assert.equal(aggregateRatings([r('ana', 1), r('ben', 5), r('cy', 4)]).score, 4);
    assert.equal(aggregateRatings([r('ana', 5), r('ben', 1), r('cy', 1), r('dee', 5)]).score, 1, 'a fourth rating does not change the median of three');
  });

  it('orders raters by when they first rated, and ignores an extra opinion once final', function () {
    // ben and cy rated first: their pair (3, 2) is final at 2.5; ana's later 5 does not count.
    const agg = aggregateRatings([r('ana', 5, '2026-01-03T00:00:00Z'), r('ben', 3, '2026-01-01T00:00:00Z'), r('cy', 2, '2026-01-02T00:00:00Z')]);
    assert.deepEqual(agg, { status: 'final', score: 2.5, raters: ['ben', 'cy'], disagreement: 1 });
  });

  it('refuses scores outside 1-5 and a rater listed twice', function () {
    assert.throws(() => aggregateRatings([r('ana', 0), r('ben', 3)]), (e: QualityError) => e.reason === 'invalid_score');
    assert.throws(() => aggregateRatings([r('ana', 2.5), r('ben', 3)]), (e: QualityError) => e.reason === 'invalid_score');
    assert.throws(() => aggregateRatings([r('ana', 2), r('ana', 3)]), (e: QualityError) => e.reason === 'duplicate_rater');
  });
});

function gradient(width: number, height: number): RgbImage {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (x + width * y) * 3;
      pixels[i] = (x * 255) / (width - 1);
      pixels[i + 1] = (y * 255) / (height - 1);
      pixels[i + 2] = (x * y) % 256;
    }
  return { width, height, pixels };
}

describe('quality: PNG encoder', function () {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openmind-quality-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('writes a valid PNG: signature, IHDR, chunk CRCs, IEND', function () {
    const png = encodePng(gradient(37, 23));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const types: string[] = [];
    for (let off = 8; off < png.length; ) {
      const len = png.readUInt32BE(off);
      const type = png.toString('ascii', off + 4, off + 8);
      types.push(type);
      assert.equal(png.readUInt32BE(off + 8 + len), crc32(png.subarray(off + 4, off + 8 + len)), `${type} CRC`);
      if (type === 'IHDR') {
        assert.equal(len, 13);
        assert.equal(png.readUInt32BE(off + 8), 37);
        assert.equal(png.readUInt32BE(off + 12), 23);
        assert.deepEqual([...png.subarray(off + 16, off + 21)], [8, 2, 0, 0, 0], 'bit depth 8, RGB, deflate, adaptive filter, no interlace');
      }
      off += 12 + len;
    }
    assert.equal(types[0], 'IHDR');
    assert.equal(types.at(-1), 'IEND');
    assert.ok(types.includes('IDAT'));
    // The CRC of "IEND" is the well-known AE 42 60 82.
    assert.equal(crc32(Buffer.from('IEND', 'ascii')), 0xae426082);
  });

  it('round-trips through its own decoder and through PIL', function () {
    const image = gradient(64, 40);
    const png = encodePng(image);
    const back = decodePng(png);
    assert.equal(back.width, 64);
    assert.deepEqual(Buffer.from(back.pixels), Buffer.from(image.pixels));
    const file = path.join(tmp, 'gradient.png');
    fs.writeFileSync(file, png);
    try {
      execFileSync(SYSTEM_PYTHON, ['-c', 'import PIL'], { stdio: 'ignore' });
    } catch {
      return this.skip();
    }
    const pil = execFileSync(
      SYSTEM_PYTHON,
      ['-c', 'import sys, hashlib; from PIL import Image; im = Image.open(sys.argv[1]); im.load(); print(im.size[0], im.size[1], im.mode, hashlib.sha256(im.tobytes()).hexdigest())', file],
      { encoding: 'utf8' },
    ).trim();
    assert.equal(pil, `64 40 RGB ${createHash('sha256').update(image.pixels).digest('hex')}`);
  });

  it('refuses a corrupted PNG', function () {
    const png = encodePng(gradient(8, 8));
    png[png.length - 20] ^= 0xff;
    assert.throws(() => decodePng(png), (e: QualityError) => e.reason === 'invalid_png');
  });
});

describe('quality: mosaics and montages', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openmind-mosaic-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const countColour = (img: RgbImage, c: [number, number, number]) => {
    let n = 0;
    for (let i = 0; i < img.width * img.height; i++) if (img.pixels[i * 3] === c[0] && img.pixels[i * 3 + 1] === c[1] && img.pixels[i * 3 + 2] === c[2]) n++;
    return n;
  };

  it('draws three planes of slices with the anatomy and anonymization outlines', async function () {
    const t1 = await readNifti(T1W);
    const vol = downsampleBy2(t1.data, t1.shape, voxelSizes(t1.header));
    const anatomy = estimateAnatomyMask(vol.data, vol.shape);
    const anon = new Uint8Array(anatomy.length);
    for (let i = 0; i < anon.length; i += 1) if (i % vol.shape[0] < 20) anon[i] = 1;
    const mosaic = renderScanMosaic(vol, { anatomy, anonymization: anon }, { slicesPerPlane: 3, tileSize: 96 });
    assert.equal(mosaic.width, 3 * 96 + 4 * 2);
    assert.equal(mosaic.height, 3 * 96 + 4 * 2);
    assert.ok(countColour(mosaic, MASK_COLOURS.anatomy) > 200, 'anatomy outline drawn');
    assert.ok(countColour(mosaic, MASK_COLOURS.anonymization) > 50, 'anonymization outline drawn');
    // Percentile windowing spreads the grey levels.
    const greys = new Set<number>();
    for (let i = 0; i < mosaic.pixels.length; i += 3) if (mosaic.pixels[i] === mosaic.pixels[i + 1] && mosaic.pixels[i] === mosaic.pixels[i + 2]) greys.add(mosaic.pixels[i]);
    assert.ok(greys.size > 100, `${greys.size} grey levels`);
    const written = await writeScanMosaic(path.join(tmp, 'scan.png'), vol, { anatomy });
    assert.deepEqual(decodePng(fs.readFileSync(written.path)).width, written.width);
  });

  it('samples the same scans for the same seed, up to N, in dataset order', async function () {
    const items = Array.from({ length: 20 }, (_, i) => `scan-${i}`);
    const a = sampleForMontage(items, 5, 'ds000001/T1w');
    assert.deepEqual(a, sampleForMontage(items, 5, 'ds000001/T1w'));
    assert.equal(a.length, 5);
    assert.deepEqual([...a].sort((x, y) => items.indexOf(x) - items.indexOf(y)), a);
    assert.notDeepEqual(a, sampleForMontage(items, 5, 'ds000002/T1w'));
    assert.deepEqual(sampleForMontage(items.slice(0, 3), 5, 'x'), items.slice(0, 3));

    const files: string[] = [];
    for (let i = 0; i < 4; i++) {
      const file = path.join(tmp, `m${i}.png`);
      fs.writeFileSync(file, encodePng(gradient(60 + 10 * i, 40)));
      files.push(file);
    }
    const montage = await writeMontage(path.join(tmp, 'montage.png'), files, { n: 3, seed: 'ds1/T1w', tileWidth: 50, columns: 3 });
    assert.equal(montage.chosen.length, 3);
    const decoded = decodePng(fs.readFileSync(montage.path));
    assert.equal(decoded.width, montage.width);
    assert.equal(renderMontage([gradient(10, 10)], { tileWidth: 20 }).width, 20 + 2 * 6);
  });
});
