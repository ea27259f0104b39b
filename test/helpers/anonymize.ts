// Test-set builders: real heads from the shared data, anonymized here so the truth is known.
// Everything works in RAS index space (see lib/masks/volume.ts) and writes RAS-ordered NIfTI
// files into os.tmpdir(); the masks code reads them back like any other image.
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { affineOf, readNifti, writeNifti } from '../../lib/nifti/index.js';
import { ALL_AXES_EDGED, close, dilate, fillHoles, fillHolesSlices, gaussianSmooth, largestComponent } from '../../lib/volume/morphology.js';
import { voxelCount, type Dims, type Vec3 } from '../../lib/volume/shape.js';
import { invert4, multiply4, rasDims, rasSpacing, reorientationOf, toRas, worldOf, type Volume } from '../../lib/masks/volume.js';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const SHARED = process.env.OPENMIND_SHARED ?? path.resolve(REPO_ROOT, '../shared');
export const T1_HEAD = path.join(SHARED, 'images/t1w_head_brainchop.nii.gz');
export const FLAIR_SLAB = path.join(SHARED, 'images/flair_axial_dib2019.nii.gz');
export const FACE_MASK = path.join(SHARED, 'templates/pydeface_facemask.nii.gz');
export const MODELS_DIR = path.join(SHARED, 'models');

/** A head in RAS index space with its voxel -> world affine. */
export interface RasImage {
  vol: Volume;
  affine: number[][];
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `openmind-${prefix}-`));
}

/** Read any image into RAS index space. */
export async function readRas(file: string): Promise<RasImage> {
  const img = await readNifti(file);
  const dims = img.shape.slice(0, 3) as Dims;
  const reo = reorientationOf(affineOf(img.header), dims);
  const data = toRas(img.data.subarray(0, voxelCount(dims)), reo, (n) => new Float32Array(n));
  return { vol: { data, dims: rasDims(reo), spacing: rasSpacing(reo) }, affine: reo.rasAffine };
}

/** Read a mask written in any orientation back into RAS order, binarised. */
export async function readMaskRas(file: string): Promise<Uint8Array> {
  const { vol } = await readRas(file);
  return Uint8Array.from(vol.data, (v) => (v > 0.5 ? 1 : 0));
}

export async function writeRas(file: string, img: RasImage, data: Float32Array, datatype: 'uint8' | 'int16' | 'float32' = 'float32'): Promise<string> {
  await writeNifti(file, { dims: img.vol.dims, pixdim: img.vol.spacing, affine: img.affine }, data, { datatype });
  return file;
}

/**
 * The brainchop T1 head, cropped in z to its field of view: the file is a 256³ conformed grid whose
 * lowest 44 slices are zero padding below the acquisition's inferior edge (about nose level).
 * After the crop the field of view is the grid, so a region cut off by it touches the grid edge.
 */
export async function t1HeadInFov(): Promise<RasImage> {
  const full = await readRas(T1_HEAD);
  const [nx, ny, nz] = full.vol.dims;
  let zFirst = nz;
  for (let k = 0; k < nz && zFirst === nz; k++)
    for (let p = 0; p < nx * ny; p++)
      if (full.vol.data[p + k * nx * ny] > 0) {
        zFirst = k;
        break;
      }
  const dims: Dims = [nx, ny, nz - zFirst];
  const data = full.vol.data.slice(zFirst * nx * ny);
  const affine = full.affine.map((row) => [...row]);
  for (let r = 0; r < 3; r++) affine[r][3] += affine[r][2] * zFirst;
  return { vol: { data, dims, spacing: full.vol.spacing }, affine };
}

/**
 * Reference head mask of an image whose air is exactly zero (the brainchop T1 is stored that way):
 * every non-zero voxel, closed by 2 mm, the largest piece, holes filled in 3-D and then slice by
 * slice (axial, sagittal) so cavities open to the outside along one axis (nasal cavity, ear canals)
 * count as head. It uses no threshold, unlike the method under test.
 */
export function referenceHeadNonzero(vol: Volume): Uint8Array {
  let mask: Uint8Array = Uint8Array.from(vol.data, (v) => (v > 0 ? 1 : 0));
  mask = close(mask, vol.dims, vol.spacing, 2);
  mask = largestComponent(mask, vol.dims);
  mask = fillHoles(mask, vol.dims, ALL_AXES_EDGED);
  mask = fillHolesSlices(mask, vol.dims, 2, ALL_AXES_EDGED);
  return fillHolesSlices(mask, vol.dims, 0, ALL_AXES_EDGED);
}

/**
 * Reference head mask of an image with noise in the air (the FLAIR slab): after a 1.5 mm smoothing,
 * a threshold at 10% of the 99th percentile (air and its ghosting stay below it, the scalp is far
 * above), then the largest piece, a 2 mm closing and the same hole filling.
 */
export function referenceHeadNoisy(vol: Volume): Uint8Array {
  const s = gaussianSmooth(vol.data, vol.dims, vol.spacing, 1.5);
  const sorted = Float32Array.from(s).sort();
  const threshold = 0.1 * sorted[Math.floor(0.99 * (sorted.length - 1))];
  let mask: Uint8Array = Uint8Array.from(s, (v) => (v > threshold ? 1 : 0));
  mask = largestComponent(mask, vol.dims);
  mask = close(mask, vol.dims, vol.spacing, 2);
  mask = fillHoles(mask, vol.dims, ALL_AXES_EDGED);
  return fillHolesSlices(mask, vol.dims, 2, ALL_AXES_EDGED);
}

/** The region an anonymization may claim: the head's x and z extent, from its back to the front of the grid. */
export function openFrontBox(head: Uint8Array, dims: Dims): Uint8Array {
  const [nx, ny, nz] = dims;
  const lo = [nx, ny, nz];
  const hi = [-1, -1, -1];
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++)
        if (head[p]) {
          lo[0] = Math.min(lo[0], i); hi[0] = Math.max(hi[0], i);
          lo[1] = Math.min(lo[1], j);
          lo[2] = Math.min(lo[2], k); hi[2] = Math.max(hi[2], k);
        }
  const box = new Uint8Array(head.length);
  p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) box[p] = i >= lo[0] && i <= hi[0] && j >= lo[1] && k >= lo[2] && k <= hi[2] ? 1 : 0;
  return box;
}

function brainBoxWorld(img: RasImage, brain: Uint8Array): { lo: Vec3; hi: Vec3; centre: Vec3 } {
  const [nx, ny, nz] = img.vol.dims;
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  const sum = [0, 0, 0];
  let n = 0;
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        if (!brain[p]) continue;
        const w = worldOf(img.affine, [i, j, k]);
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a], w[a]);
          hi[a] = Math.max(hi[a], w[a]);
          sum[a] += w[a];
        }
        n++;
      }
  return { lo, hi, centre: sum.map((s) => s / n) as Vec3 };
}

/** pydeface's face mask (1 = keep, 0 = face) and its voxel -> world affine. */
export async function loadFaceMask(): Promise<{ data: Float32Array; dims: Dims; affine: number[][] }> {
  const img = await readNifti(FACE_MASK);
  return { data: img.data, dims: img.shape.slice(0, 3) as Dims, affine: affineOf(img.header) };
}

function rotationX(deg: number, about: Vec3): number[][] {
  const a = (deg * Math.PI) / 180;
  const c = Math.cos(a);
  const s = Math.sin(a);
  const t = [
    [1, 0, 0, about[0]],
    [0, 1, 0, about[1]],
    [0, 0, 1, about[2]],
    [0, 0, 0, 1],
  ];
  const r = [
    [1, 0, 0, 0],
    [0, c, -s, 0],
    [0, s, c, 0],
    [0, 0, 0, 1],
  ];
  const back = [
    [1, 0, 0, -about[0]],
    [0, 1, 0, -about[1]],
    [0, 0, 1, -about[2]],
    [0, 0, 0, 1],
  ];
  return multiply4(t, multiply4(r, back));
}

/**
 * Place pydeface's face mask onto a head with an affine computed from its brain mask, the way
 * pydeface's registration ends up: laterally centred on the brain, the block's back face `backMm`
 * behind the brain's frontal pole (through the orbits), pitched by `pitchDeg` about its upper back edge, and lowered
 * until it stays 4 mm clear of the brain. Returns the face region (1 = removed) on the head's grid.
 */
export function placeFaceMask(img: RasImage, brain: Uint8Array, face: { data: Float32Array; dims: Dims; affine: number[][] }, pitchDeg = 6, backMm = 30): { region: Uint8Array; templateToWorld: number[][] } {
  const box = brainBoxWorld(img, brain);
  // Face block geometry in template world coordinates.
  const [fx, fy, fz] = face.dims;
  let yBack = Infinity, zTop = -Infinity, xSum = 0, count = 0;
  let p = 0;
  for (let k = 0; k < fz; k++)
    for (let j = 0; j < fy; j++)
      for (let i = 0; i < fx; i++, p++) {
        if (face.data[p] >= 0.5) continue;
        const w = worldOf(face.affine, [i, j, k]);
        yBack = Math.min(yBack, w[1]);
        zTop = Math.max(zTop, w[2]);
        xSum += w[0];
        count++;
      }
  const xCentre = xSum / count;
  const [nx, ny, nz] = img.vol.dims;
  const templateVoxel = invert4(face.affine);
  const regionFor = (dz: number) => {
    const shift = [
      [1, 0, 0, box.centre[0] - xCentre],
      [0, 1, 0, box.hi[1] - backMm - yBack],
      [0, 0, 1, dz],
      [0, 0, 0, 1],
    ];
    const pivot: Vec3 = [box.centre[0], box.hi[1] - backMm, zTop + dz];
    const templateToWorld = multiply4(rotationX(pitchDeg, pivot), shift);
    const worldToTemplateVoxel = multiply4(templateVoxel, invert4(templateToWorld));
    const region = new Uint8Array(voxelCount(img.vol.dims));
    let q = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, q++) {
          const w = worldOf(img.affine, [i, j, k]);
          const t = worldOf(worldToTemplateVoxel, w);
          const ti = Math.round(t[0]), tj = Math.round(t[1]), tk = Math.round(t[2]);
          if (ti < 0 || tj < 0 || tk < 0 || ti >= fx || tj >= fy || tk >= fz) continue;
          region[q] = face.data[ti + fx * (tj + fy * tk)] < 0.5 ? 1 : 0;
        }
    return { region, templateToWorld };
  };
  // Lower the block in 2 mm steps until it is 4 mm clear of the brain.
  const clear = dilate(brain, img.vol.dims, img.vol.spacing, 4);
  for (let dz = 40; dz > -80; dz -= 2) {
    const placed = regionFor(dz);
    let overlap = 0;
    for (let i = 0; i < placed.region.length; i++) overlap += placed.region[i] & clear[i];
    if (overlap === 0) return placed;
  }
  throw new Error('could not place the face mask clear of the brain');
}

export interface AnonymizedCase {
  data: Float32Array;
  /** The known anonymization region (see each builder). */
  truth: Uint8Array;
}

/** pydeface-like: every voxel of the placed face region is set to 0. Truth: that region within the head's open-front box. */
export function pydefaceLike(img: RasImage, refHead: Uint8Array, region: Uint8Array): AnonymizedCase {
  const data = img.vol.data.slice();
  for (let i = 0; i < data.length; i++) if (region[i]) data[i] = 0;
  const box = openFrontBox(refHead, img.vol.dims);
  return { data, truth: Uint8Array.from(region, (r, i) => r & box[i]) };
}

/**
 * quickshear-like: a plane tangent to the brain's lower front, 3 mm clear of it, tilted `tiltDeg`
 * from the coronal plane towards axial; everything anterior-inferior of it is set to 0.
 */
export function quickshearLike(img: RasImage, refHead: Uint8Array, brain: Uint8Array, tiltDeg = 50): AnonymizedCase {
  const a = (tiltDeg * Math.PI) / 180;
  const n: Vec3 = [0, Math.cos(a), -Math.sin(a)];
  const [nx, ny, nz] = img.vol.dims;
  const sp = img.vol.spacing;
  let offset = -Infinity;
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) if (brain[p]) offset = Math.max(offset, n[1] * j * sp[1] + n[2] * k * sp[2]);
  offset += 3;
  const data = img.vol.data.slice();
  const region = new Uint8Array(data.length);
  p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++)
        if (n[1] * j * sp[1] + n[2] * k * sp[2] > offset) {
          region[p] = 1;
          data[p] = 0;
        }
  const box = openFrontBox(refHead, img.vol.dims);
  return { data, truth: Uint8Array.from(region, (r, i) => r & box[i]) };
}

/**
 * Face blur: the placed face region, feathered (3 mm Gaussian), blends the image with a 4 mm
 * Gaussian blur of itself. Truth: where the blend weight is at least 0.5, limited to the
 * original head and to the air the blur changed (by more than 2% of the 99th percentile).
 */
export function faceBlur(img: RasImage, refHead: Uint8Array, region: Uint8Array, sigmaMm = 4): AnonymizedCase {
  const { vol } = img;
  const weight = gaussianSmooth(Float32Array.from(region), vol.dims, vol.spacing, 3);
  const blurred = gaussianSmooth(vol.data, vol.dims, vol.spacing, sigmaMm);
  const data = new Float32Array(vol.data.length);
  for (let i = 0; i < data.length; i++) data[i] = weight[i] * blurred[i] + (1 - weight[i]) * vol.data[i];
  const sorted = Float32Array.from(vol.data).sort();
  const epsilon = 0.02 * sorted[Math.floor(0.99 * sorted.length)];
  const truth = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) truth[i] = weight[i] >= 0.5 && (refHead[i] || Math.abs(data[i] - vol.data[i]) > epsilon) ? 1 : 0;
  return { data, truth };
}

/** Skull stripping with a reference brain mask. Truth: the reference head minus the brain. */
export function skullStrip(img: RasImage, refHead: Uint8Array, brain: Uint8Array): AnonymizedCase {
  const data = Float32Array.from(img.vol.data, (v, i) => (brain[i] ? v : 0));
  return { data, truth: Uint8Array.from(refHead, (h, i) => (h && !brain[i] ? 1 : 0)) };
}

/** Gaussian noise on the real and imaginary channels (Rician magnitude), seeded. */
export function addRicianNoise(data: Float32Array, sigma: number, seed = 7): Float32Array {
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return Float32Array.from(data, (v) => Math.hypot(v + sigma * gauss(), sigma * gauss()));
}

/** Every head image in the shared data: the brainchop T1, the heads under real/, and the FLAIR slab. */
export async function sharedHeads(): Promise<{ name: string; file: string }[]> {
  const out = [{ name: 't1w_brainchop', file: T1_HEAD }];
  const realDir = path.join(SHARED, 'images/real');
  for (const entry of (await fs.readdir(realDir)).sort()) {
    const file = path.join(realDir, entry, 'image.nii.gz');
    if (await fs.stat(file).then((s) => s.isFile(), () => false)) out.push({ name: entry.replace(/_dcmqa.*$/, ''), file });
  }
  out.push({ name: 'flair_slab', file: FLAIR_SLAB });
  return out;
}

/** Share of voxels holding exactly zero: images whose air was stored as zero. */
export function zeroFraction(data: Float32Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0) n++;
  return n / data.length;
}

/**
 * Reference head mask of any head: the non-zero rule where most of the grid is exactly zero (air
 * stored as zero), else the noisy-air rule. The 3 mm GRE has a third of its grid at zero but noise
 * in the rest of its air, which the non-zero rule would count as head.
 */
export function referenceHead(vol: Volume): Uint8Array {
  return zeroFraction(vol.data) > 0.5 ? referenceHeadNonzero(vol) : referenceHeadNoisy(vol);
}

/** Block-average a RAS image by integer factors (to make a big head cheaper to test). */
export function downsampleRas(img: RasImage, f: Vec3): RasImage {
  const [nx, ny, nz] = img.vol.dims;
  const dims = [Math.floor(nx / f[0]), Math.floor(ny / f[1]), Math.floor(nz / f[2])] as Dims;
  const data = new Float32Array(voxelCount(dims));
  const inv = 1 / (f[0] * f[1] * f[2]);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        let s = 0;
        for (let c = 0; c < f[2]; c++) for (let b = 0; b < f[1]; b++) for (let a = 0; a < f[0]; a++) s += img.vol.data[i * f[0] + a + nx * (j * f[1] + b + ny * (k * f[2] + c))];
        data[i + dims[0] * (j + dims[1] * k)] = s * inv;
      }
  const affine = img.affine.map((row, r) => {
    if (r === 3) return [...row];
    const out = [row[0] * f[0], row[1] * f[1], row[2] * f[2], row[3]];
    for (let a = 0; a < 3; a++) out[3] += row[a] * (f[a] - 1) / 2;
    return out;
  });
  return { vol: { data, dims, spacing: img.vol.spacing.map((s, a) => s * f[a]) as Vec3 }, affine };
}

/**
 * Face blur as obfuscation tools do it, optionally hiding the blur under noise: `faceBlur` with
 * Gaussian noise (SD `noiseFraction` of the 99th percentile) added where the blend weight is at least 0.5.
 */
export function faceBlurNoisy(img: RasImage, refHead: Uint8Array, region: Uint8Array, sigmaMm: number, noiseFraction: number, seed = 11): AnonymizedCase {
  const c = faceBlur(img, refHead, region, sigmaMm);
  if (noiseFraction <= 0) return c;
  const sorted = Float32Array.from(img.vol.data).sort();
  const sd = noiseFraction * sorted[Math.floor(0.99 * (sorted.length - 1))];
  const weight = gaussianSmooth(Float32Array.from(region), img.vol.dims, img.vol.spacing, 3);
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const data = c.data.slice();
  for (let i = 0; i < data.length; i++) {
    if (weight[i] < 0.05) continue;
    const g = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    data[i] = Math.max(0, data[i] + weight[i] * sd * g);
  }
  return { data, truth: c.truth };
}
