// QC pictures: a mosaic per scan (slices in three planes, percentile-windowed, with the anatomy
// and anonymization mask outlines on top) and a montage per dataset × modality (up to N scans,
// sampled with a seed so that reruns show the same ones).
import fs from 'node:fs/promises';
import path from 'node:path';
import { QualityError } from './errors.js';
import { createRgbImage, decodePng, encodePng, type RgbImage } from '../png.js';
import { sampleWithoutReplacement } from '../random.js';
import { percentiles } from '../volume/statistics.js';

export interface MosaicImage {
  data: ArrayLike<number>;
  shape: number[];
  voxelSize: number[];
  /** Voxel -> RAS mm; orients the slices (axial, coronal, sagittal). Voxel axes are taken as RAS without it. */
  affine?: number[][];
}

export interface MosaicMasks {
  anatomy?: Uint8Array;
  anonymization?: Uint8Array;
}

export interface MosaicOptions {
  /** Slices per plane (default 4), evenly spaced through the anatomy. */
  slicesPerPlane?: number;
  /** Side of each square slice tile in pixels (default 160). */
  tileSize?: number;
  /** Intensity window as percentiles of the anatomy (default [1, 99]). */
  window?: [number, number];
}

type Rgb = [number, number, number];

/** Outline colours, also shown in the rating page's legend. */
export const MASK_COLOURS: { anatomy: Rgb; anonymization: Rgb } = { anatomy: [40, 220, 90], anonymization: [255, 60, 200] };
const BACKGROUND: Rgb = [16, 16, 16];
const GAP = 2;

/** Which voxel axis runs along each RAS axis, and whether it runs backwards. */
interface RasView {
  axisOf: [number, number, number];
  flipped: [boolean, boolean, boolean];
  dims: [number, number, number];
  spacing: [number, number, number];
}

/** The voxel axis closest to each RAS axis (greedy on the direction cosines keeps it a permutation). */
function rasViewOf(shape: number[], voxelSize: number[], affine?: number[][]): RasView {
  const axisOf: number[] = [0, 1, 2];
  const flipped = [false, false, false];
  if (affine) {
    const norms = [0, 1, 2].map((c) => Math.hypot(affine[0][c], affine[1][c], affine[2][c]) || 1);
    const pairs: { world: number; voxel: number; cos: number }[] = [];
    for (let w = 0; w < 3; w++) for (let v = 0; v < 3; v++) pairs.push({ world: w, voxel: v, cos: Math.abs(affine[w][v]) / norms[v] });
    pairs.sort((a, b) => b.cos - a.cos);
    const used = new Set<number>();
    const assigned = new Set<number>();
    for (const p of pairs) {
      if (assigned.has(p.world) || used.has(p.voxel)) continue;
      axisOf[p.world] = p.voxel;
      flipped[p.world] = affine[p.world][p.voxel] < 0;
      used.add(p.voxel);
      assigned.add(p.world);
    }
  }
  const dims = axisOf.map((v) => shape[v]) as [number, number, number];
  const spacing = axisOf.map((v) => (voxelSize[v] > 0 ? voxelSize[v] : 1)) as [number, number, number];
  return { axisOf: axisOf as [number, number, number], flipped: flipped as [boolean, boolean, boolean], dims, spacing };
}

/** Linear voxel index of RAS index r. */
function voxelIndex(view: RasView, shape: number[], r: [number, number, number]): number {
  const o = [0, 0, 0];
  for (let a = 0; a < 3; a++) o[view.axisOf[a]] = view.flipped[a] ? view.dims[a] - 1 - r[a] : r[a];
  return o[0] + shape[0] * (o[1] + shape[1] * o[2]);
}

/** Planes as (fixed RAS axis, horizontal axis, vertical axis): axial, coronal, sagittal. */
const PLANES: { fixed: number; horizontal: number; vertical: number }[] = [
  { fixed: 2, horizontal: 0, vertical: 1 },
  { fixed: 1, horizontal: 0, vertical: 2 },
  { fixed: 0, horizontal: 1, vertical: 2 },
];

/** RAS bounding box of a mask, or the whole grid. */
function boundsOf(view: RasView, shape: number[], mask?: Uint8Array): [number, number][] {
  if (!mask) return view.dims.map((d) => [0, d - 1] as [number, number]);
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  let i = 0;
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++, i++) {
        if (!mask[i]) continue;
        const o = [x, y, z];
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a], o[a]);
          hi[a] = Math.max(hi[a], o[a]);
        }
      }
  if (lo[0] === Infinity) return view.dims.map((d) => [0, d - 1] as [number, number]);
  // Voxel-axis bounds -> RAS-axis bounds.
  return [0, 1, 2].map((a) => {
    const v = view.axisOf[a];
    return view.flipped[a] ? ([shape[v] - 1 - hi[v], shape[v] - 1 - lo[v]] as [number, number]) : ([lo[v], hi[v]] as [number, number]);
  });
}

/** Grey window [low, high] from percentiles of the anatomy (or of the non-zero voxels). */
function windowOf(data: ArrayLike<number>, anatomy: Uint8Array | undefined, q: [number, number]): [number, number] {
  const n = anatomy ? anatomy.length : data.length;
  const chosen = (i: number) => (anatomy ? anatomy[i] !== 0 : data[i] !== 0);
  let count = 0;
  for (let i = 0; i < n; i++) if (chosen(i)) count++;
  if (!count) return [0, 1];
  const values = new Float32Array(count);
  for (let i = 0, k = 0; i < n; i++) if (chosen(i)) values[k++] = data[i];
  const [low, high] = percentiles(values, q);
  return high > low ? [low, high] : [low, low + 1];
}

/** True where a tile pixel is set and one of its 4 neighbours is not: the mask outline. */
function outlineOf(tile: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(tile.length);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const i = x + size * y;
      if (!tile[i]) continue;
      const edge = x === 0 || y === 0 || x === size - 1 || y === size - 1 || !tile[i - 1] || !tile[i + 1] || !tile[i - size] || !tile[i + size];
      out[i] = edge ? 1 : 0;
    }
  return out;
}

/**
 * One scan's QC mosaic: three rows (axial, coronal, sagittal; neurological orientation, superior and
 * anterior up) of `slicesPerPlane` slices each, resampled to square tiles with the physical aspect kept.
 */
export function renderScanMosaic(image: MosaicImage, masks: MosaicMasks = {}, opts: MosaicOptions = {}): RgbImage {
  const shape = image.shape.slice(0, 3);
  const n = shape[0] * shape[1] * shape[2];
  if (shape.length < 3 || image.data.length < n) throw new QualityError('shape_mismatch', `mosaic needs a 3D image; shape [${image.shape.join(', ')}]`);
  for (const [name, m] of Object.entries(masks)) {
    if (m && m.length !== n) throw new QualityError('mask_shape_mismatch', `the ${name} mask has ${m.length} voxels, the image ${n}`);
  }
  const perPlane = Math.max(1, opts.slicesPerPlane ?? 4);
  const size = Math.max(16, opts.tileSize ?? 160);
  const view = rasViewOf(shape, image.voxelSize, image.affine);
  const bounds = boundsOf(view, shape, masks.anatomy);
  const [low, high] = windowOf(image.data, masks.anatomy, opts.window ?? [1, 99]);
  const canvas = createRgbImage(perPlane * size + (perPlane + 1) * GAP, PLANES.length * size + (PLANES.length + 1) * GAP, BACKGROUND);
  PLANES.forEach((plane, row) => {
    const [from, to] = bounds[plane.fixed];
    for (let col = 0; col < perPlane; col++) {
      const slice = Math.round(from + ((to - from) * (col + 1)) / (perPlane + 1));
      const tile = renderSliceTile(image, masks, view, shape, plane, slice, size, low, high);
      blit(canvas, tile, GAP + col * (size + GAP), GAP + row * (size + GAP));
    }
  });
  return canvas;
}

function renderSliceTile(
  image: MosaicImage,
  masks: MosaicMasks,
  view: RasView,
  shape: number[],
  plane: { fixed: number; horizontal: number; vertical: number },
  slice: number,
  size: number,
  low: number,
  high: number,
): RgbImage {
  const h = plane.horizontal;
  const v = plane.vertical;
  const mmPerPixel = Math.max(view.dims[h] * view.spacing[h], view.dims[v] * view.spacing[v]) / size;
  // Centre the slice in the tile: offsets in mm of the tile's first pixel from the slice's origin.
  const offH = (view.dims[h] * view.spacing[h] - size * mmPerPixel) / 2;
  const offV = (view.dims[v] * view.spacing[v] - size * mmPerPixel) / 2;
  const tile = createRgbImage(size, size, BACKGROUND);
  const anatomy = new Uint8Array(size * size);
  const anon = new Uint8Array(size * size);
  const r: [number, number, number] = [0, 0, 0];
  r[plane.fixed] = slice;
  for (let py = 0; py < size; py++) {
    // Row 0 is the top of the picture: the largest vertical (anterior/superior) coordinate.
    const iv = Math.floor((offV + (size - 1 - py + 0.5) * mmPerPixel) / view.spacing[v]);
    if (iv < 0 || iv >= view.dims[v]) continue;
    for (let px = 0; px < size; px++) {
      const ih = Math.floor((offH + (px + 0.5) * mmPerPixel) / view.spacing[h]);
      if (ih < 0 || ih >= view.dims[h]) continue;
      r[h] = ih;
      r[v] = iv;
      const idx = voxelIndex(view, shape, r);
      const grey = Math.round(255 * Math.min(1, Math.max(0, (image.data[idx] - low) / (high - low))));
      tile.pixels.set([grey, grey, grey], (px + size * py) * 3);
      if (masks.anatomy?.[idx]) anatomy[px + size * py] = 1;
      if (masks.anonymization?.[idx]) anon[px + size * py] = 1;
    }
  }
  paintOutline(tile, outlineOf(anatomy, size), MASK_COLOURS.anatomy);
  paintOutline(tile, outlineOf(anon, size), MASK_COLOURS.anonymization);
  return tile;
}

function paintOutline(tile: RgbImage, outline: Uint8Array, colour: Rgb): void {
  for (let i = 0; i < outline.length; i++) if (outline[i]) tile.pixels.set(colour, i * 3);
}

/** Copy `src` into `dst` with its top-left corner at (x, y), clipped to `dst`. */
export function blit(dst: RgbImage, src: RgbImage, x: number, y: number): void {
  for (let row = 0; row < src.height; row++) {
    const ty = y + row;
    if (ty < 0 || ty >= dst.height) continue;
    const from = Math.max(0, -x);
    const to = Math.min(src.width, dst.width - x);
    if (to <= from) continue;
    dst.pixels.set(src.pixels.subarray((row * src.width + from) * 3, (row * src.width + to) * 3), (ty * dst.width + x + from) * 3);
  }
}

/** Resize by area averaging when shrinking and nearest neighbour when growing. */
export function resizeRgb(src: RgbImage, width: number, height: number): RgbImage {
  const out = createRgbImage(width, height);
  const sx = src.width / width;
  const sy = src.height / height;
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y * sy);
    const y1 = Math.max(y0 + 1, Math.min(src.height, Math.floor((y + 1) * sy)));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor(x * sx);
      const x1 = Math.max(x0 + 1, Math.min(src.width, Math.floor((x + 1) * sx)));
      const sum = [0, 0, 0];
      for (let yy = y0; yy < y1; yy++)
        for (let xx = x0; xx < x1; xx++) for (let k = 0; k < 3; k++) sum[k] += src.pixels[(yy * src.width + xx) * 3 + k];
      const count = (y1 - y0) * (x1 - x0);
      for (let k = 0; k < 3; k++) out.pixels[(y * width + x) * 3 + k] = Math.round(sum[k] / count);
    }
  }
  return out;
}

export interface MontageOptions {
  /** Pictures per row (default: all of them, up to 4). */
  columns?: number;
  /** Width every picture is scaled to (default 320 px). */
  tileWidth?: number;
}

/** Pictures side by side in a grid, each scaled to the same width. */
export function renderMontage(pictures: RgbImage[], opts: MontageOptions = {}): RgbImage {
  if (!pictures.length) throw new QualityError('no_scans', 'a montage needs at least one picture');
  const columns = Math.max(1, Math.min(pictures.length, opts.columns ?? 4));
  const tileWidth = Math.max(16, opts.tileWidth ?? 320);
  const scaled = pictures.map((p) => resizeRgb(p, tileWidth, Math.max(1, Math.round((p.height * tileWidth) / p.width))));
  const rows = Math.ceil(scaled.length / columns);
  const rowHeights = Array.from({ length: rows }, (_, r) => Math.max(...scaled.slice(r * columns, (r + 1) * columns).map((p) => p.height)));
  const gap = 3 * GAP;
  const width = columns * tileWidth + (columns + 1) * gap;
  const height = rowHeights.reduce((s, h) => s + h, 0) + (rows + 1) * gap;
  const canvas = createRgbImage(width, height, [48, 48, 48]);
  let y = gap;
  for (let r = 0; r < rows; r++) {
    scaled.slice(r * columns, (r + 1) * columns).forEach((p, c) => blit(canvas, p, gap + c * (tileWidth + gap), y));
    y += rowHeights[r] + gap;
  }
  return canvas;
}

/** Up to n items, drawn with a seed (e.g. "ds000001/T1w"), in their original order. */
export function sampleForMontage<T>(items: readonly T[], n: number, seed: string): T[] {
  return sampleWithoutReplacement(items, n, seed);
}

export async function writePng(file: string, image: RgbImage): Promise<{ path: string; width: number; height: number; bytes: number }> {
  const png = encodePng(image);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, png);
  await fs.rename(tmp, file);
  return { path: file, width: image.width, height: image.height, bytes: png.length };
}

/** Render and write one scan's mosaic PNG. */
export async function writeScanMosaic(file: string, image: MosaicImage, masks: MosaicMasks = {}, opts: MosaicOptions = {}) {
  return writePng(file, renderScanMosaic(image, masks, opts));
}

/**
 * The montage of a dataset × modality from the scans' mosaic PNGs: up to `n` (default 6)
 * drawn with `seed`. Returns which mosaics were used.
 */
export async function writeMontage(
  file: string,
  mosaicPaths: string[],
  opts: MontageOptions & { n?: number; seed: string },
): Promise<{ path: string; width: number; height: number; bytes: number; chosen: string[] }> {
  const chosen = sampleForMontage(mosaicPaths, opts.n ?? 6, opts.seed);
  const pictures = await Promise.all(chosen.map(async (p) => decodePng(await fs.readFile(p))));
  const written = await writePng(file, renderMontage(pictures, opts));
  return { ...written, chosen };
}
