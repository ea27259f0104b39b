// Masks: the tfjs -> ONNX conversion against a plain JS reference, the model store, the CPU
// fallback, and the masks on a test set built from real heads with known anonymizations.
// The network runs on a 2 mm grid here (the benchmark runs it at its default 1.05 mm and at 1 mm) to keep the suite short.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { readNiftiHeader, writeNifti, affineOf } from '../lib/nifti/index.js';
import { computeMasks, cutParamsFor, fromDatasetDefacemask, MaskInputError, type MasksResult } from '../lib/masks/index.js';
import { CUT_PARAMS } from '../lib/masks/cuts.js';
import { networkBrainMask } from '../lib/masks/brain.js';
import { countSet as countOnes, dice, type Dims, type Vec3 } from '../lib/volume/shape.js';
import { detectWideSkin, skinEdgeWidths } from '../lib/masks/skin-edges.js';
import { gaussianSmooth } from '../lib/volume/morphology.js';
import { ModelError } from '../lib/models/errors.js';
import { loadMindgrabGraph, MINDGRAB_CONVERTER_VERSION } from '../lib/models/mindgrab.js';
import { createSession } from '../lib/models/session.js';
import { ensureModel, MODELS } from '../lib/models/store.js';
import { readTfjsModel, type TfjsConv3d, type TfjsModel } from '../lib/models/tfjs.js';
import { tfjsToOnnxBytes, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from '../lib/models/tfjs-to-onnx.js';
import * as A from './helpers/anonymize.js';
import { runMasks, MASKS_JSON_NAME } from '../cli/commands/masks.js';

const MINDGRAB_JSON = path.join(A.MODELS_DIR, 'mindgrab/model.json');
const NETWORK_GRID_MM = 2;
// Converted graphs go to a temporary cache, never into the shared models folder.

// ---------- plain JS reference of the MeshNet layers (channels-last, TF.js weight layout) ----------

/** erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit). */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

/** 'same' dilated conv; x is [D][H][W][C] flat, kernel [kd][kh][kw][cin][cout]. */
function refConv(x: Float64Array, n: number, cin: number, layer: TfjsConv3d): Float64Array {
  const cout = layer.filters;
  const [k] = layer.kernelSize;
  const dil = layer.dilation[0];
  const half = ((k - 1) * dil) / 2;
  const out = new Float64Array(n * n * n * cout);
  for (let d = 0; d < n; d++)
    for (let h = 0; h < n; h++)
      for (let w = 0; w < n; w++) {
        const o = ((d * n + h) * n + w) * cout;
        for (let a = 0; a < k; a++) {
          const dd = d + a * dil - half;
          if (dd < 0 || dd >= n) continue;
          for (let b = 0; b < k; b++) {
            const hh = h + b * dil - half;
            if (hh < 0 || hh >= n) continue;
            for (let c = 0; c < k; c++) {
              const ww = w + c * dil - half;
              if (ww < 0 || ww >= n) continue;
              const xi = ((dd * n + hh) * n + ww) * cin;
              const ki = ((a * k + b) * k + c) * cin * cout;
              for (let ci = 0; ci < cin; ci++) {
                const xv = x[xi + ci];
                if (xv === 0) continue;
                const kr = ki + ci * cout;
                for (let co = 0; co < cout; co++) out[o + co] += xv * layer.kernel[kr + co];
              }
            }
          }
        }
        if (layer.bias) for (let co = 0; co < cout; co++) out[o + co] += layer.bias[co];
      }
  return out;
}

function refInstanceNorm(x: Float64Array, voxels: number, c: number, eps: number): void {
  for (let ch = 0; ch < c; ch++) {
    let mean = 0;
    for (let v = 0; v < voxels; v++) mean += x[v * c + ch];
    mean /= voxels;
    let variance = 0;
    for (let v = 0; v < voxels; v++) variance += (x[v * c + ch] - mean) ** 2;
    variance /= voxels;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let v = 0; v < voxels; v++) x[v * c + ch] = (x[v * c + ch] - mean) * inv;
  }
}

/** The whole network in plain JS: conv -> instance norm -> GELU for hidden layers, conv + softmax at the end. */
function referenceForward(model: TfjsModel, input: Float32Array, n: number): Float64Array {
  const convs = model.layers.filter((l): l is TfjsConv3d => l.kind === 'conv3d');
  let x: Float64Array = Float64Array.from(input);
  let c = 1;
  convs.forEach((layer, i) => {
    x = refConv(x, n, c, layer);
    c = layer.filters;
    if (i < convs.length - 1) {
      refInstanceNorm(x, n * n * n, c, 1e-5);
      for (let v = 0; v < x.length; v++) x[v] = 0.5 * x[v] * (1 + erf(x[v] / Math.SQRT2));
    }
  });
  for (let v = 0; v < n * n * n; v++) {
    const m = Math.max(x[v * c], x[v * c + 1]);
    const e0 = Math.exp(x[v * c] - m);
    const e1 = Math.exp(x[v * c + 1] - m);
    x[v * c] = e0 / (e0 + e1);
    x[v * c + 1] = e1 / (e0 + e1);
  }
  return x;
}

function seededVolume(n: number): Float32Array {
  let s = 99;
  return Float32Array.from({ length: n * n * n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) / 16777216;
  });
}

describe('tfjs -> ONNX conversion (MindGrab)', function () {
  this.timeout(120_000);
  let model: TfjsModel;

  before(async () => {
    model = await readTfjsModel(MINDGRAB_JSON);
  });

  it('reads 26 Conv3D layers with dilations and 146,237 weights', () => {
    const convs = model.layers.filter((l): l is TfjsConv3d => l.kind === 'conv3d');
    assert.equal(convs.length, 26);
    assert.deepEqual(convs.slice(0, 5).map((c) => c.dilation[0]), [16, 8, 4, 2, 1]);
    const weights = convs.reduce((s, c) => s + c.kernel.length + (c.bias?.length ?? 0), 0);
    assert.equal(weights, 146_237);
  });

  for (const gelu of ['erf', 'op'] as const) {
    it(`matches a plain JS reference on a small input (GELU as ${gelu})`, async () => {
      const n = 10;
      const input = seededVolume(n);
      const session = await ort.InferenceSession.create(tfjsToOnnxBytes(model, { gelu }), { executionProviders: ['cpu'] });
      const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', input, [1, 1, n, n, n]) });
      await session.release();
      const onnx = out[ONNX_OUTPUT_NAME];
      assert.deepEqual(onnx.dims, [1, 2, n, n, n]);
      const expected = referenceForward(model, input, n);
      const got = onnx.data as Float32Array;
      const voxels = n * n * n;
      let worst = 0;
      for (let v = 0; v < voxels; v++) for (let c = 0; c < 2; c++) worst = Math.max(worst, Math.abs(got[c * voxels + v] - expected[v * 2 + c]));
      assert.ok(worst < 1e-3, `largest difference ${worst}`);
    });
  }
});

describe('model store and sessions', function () {
  this.timeout(120_000);

  it('verifies the shared MindGrab files against their pinned SHA-256', async () => {
    const resolved = await ensureModel('mindgrab', { modelsDir: A.MODELS_DIR, download: false });
    assert.equal(resolved.sha256['model.bin'], MODELS.mindgrab.files[1].sha256);
    assert.deepEqual(resolved.downloaded, []);
  });

  it('downloads a missing model, checks its sum, and refuses wrong bytes', async () => {
    const dir = await A.tempDir('store');
    const served: string[] = [];
    const fetcher = async (url: string) => {
      served.push(url);
      return new Uint8Array(await fs.readFile(path.join(A.MODELS_DIR, 'mindgrab', path.basename(url))));
    };
    const resolved = await ensureModel('mindgrab', { modelsDir: dir, fetcher });
    assert.deepEqual(resolved.downloaded.sort(), ['model.bin', 'model.json']);
    assert.ok(served.every((u) => u.includes('/neuroneural/brainchop/4c87885f3a2a8835e260d521dcec922b58d91d41/')));
    const other = await A.tempDir('store-bad');
    await assert.rejects(ensureModel('mindgrab', { modelsDir: other, fetcher: async () => new Uint8Array([1, 2, 3]) }), (e: unknown) => e instanceof ModelError && e.reason === 'checksum_mismatch');
    await assert.rejects(ensureModel('mindgrab', { modelsDir: other, fetcher: async () => { throw new Error('offline'); } }), (e: unknown) => e instanceof ModelError && e.reason === 'download_failed');
    await fs.writeFile(path.join(other, 'mindgrab', 'model.json'), 'tampered').catch(async () => {
      await fs.mkdir(path.join(other, 'mindgrab'), { recursive: true });
      await fs.writeFile(path.join(other, 'mindgrab', 'model.json'), 'tampered');
    });
    await assert.rejects(ensureModel('mindgrab', { modelsDir: other, fetcher }), (e: unknown) => e instanceof ModelError && e.reason === 'checksum_mismatch');
  });

  it('converts once and caches the graph next to the weights, or in the cache root when that folder is read-only', async () => {
    const models = await A.tempDir('models');
    await fs.mkdir(path.join(models, 'mindgrab'));
    for (const f of ['model.json', 'model.bin']) await fs.copyFile(path.join(A.MODELS_DIR, 'mindgrab', f), path.join(models, 'mindgrab', f));
    const emptyCache = await A.tempDir('cache-empty');
    const first = await loadMindgrabGraph({ modelsDir: models, cacheDir: emptyCache });
    const second = await loadMindgrabGraph({ modelsDir: models, cacheDir: emptyCache });
    assert.equal(first.converted, true);
    assert.equal(second.converted, false);
    assert.equal(second.onnxSha256, first.onnxSha256);
    assert.equal(path.dirname(second.path ?? ''), path.join(models, 'mindgrab'));
    assert.ok(second.path?.endsWith(`-c${MINDGRAB_CONVERTER_VERSION}.onnx`), second.path);
    // Read-only models folder (no write bits): the graph goes to the cache folder (OPENMIND_CACHE_DIR) instead.
    const readOnly = await A.tempDir('models-ro');
    await fs.mkdir(path.join(readOnly, 'mindgrab'));
    for (const f of ['model.json', 'model.bin']) await fs.copyFile(path.join(A.MODELS_DIR, 'mindgrab', f), path.join(readOnly, 'mindgrab', f));
    await fs.chmod(path.join(readOnly, 'mindgrab'), 0o555);
    const cache = await A.tempDir('cache');
    try {
      const cached = await loadMindgrabGraph({ modelsDir: readOnly, cacheDir: cache });
      assert.ok(cached.path?.startsWith(cache), cached.path);
      assert.deepEqual((await fs.readdir(path.join(readOnly, 'mindgrab'))).sort(), ['model.bin', 'model.json']);
    } finally {
      await fs.chmod(path.join(readOnly, 'mindgrab'), 0o755);
    }
  });

  it('records the CPU fallback when CUDA is asked for but unavailable', async () => {
    const graph = await loadMindgrabGraph({ modelsDir: A.MODELS_DIR });
    const choice = await createSession(graph.bytes, 'cuda');
    await choice.session.release();
    if (choice.executionProvider === 'cuda') return; // a worker with CUDA: nothing fell back
    assert.equal(choice.executionProvider, 'cpu');
    assert.equal(choice.fellBackToCpu, true);
    assert.match(choice.fallbackReason ?? '', /cuda/i);
  });
});

interface Built {
  dir: string;
  img: A.RasImage;
  refHead: Uint8Array;
  brain: Uint8Array;
  region: Uint8Array;
}

async function runCase(built: Built, name: string, data: Float32Array, opts: Parameters<typeof computeMasks>[2] = {}): Promise<{ result: MasksResult; deface: Uint8Array; fb: Uint8Array }> {
  const file = await A.writeRas(path.join(built.dir, `${name}.nii`), built.img, data, 'float32');
  const result = await computeMasks(file, path.join(built.dir, name), { modelsDir: A.MODELS_DIR, networkGridMm: NETWORK_GRID_MM, ...opts });
  return { result, deface: await A.readMaskRas(result.files.defaceMask.path), fb: await A.readMaskRas(result.files.fbMask.path) };
}

describe('masks on real heads with known anonymizations', function () {
  this.timeout(300_000);
  let built: Built;
  const figures: Record<string, unknown> = {};

  before(async function () {
    this.timeout(300_000);
    const dir = await A.tempDir('masks');
    const img = await A.t1HeadInFov();
    const refHead = A.referenceHeadNonzero(img.vol);
    // Reference brain: MindGrab on the intact head, 1.5 mm grid.
    const brain = (await networkBrainMask(img.vol, { executionProvider: 'cpu', modelsDir: A.MODELS_DIR, gridMm: 1.5 })).mask;
    const region = A.placeFaceMask(img, brain, await A.loadFaceMask()).region;
    built = { dir, img, refHead, brain, region };
  });

  after(() => {
    console.log('      figures:', JSON.stringify(figures));
  });

  it('intact head (the original file, LIA, with its inferior field-of-view edge inside the grid): none, empty mask', async () => {
    const out = path.join(built.dir, 'original');
    const result = await computeMasks(A.T1_HEAD, out, { modelsDir: A.MODELS_DIR, networkGridMm: NETWORK_GRID_MM });
    const original = await A.readRas(A.T1_HEAD);
    const refHead = A.referenceHeadNonzero(original.vol);
    const deface = await A.readMaskRas(result.files.defaceMask.path);
    const fb = await A.readMaskRas(result.files.fbMask.path);
    assert.equal(result.anonymization.type, 'none');
    assert.ok(countOnes(deface) < 0.005 * countOnes(refHead));
    const fbDice = dice(fb, refHead);
    figures.intactFbDice = fbDice;
    assert.ok(fbDice >= 0.95, `fb Dice ${fbDice}`);
    // Masks are written in exactly the input's geometry.
    const [inHeader, maskHeader] = await Promise.all([readNiftiHeader(A.T1_HEAD), readNiftiHeader(result.files.fbMask.path)]);
    assert.deepEqual(maskHeader.dim.slice(0, 4), inHeader.dim.slice(0, 4));
    assert.deepEqual(affineOf(maskHeader).map((r) => r.map((v) => +v.toFixed(4))), affineOf(inHeader).map((r) => r.map((v) => +v.toFixed(4))));
    assert.equal(maskHeader.datatype, 2);
    assert.equal(result.provenance.executionProvider, 'cpu');
    assert.ok(result.provenance.modelSha256);
    assert.ok(result.timings.inference > 0);
  });

  it('pydeface-like face removal: defaced, Dice >= 0.90', async () => {
    const c = A.pydefaceLike(built.img, built.refHead, built.region);
    const { result, deface, fb } = await runCase(built, 'pydeface', c.data);
    assert.equal(result.anonymization.type, 'defaced');
    const d = dice(deface, c.truth);
    figures.pydefaceDice = d;
    assert.ok(d >= 0.9, `Dice ${d}`);
    const remaining = Uint8Array.from(built.refHead, (h, i) => h & (c.truth[i] ? 0 : 1));
    assert.ok(dice(fb, remaining) >= 0.95);
  });

  it('quickshear-like plane cut: defaced, Dice >= 0.90', async () => {
    const c = A.quickshearLike(built.img, built.refHead, built.brain);
    const { result, deface } = await runCase(built, 'quickshear', c.data);
    assert.equal(result.anonymization.type, 'defaced');
    const d = dice(deface, c.truth);
    figures.quickshearDice = d;
    assert.ok(d >= 0.9, `Dice ${d}`);
  });

  it('face blur: blurred, Dice >= 0.90', async () => {
    const c = A.faceBlur(built.img, built.refHead, built.region);
    const { result, deface, fb } = await runCase(built, 'blur', c.data);
    assert.equal(result.anonymization.type, 'blurred');
    const d = dice(deface, c.truth);
    figures.blurDice = d;
    assert.ok(d >= 0.9, `Dice ${d}`);
    assert.ok(dice(fb, built.refHead) >= 0.95);
  });

  it('skull stripped with a reference brain mask: skull_stripped, Dice >= 0.90, anatomy = brain', async () => {
    const c = A.skullStrip(built.img, built.refHead, built.brain);
    const { result, deface, fb } = await runCase(built, 'stripped', c.data);
    assert.equal(result.anonymization.type, 'skull_stripped');
    const d = dice(deface, c.truth);
    figures.skullStripDice = d;
    assert.ok(d >= 0.9, `Dice ${d}`);
    const fbDice = dice(fb, built.brain);
    figures.skullStripFbDice = fbDice;
    assert.ok(fbDice >= 0.95, `fb Dice ${fbDice}`);
  });

  it('low-SNR intact head (Rician noise, SD 8% of tissue): none, anatomy Dice >= 0.95', async () => {
    const noisy = A.addRicianNoise(built.img.vol.data, 8);
    const { result, deface, fb } = await runCase(built, 'noisy', noisy, { useNetwork: false });
    assert.equal(result.anonymization.type, 'none');
    assert.ok(countOnes(deface) < 0.005 * countOnes(built.refHead));
    const fbDice = dice(fb, built.refHead);
    figures.lowSnrFbDice = fbDice;
    assert.ok(fbDice >= 0.95, `fb Dice ${fbDice}`);
    assert.equal(result.provenance.params.brainMethod, 'classical');
  });

  it('another contrast and a slab field of view (2-D axial FLAIR, 2.4 mm slices): none, anatomy Dice >= 0.95', async () => {
    const out = path.join(built.dir, 'flair');
    const result = await computeMasks(A.FLAIR_SLAB, out, { modelsDir: A.MODELS_DIR, networkGridMm: NETWORK_GRID_MM });
    const flair = await A.readRas(A.FLAIR_SLAB);
    const fb = await A.readMaskRas(result.files.fbMask.path);
    assert.equal(result.anonymization.type, 'none');
    const fbDice = dice(fb, A.referenceHeadNoisy(flair.vol));
    figures.flairFbDice = fbDice;
    assert.ok(fbDice >= 0.95, `fb Dice ${fbDice}`);
  });

  it('uses a dataset-shipped defacemask (pydeface convention, 1 = kept), converted to 1 = removed', async () => {
    const c = A.pydefaceLike(built.img, built.refHead, built.region);
    const image = await A.writeRas(path.join(built.dir, 'shipped.nii'), built.img, c.data, 'float32');
    const kept = Float32Array.from(built.region, (r) => (r ? 0 : 1));
    const maskFile = await A.writeRas(path.join(built.dir, 'shipped_defacemask.nii.gz'), built.img, kept, 'uint8');
    const result = await fromDatasetDefacemask(image, maskFile, path.join(built.dir, 'shipped'));
    assert.equal(result.anonymization.source, 'dataset');
    assert.equal(result.anonymization.type, 'defaced');
    assert.equal(result.provenance.params.shippedPolarity, '1=kept');
    assert.equal(dice(await A.readMaskRas(result.files.defaceMask.path), built.region), 1);
    const viaOption = await computeMasks(image, path.join(built.dir, 'shipped2'), { defacemaskPath: maskFile });
    assert.equal(viaOption.anonymization.source, 'dataset');
  });

});

describe('masks: bad input gives a reason', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openmind-badmasks-'));
  });

  async function write(name: string, dims: number[], pixdim: number[], fill: (i: number) => number, affine?: number[][]): Promise<string> {
    const file = path.join(dir, name);
    const n = dims.reduce((a, b) => a * b, 1);
    await writeNifti(file, { dims, pixdim, affine }, Float32Array.from({ length: n }, (_, i) => fill(i)), { datatype: 'float32' });
    return file;
  }

  async function reasonOf(file: string): Promise<string> {
    try {
      await computeMasks(file, path.join(dir, 'out'), { useNetwork: false });
    } catch (err) {
      assert.ok(err instanceof MaskInputError, String(err));
      return err.reason;
    }
    return 'no error';
  }

  const blob = (dims: number[]) => (i: number) => {
    const x = i % dims[0];
    const y = Math.floor(i / dims[0]) % dims[1];
    const z = Math.floor(i / (dims[0] * dims[1])) % dims[2];
    const r = Math.hypot(x - dims[0] / 2, y - dims[1] / 2, z - dims[2] / 2);
    return r < Math.min(...dims.slice(0, 3)) / 3 ? 100 : 0;
  };

  it('4-D input: not_3d', async () => {
    assert.equal(await reasonOf(await write('4d.nii.gz', [24, 24, 24, 2], [1, 1, 1, 2], blob([24, 24, 24]))), 'not_3d');
  });
  it('all-zero and constant images: constant_image', async () => {
    assert.equal(await reasonOf(await write('zero.nii.gz', [24, 24, 24], [1, 1, 1], () => 0)), 'constant_image');
    assert.equal(await reasonOf(await write('const.nii.gz', [24, 24, 24], [1, 1, 1], () => 7)), 'constant_image');
  });
  it('fewer than 8 slices: too_few_slices', async () => {
    assert.equal(await reasonOf(await write('thin.nii.gz', [64, 64, 6], [1, 1, 1], blob([64, 64, 6]))), 'too_few_slices');
  });
  it('thick slices are never refused: 10 mm slices and 8 slices give both masks, on the native grid, with lower confidence', async () => {
    for (const [name, dims, pixdim] of [
      ['aniso10.nii.gz', [48, 48, 20], [1, 1, 10]],
      ['aniso7-8slices.nii.gz', [64, 64, 8], [2, 2, 7]],
    ] as [string, number[], number[]][]) {
      const file = await write(name, dims, pixdim, blob(dims));
      const result = await computeMasks(file, path.join(dir, `${name}-out`), { useNetwork: false });
      const header = await readNiftiHeader(result.files.fbMask.path);
      assert.deepEqual(header.dim.slice(1, 4), dims);
      assert.ok(result.files.fbMask.voxels > 0, name);
      assert.ok(result.warnings.some((w) => w.startsWith('thick_slices')), name);
      assert.ok(result.anonymization.confidence < 0.8, `${name}: confidence ${result.anonymization.confidence}`);
    }
  });
  it('an image over the read limit: too_large', async () => {
    const file = await write('huge.nii', [8, 8, 8], [1, 1, 1], () => 1);
    const bytes = await fs.readFile(file);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    [3, 32767, 32767, 32767].forEach((d, i) => view.setInt16(40 + 2 * i, d, true));
    await fs.writeFile(file, bytes);
    assert.equal(await reasonOf(file), 'too_large');
  });
  it('singular affine: bad_affine', async () => {
    const flat = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]];
    assert.equal(await reasonOf(await write('flat.nii.gz', [24, 24, 24], [1, 1, 1], blob([24, 24, 24]), flat)), 'bad_affine');
  });
  it('an oblique, flipped affine still gives masks in the input geometry', async () => {
    const a = (25 * Math.PI) / 180;
    const affine = [[-Math.cos(a), 0, Math.sin(a), 40], [0, 1, 0, -30], [Math.sin(a), 0, Math.cos(a), -20], [0, 0, 0, 1]];
    const file = await write('oblique.nii.gz', [40, 36, 32], [1, 1, 1], blob([40, 36, 32]), affine);
    const result = await computeMasks(file, path.join(dir, 'oblique'), { useNetwork: false });
    const header = await readNiftiHeader(result.files.fbMask.path);
    assert.deepEqual(header.dim.slice(1, 4), [40, 36, 32]);
    assert.ok(result.warnings.some((w) => w.startsWith('oblique_affine')));
    assert.ok(result.files.fbMask.voxels > 0);
  });
});

describe('masks: cut flatness limits per grid', function () {
  it('are the 1 mm limits on 1 mm grids, add the staircase in quadrature up to 2 mm, and grow on thick slices', () => {
    assert.deepEqual(cutParamsFor([1, 1, 1]), CUT_PARAMS);
    assert.deepEqual(cutParamsFor([0.8, 0.8, 0.8]), CUT_PARAMS);
    const at2 = cutParamsFor([2, 2, 2]);
    assert.ok(Math.abs(at2.maxRmsMm - Math.sqrt(CUT_PARAMS.maxRmsMm ** 2 - 1 / 12 + 4 / 12)) < 1e-12);
    assert.ok(at2.maxRmsMm > 0.81 && at2.maxRmsMm < 0.83, `${at2.maxRmsMm}`);
    assert.equal(at2.minAreaMm2, CUT_PARAMS.minAreaMm2);
    assert.equal(at2.normalAgreement, CUT_PARAMS.normalAgreement);
    const at48 = cutParamsFor([4.8, 1, 1]);
    assert.ok(Math.abs(at48.maxRmsMm - (0.65 + 0.3 * 3.8)) < 1e-12);
    assert.equal(at48.normalAgreement, 0.8);
  });
});

describe('masks command', function () {
  this.timeout(120_000);

  it('writes both masks and masks.json, and prints the JSON with --json', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openmind-maskscli-'));
    const dims = [48, 48, 40];
    const file = path.join(dir, 'blob.nii.gz');
    const n = dims[0] * dims[1] * dims[2];
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = i % dims[0], y = Math.floor(i / dims[0]) % dims[1], z = Math.floor(i / (dims[0] * dims[1]));
      data[i] = Math.hypot(x - 24, y - 24, z - 20) < 15 ? 100 + (i % 7) : 0;
    }
    await writeNifti(file, { dims, pixdim: [1, 1, 1] }, data, { datatype: 'float32' });
    const printed: string[] = [];
    const previous = process.env.OPENMIND_MODELS_DIR;
    process.env.OPENMIND_MODELS_DIR = A.MODELS_DIR;
    try {
      await runMasks(file, { out: path.join(dir, 'out'), json: true, ep: 'cuda', print: (t) => printed.push(t) });
    } finally {
      if (previous === undefined) delete process.env.OPENMIND_MODELS_DIR;
      else process.env.OPENMIND_MODELS_DIR = previous;
    }
    const report = JSON.parse(printed.join('\n'));
    assert.ok(['none', 'defaced', 'blurred', 'skull_stripped'].includes(report.anonymization.type));
    assert.equal(typeof report.anonymization.confidence, 'number');
    assert.ok(report.timings.inference >= 0);
    if (report.executionProvider === 'cpu') assert.equal(report.fellBackToCpu, true);
    const saved = JSON.parse(await fs.readFile(path.join(dir, 'out', MASKS_JSON_NAME), 'utf8'));
    assert.deepEqual(saved.anonymization, report.anonymization);
    for (const f of ['fb_mask.nii.gz', 'deface_mask.nii.gz']) await fs.access(path.join(dir, 'out', f));
  });
});

describe('skin-edge widths (synthetic ball with a known blur)', () => {
  // A 60 mm ball on a 2 mm grid whose front cap is blurred with σ 3 mm, with and without noise at 3% of
  // the tissue level: the width read from the two-scale gradient ratio must be the blur's.
  const dims: Dims = [80, 80, 80];
  const spacing: Vec3 = [2, 2, 2];
  const n = dims[0] * dims[1] * dims[2];
  const ball = new Uint8Array(n);
  const cap = new Uint8Array(n);
  for (let k = 0, p = 0; k < 80; k++)
    for (let j = 0; j < 80; j++)
      for (let i = 0; i < 80; i++, p++) {
        const [x, y, z] = [(i - 40) * 2, (j - 40) * 2, (k - 40) * 2];
        ball[p] = x * x + y * y + z * z <= 60 * 60 ? 1 : 0;
        cap[p] = y > 25 ? 1 : 0;
      }
  const sharp = Float32Array.from(ball, (b) => 100 * b);
  const blurred = gaussianSmooth(sharp, dims, spacing, 3);
  const weight = gaussianSmooth(Float32Array.from(cap), dims, spacing, 2);
  const image = Float32Array.from(sharp, (v, p) => weight[p] * blurred[p] + (1 - weight[p]) * v);
  let seed = 5;
  const uniform = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const noisy = Float32Array.from(image, (v) => v + 3 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
  const none = new Uint8Array(n);

  function medianWidths(data: Float32Array): { cap: number; rest: number } {
    const widths = skinEdgeWidths({ data, dims, spacing }, ball, none);
    const inCap: number[] = [];
    const rest: number[] = [];
    for (let p = 0; p < n; p++) if (!Number.isNaN(widths[p])) (cap[p] && weight[p] > 0.9 ? inCap : weight[p] < 0.1 ? rest : []).push(widths[p]);
    const mid = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1];
    return { cap: mid(inCap), rest: mid(rest) };
  }

  it('reads the blur width at the blurred cap and a sharp edge elsewhere, with or without noise', () => {
    for (const data of [image, noisy]) {
      const w = medianWidths(data);
      assert.ok(w.cap > 2.3 && w.cap < 3.7, `blurred cap ${w.cap.toFixed(2)} mm, blur 3 mm`);
      assert.ok(w.rest < 1.2, `sharp surface ${w.rest.toFixed(2)} mm`);
    }
  });

  it('finds the blurred cap from the skin, and nothing on the intact ball', () => {
    const vol = (data: Float32Array) => ({ data, dims, spacing });
    const zone = Uint8Array.from(cap);
    for (const data of [image, noisy]) {
      const found = detectWideSkin(vol(data), ball, none, zone, zone, 0);
      assert.ok(found.detected, `gain ${(found.faceWideShare - found.elsewhereWideShare).toFixed(2)}`);
      // The tissue under the cap's skin is the cap's cone from the centre (the cap starts at y = 25 mm,
      // r = 60 mm); the region may reach a voxel or two past it, where the feathered blur does.
      let inCone = 0, shallowCap = 0, shallowFound = 0;
      for (let k = 0, p = 0; k < 80; k++)
        for (let j = 0; j < 80; j++)
          for (let i = 0; i < 80; i++, p++) {
            const [x, y, z] = [(i - 40) * 2, (j - 40) * 2, (k - 40) * 2];
            const r = Math.hypot(x, y, z);
            if (found.region[p] && y > (25 / 60) * r - 6) inCone++;
            if (ball[p] && r > 45 && y > (25 / 60) * r + 4) {
              shallowCap++;
              shallowFound += found.region[p];
            }
          }
      assert.ok(inCone / countOnes(found.region) > 0.95, `region in the cap's cone: ${inCone} of ${countOnes(found.region)}`);
      assert.ok(shallowFound / shallowCap > 0.9, `cap tissue within 15 mm of its skin found: ${shallowFound} of ${shallowCap}`);
    }
    assert.equal(detectWideSkin(vol(sharp), ball, none, zone, zone, 0).detected, false);
  });
});
