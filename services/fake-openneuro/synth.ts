// Deterministic synthetic NIfTI images for the fake OpenNeuro. Each image is a small
// phantom (a head-like blob so brain masks work; DWI volumes follow the dataset's b-values)
// and differs per path only in its last slice. That makes listing cheap: the bytes before
// the last slice are compressed and hashed once per template, and each path appends its
// slice as a stored deflate block (valid gzip, any reader), reusing the cached MD5/SHA-256
// state and CRC. Listing a dataset with thousands of images takes milliseconds.
import crypto, { type Hash } from 'node:crypto';
import zlib from 'node:zlib';
import { encodeNifti1, NIFTI1_VOX_OFFSET } from '../../lib/nifti/index.js';
import { bidsSuffix } from '../../lib/openneuro/selection.js';
import { hashSeed, seededRandom } from '../../lib/random.js';

type Datatype = 'uint8' | 'int16' | 'float32';
type Contrast = 't1' | 't2' | 'flair' | 'pd' | 'map' | 'mask' | 'dwi' | 'pet' | 'bold' | 'plain';

export interface ImageSpec {
  dims: number[];
  pixdim: number[];
  datatype: Datatype;
  contrast: Contrast;
  /** Small anatomical variation (0..2), picked from the path. */
  variant: number;
  bvals?: number[];
}

export interface SynthImage {
  size: number;
  md5: string;
  /** Computed on first use (only SHA256E keys need it). */
  readonly sha256: string;
  bytes(): Buffer;
}

interface Template {
  spec: ImageSpec;
  /** Header and voxels up to the last slice of the last volume, as shared pieces. */
  rawPieces: Buffer[];
  rawPrefixLength: number;
  /** Last slice as the template has it; each path perturbs a copy. */
  tail: Buffer;
  rawLength: number;
  /** Hash states after the raw prefix (for .nii). */
  raw: { md5: Hash; sha256: Hash };
  /** gzip header + deflated prefix pieces, their CRC-32 (of the raw prefix) and hash states. */
  gz: { pieces: Buffer[]; length: number; crc: number; md5: Hash; sha256: Hash };
}

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]); // mtime 0, unix
const templates = new Map<string, Template>();
const DEFAULT_DWI_BVALS = [0, 1000, 1000, 1000, 1000, 1000, 1000];

/** Deterministic 32-bit seed from text (FNV-1a; speed matters, strength does not). */
export const seedOf = (text: string): number => hashSeed(text);

/** Count of b-values in a .bval text (= volumes of the DWI series). */
export function parseBvals(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const values = text.trim().split(/\s+/).map(Number).filter((v) => Number.isFinite(v));
  return values.length ? values : undefined;
}

/**
 * Head grid of the 3-D images the pipeline processes: 5 mm isotropic over 180 x 200 x 160 mm.
 * Downstream steps need at least 16 voxels per axis and voxels of at most 6 mm (masks), and a
 * shipped defacemask on the grid of its image, so every anat image shares this grid.
 */
const HEAD_GRID = { dims: [36, 40, 32], pixdim: [5, 5, 5] };
/** DWI: 16 x 16 x 16 voxels of 6 mm per volume, so a series of ~100 volumes stays a few hundred KB. */
const DWI_GRID = { dims: [16, 16, 16], pixdim: [6, 6, 6] };

/** Plausible small geometry per BIDS datatype/suffix (files nobody processes get a tiny image). */
export function imageSpecFor(datasetId: string, filePath: string, bvals?: number[]): ImageSpec {
  const segs = filePath.split('/');
  const name = segs[segs.length - 1];
  const folder = segs[segs.length - 2] ?? '';
  const suffix = bidsSuffix(name).toLowerCase();
  const variant = seedOf(`${datasetId}/${filePath}`) % 3;
  const derived = segs[0] === 'derivatives' || segs[0] === 'sourcedata';
  const head = (datatype: Datatype, contrast: Contrast): ImageSpec => ({ dims: [...HEAD_GRID.dims], pixdim: [...HEAD_GRID.pixdim], datatype, contrast, variant });
  if (!derived && folder === 'anat') {
    if (suffix === 'defacemask') return head('uint8', 'mask');
    if (/map$/.test(suffix)) return head('float32', 'map');
    if (suffix.startsWith('inplane')) return { dims: [36, 40, 24], pixdim: [5, 5, 6], datatype: 'int16', contrast: suffix === 'inplanet2' ? 't2' : 't1', variant };
    return head('int16', anatContrast(suffix));
  }
  if (!derived && folder === 'dwi' && suffix === 'dwi') {
    const b = bvals ?? DEFAULT_DWI_BVALS;
    return { dims: [...DWI_GRID.dims, b.length], pixdim: [...DWI_GRID.pixdim, 3], datatype: 'int16', contrast: 'dwi', variant, bvals: b };
  }
  if (!derived && folder === 'pet' && suffix === 'pet') return head('float32', 'pet');
  if (!derived && folder === 'func' && suffix === 'bold') return { dims: [8, 8, 6, 4], pixdim: [24, 24, 30, 2], datatype: 'int16', contrast: 'bold', variant: 0 };
  return { dims: [8, 8, 6], pixdim: [24, 24, 30], datatype: 'int16', contrast: 'plain', variant: 0 };
}

function anatContrast(suffix: string): Contrast {
  if (suffix.startsWith('flair')) return 'flair';
  if (suffix.startsWith('t2') || suffix === 'angio' || suffix === 'megre' || suffix === 'mese' || suffix === 'swi') return 't2';
  if (suffix.startsWith('pd')) return 'pd';
  return 't1';
}

/** Signal of each tissue per contrast: [background, scalp, skull, csf, gm, wm]. */
const INTENSITY: Record<string, number[]> = {
  t1: [4, 650, 60, 160, 420, 720],
  t2: [4, 420, 40, 950, 560, 380],
  flair: [4, 500, 40, 90, 470, 360],
  pd: [4, 600, 60, 800, 700, 560],
  map: [0, 1200, 300, 4000, 1350, 850],
  pet: [0, 0.4, 0.1, 0.3, 3.5, 1.6],
  bold: [10, 500, 50, 900, 700, 600],
  plain: [0, 300, 30, 500, 400, 350],
};

/** Tissue index at a voxel of an ellipsoidal head phantom (0 = background). */
function tissueAt(x: number, y: number, z: number, dims: number[], variant: number): number {
  const scale = 1 + (variant - 1) * 0.05;
  const rx = dims[0] * 0.4 * scale;
  const ry = dims[1] * 0.46 * scale;
  const rz = dims[2] * 0.42 * scale;
  const cx = (dims[0] - 1) / 2;
  const cy = (dims[1] - 1) / 2 + dims[1] * 0.02;
  const cz = (dims[2] - 1) / 2 - dims[2] * 0.04;
  const r = Math.hypot((x - cx) / rx, (y - cy) / ry, (z - cz) / rz);
  if (r > 1) return 0;
  if (r > 0.9) return 1; // scalp
  if (r > 0.82) return 2; // skull
  if (r > 0.76) return 3; // CSF around the brain
  const ventricle = Math.hypot((x - cx) / (rx * 0.18), (y - cy) / (ry * 0.3), (z - cz - rz * 0.1) / (rz * 0.2));
  if (ventricle < 1) return 3;
  return r > 0.55 ? 4 : 5; // gray matter shell, white matter core
}

const tissueMaps = new Map<string, Uint8Array>();

/** Tissue index per voxel of one volume, x fastest; cached per grid and variant. */
function tissueMap(dims: number[], variant: number): Uint8Array {
  const key = `${dims[0]}x${dims[1]}x${dims[2]}:${variant}`;
  let map = tissueMaps.get(key);
  if (!map) {
    map = new Uint8Array(dims[0] * dims[1] * dims[2]);
    let i = 0;
    for (let z = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) map[i++] = tissueAt(x, y, z, dims, variant);
    tissueMaps.set(key, map);
  }
  return map;
}

/** One voxel's value; rounded (PET to 1/256) so the bytes compress well, as real images do. */
function voxelValue(spec: ImageSpec, tissue: number, b: number, t: number, n: number): number {
  switch (spec.contrast) {
    case 'mask':
      return tissue > 0 ? 1 : 0;
    case 'dwi': {
      const s0 = [6, 520, 60, 1300, 800, 700][tissue];
      const adc = [0, 0.0012, 0.0005, 0.003, 0.0009, 0.0007][tissue];
      return Math.max(0, Math.round(s0 * Math.exp(-Math.max(0, b) * adc) + n * 6));
    }
    case 'bold':
      return Math.round(INTENSITY.bold[tissue] * (1 + 0.01 * Math.sin(t)) + n * 8);
    case 'pet':
      return Math.max(0, Math.round((INTENSITY.pet[tissue] + n * 0.05) * 256) / 256);
    default: {
      const spread = spec.contrast === 'map' ? 40 : 6;
      return Math.max(0, Math.round(INTENSITY[spec.contrast][tissue] + n * spread));
    }
  }
}

function bytesPerVoxel(datatype: Datatype): number {
  return datatype === 'uint8' ? 1 : datatype === 'int16' ? 2 : 4;
}

/** One volume's voxel bytes, raw and deflated (a piece that can start anywhere in a deflate stream). */
interface VolumePiece {
  raw: Buffer;
  deflated: Buffer;
}

const volumePieces = new Map<string, VolumePiece>();

/** Compress bytes as a self-contained, byte-aligned, non-final run of deflate blocks. */
function deflatePiece(raw: Buffer): Buffer {
  return zlib.deflateRawSync(raw, { level: 6, finishFlush: zlib.constants.Z_FULL_FLUSH });
}

/**
 * Voxel bytes of volume t (b-value b), cached by everything they depend on. `withoutTail`
 * drops the last slice (the per-path part) of the last volume.
 */
function volumePiece(spec: ImageSpec, t: number, withoutTail: boolean): VolumePiece {
  // Intensity follows the b-value rounded to 50 s/mm2, so series share their volumes.
  const b = Math.round((spec.bvals?.[t] ?? 0) / 50) * 50;
  const frame = spec.contrast === 'bold' ? t : 0;
  const key = `${spec.dims.slice(0, 3).join('x')}|${spec.datatype}|${spec.contrast}|${spec.variant}|${b}|${frame}|${withoutTail}`;
  let piece = volumePieces.get(key);
  if (!piece) {
    const dims3 = spec.dims.slice(0, 3);
    const tissues = tissueMap(dims3, spec.variant);
    const rand = seededRandom(seedOf(key));
    const values = new Float32Array(tissues.length);
    for (let i = 0; i < tissues.length; i++) {
      const noise = rand() + rand() + rand() - 1.5; // roughly gaussian, sd 0.5
      values[i] = voxelValue(spec, tissues[i], b, frame, noise);
    }
    const encoded = encodeNifti1({ dims: dims3 }, values, { datatype: spec.datatype }).subarray(NIFTI1_VOX_OFFSET);
    const raw = Buffer.from(withoutTail ? encoded.subarray(0, encoded.length - sliceBytes(spec)) : encoded);
    piece = { raw, deflated: deflatePiece(raw) };
    volumePieces.set(key, piece);
  }
  return piece;
}

function sliceBytes(spec: ImageSpec): number {
  return spec.dims[0] * spec.dims[1] * bytesPerVoxel(spec.datatype);
}

/** The NIfTI header (352 bytes) of an image of this spec. */
function headerBytes(spec: ImageSpec): Buffer {
  const affine = [
    [spec.pixdim[0], 0, 0, (-(spec.dims[0] - 1) / 2) * spec.pixdim[0]],
    [0, spec.pixdim[1], 0, (-(spec.dims[1] - 1) / 2) * spec.pixdim[1]],
    [0, 0, spec.pixdim[2], (-(spec.dims[2] - 1) / 2) * spec.pixdim[2]],
    [0, 0, 0, 1],
  ];
  const voxels = spec.dims.reduce((a, b) => a * b, 1);
  const geometry = { dims: spec.dims, pixdim: spec.pixdim.slice(0, spec.dims.length), affine, tr: spec.dims.length > 3 ? spec.pixdim[3] : undefined };
  // Only the header is kept; the voxels come from the cached volume pieces.
  return Buffer.from(encodeNifti1(geometry, new Uint8Array(voxels), { datatype: spec.datatype, description: 'fake-openneuro synthetic phantom' }).subarray(0, NIFTI1_VOX_OFFSET));
}

function templateFor(spec: ImageSpec): Template {
  const cacheKey = JSON.stringify(spec);
  const cached = templates.get(cacheKey);
  if (cached) return cached;
  const volumes = spec.dims[3] ?? 1;
  const header = headerBytes(spec);
  const rawPieces: Buffer[] = [header];
  const gzPieces: Buffer[] = [GZIP_HEADER, deflatePiece(header)];
  let fullTail: Buffer | null = null;
  for (let t = 0; t < volumes; t++) {
    const last = t === volumes - 1;
    const piece = volumePiece(spec, t, last);
    rawPieces.push(piece.raw);
    gzPieces.push(piece.deflated);
    if (last) {
      const whole = volumePiece(spec, t, false).raw;
      fullTail = whole.subarray(whole.length - sliceBytes(spec));
    }
  }
  const raw = { md5: crypto.createHash('md5'), sha256: crypto.createHash('sha256') };
  const gz = { md5: crypto.createHash('md5'), sha256: crypto.createHash('sha256') };
  let crc = 0;
  let rawPrefixLength = 0;
  for (const piece of rawPieces) {
    raw.md5.update(piece);
    raw.sha256.update(piece);
    crc = zlib.crc32(piece, crc);
    rawPrefixLength += piece.length;
  }
  let gzPrefixLength = 0;
  for (const piece of gzPieces) {
    gz.md5.update(piece);
    gz.sha256.update(piece);
    gzPrefixLength += piece.length;
  }
  const template: Template = {
    spec,
    rawPieces,
    rawPrefixLength,
    tail: Buffer.from(fullTail!),
    rawLength: rawPrefixLength + fullTail!.length,
    raw,
    gz: { pieces: gzPieces, length: gzPrefixLength, crc, ...gz },
  };
  templates.set(cacheKey, template);
  return template;
}

/** The template's last slice with per-path noise (a mask gets a per-path bit pattern in a corner). */
function perturbTail(template: Template, seed: number): Buffer {
  // A fresh, unpooled buffer: offset 0, so typed-array views are aligned.
  const tail = Buffer.allocUnsafeSlow(template.tail.length);
  template.tail.copy(tail);
  const rand = seededRandom(seed);
  const { datatype, contrast } = template.spec;
  if (contrast === 'mask') {
    const bits = Math.min(64, tail.length);
    for (let i = 0; i < bits; i++) tail[i] = rand() < 0.5 ? 0 : 1;
    return tail;
  }
  const values =
    datatype === 'uint8' ? new Uint8Array(tail.buffer, 0, tail.length)
    : datatype === 'int16' ? new Int16Array(tail.buffer, 0, tail.length / 2)
    : new Float32Array(tail.buffer, 0, tail.length / 4);
  const step = datatype === 'float32' ? 0.01 : 1;
  let bits = 0;
  let left = 0;
  for (let i = 0; i < values.length; i++) {
    if (left === 0) {
      bits = Math.floor(rand() * 4294967296);
      left = 10;
    }
    const delta = ((bits & 7) % 7) - 3; // -3..3 from 3 random bits per voxel
    bits >>>= 3;
    left--;
    values[i] = Math.max(0, values[i] + delta * step); // typed arrays clamp/wrap per type; 0 floor keeps uint8 sane
  }
  return tail;
}

/** A final stored deflate block holding `data` (at most 65535 bytes). */
function storedBlock(data: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = 0x01; // BFINAL=1, BTYPE=00
  head.writeUInt16LE(data.length, 1);
  head.writeUInt16LE(~data.length & 0xffff, 3);
  return head;
}

/**
 * The synthetic image served for `filePath` in `datasetId`: bytes, size and digests.
 * `salt` changes the content (a file changed in a later snapshot).
 */
export function synthesizeNifti(datasetId: string, filePath: string, opts: { bvals?: number[]; salt?: string } = {}): SynthImage {
  const template = templateFor(imageSpecFor(datasetId, filePath, opts.bvals));
  const tail = perturbTail(template, seedOf(`${datasetId}/${filePath}#${opts.salt ?? ''}`));
  if (!filePath.endsWith('.gz')) {
    return {
      size: template.rawPrefixLength + tail.length,
      md5: template.raw.md5.copy().update(tail).digest('hex'),
      get sha256() {
        return template.raw.sha256.copy().update(tail).digest('hex');
      },
      bytes: () => Buffer.concat([...template.rawPieces, tail]),
    };
  }
  const block = storedBlock(tail);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(tail, template.gz.crc) >>> 0, 0);
  trailer.writeUInt32LE(template.rawLength >>> 0, 4);
  const hashRest = (h: Hash) => h.copy().update(block).update(tail).update(trailer).digest('hex');
  return {
    size: template.gz.length + block.length + tail.length + trailer.length,
    md5: hashRest(template.gz.md5),
    get sha256() {
      return hashRest(template.gz.sha256);
    },
    bytes: () => Buffer.concat([...template.gz.pieces, block, tail, trailer]),
  };
}

/** Templates built so far (stats). */
export function templateCount(): number {
  return templates.size;
}
