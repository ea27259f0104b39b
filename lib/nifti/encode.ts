// NIfTI-1 single-file encoder (.nii / .nii.gz) and atomic writer.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { affineToQform, affineZooms } from './affine.js';
import {
  datatypeByName,
  NiftiValidationError,
  type EncodeOptions,
  type GeometrySpec,
  type NiftiDatatypeName,
  type NiftiHeader,
} from './types.js';

const NIFTI1_HEADER_SIZE = 348;
/** Header plus the 4-byte extension flag; where voxel data starts. */
export const NIFTI1_VOX_OFFSET = 352;

const XYZT_MM = 2;
const XYZT_SEC = 8;
const XFORM_SCANNER = 1;

/** Geometry fields the encoder writes, resolved from either kind of GeometrySpec. */
interface ResolvedGeometry {
  dims: number[];
  pixdim: number[];
  xyztUnits: number;
  dimInfo: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  srow: [number[], number[], number[]];
  sliceCode: number;
  sliceStart: number;
  sliceEnd: number;
  sliceDuration: number;
  toffset: number;
}

function isHeader(g: GeometrySpec): g is NiftiHeader {
  return 'dim' in g && 'pixdim' in g && 'version' in g;
}

function product(values: number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

/** NIfTI-1 stores dims as int16. */
const NIFTI1_MAX_DIM = 32767;

function checkDims(dims: number[]): void {
  if (dims.length === 0 || dims.length > 7 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new NiftiValidationError('bad_dims', `invalid dims [${dims.join(', ')}]: need 1..7 positive integers`, { dims });
  }
  if (dims.some((d) => d > NIFTI1_MAX_DIM)) {
    throw new NiftiValidationError('bad_dims', `dims [${dims.join(', ')}] exceed the NIfTI-1 limit of ${NIFTI1_MAX_DIM}`, { dims });
  }
}

/**
 * Pick the dims to write: the geometry's dims when they match the voxel
 * count, else only its spatial (first three) dims when those do, so a 3D
 * volume derived from a 4D image can reuse the 4D header's geometry. With
 * `allowVolumeCount`, any whole number of volumes of the spatial grid is
 * accepted too (e.g. a subset of a 4D series' volumes).
 */
function dimsForData(geometryDims: number[], voxelCount: number, allowVolumeCount = false): number[] {
  checkDims(geometryDims);
  if (product(geometryDims) === voxelCount) return geometryDims;
  const spatial = geometryDims.slice(0, 3);
  const spatialVoxels = product(spatial);
  if (geometryDims.length > 3 && spatialVoxels === voxelCount) return spatial;
  if (allowVolumeCount && geometryDims.length >= 3 && voxelCount > 0 && voxelCount % spatialVoxels === 0) {
    const dims = [...spatial, voxelCount / spatialVoxels];
    checkDims(dims);
    return dims;
  }
  throw new NiftiValidationError(
    'bad_dims',
    `data has ${voxelCount} voxels but the geometry dims [${geometryDims.join(', ')}] hold ${product(geometryDims)}`,
    { dims: geometryDims, voxels: voxelCount },
  );
}

function geometryFromHeader(h: NiftiHeader, voxelCount: number): ResolvedGeometry {
  const ndim = Math.trunc(h.dim[0]);
  if (!(ndim >= 1 && ndim <= 7)) {
    throw new NiftiValidationError('bad_dims', `header dim[0]=${h.dim[0]} is outside 1..7`, { dim: h.dim });
  }
  const dims = dimsForData(h.dim.slice(1, 1 + ndim), voxelCount, true);
  return {
    dims,
    pixdim: padTo8(h.pixdim, 1),
    xyztUnits: h.xyztUnits,
    dimInfo: h.dimInfo,
    qformCode: h.qformCode,
    sformCode: h.sformCode,
    quatern: [h.quaternB, h.quaternC, h.quaternD],
    qoffset: [h.qoffsetX, h.qoffsetY, h.qoffsetZ],
    srow: [padTo(h.srowX, 4, 0), padTo(h.srowY, 4, 0), padTo(h.srowZ, 4, 0)],
    sliceCode: h.sliceCode,
    sliceStart: h.sliceStart ?? 0,
    sliceEnd: h.sliceEnd ?? 0,
    sliceDuration: h.sliceDuration ?? 0,
    toffset: h.toffset,
  };
}

function geometryFromSpec(
  spec: Exclude<GeometrySpec, NiftiHeader>,
  voxelCount: number,
): ResolvedGeometry {
  if (spec.dims.length < 1 || spec.dims.length > 7) {
    throw new NiftiValidationError('bad_dims', `dims must have 1..7 entries, got ${spec.dims.length}`, { dims: spec.dims });
  }
  const dims = dimsForData(spec.dims, voxelCount);
  // pixdim in the spec is per-dimension voxel size unless given header-style.
  const pixdim = new Array<number>(8).fill(1);
  if (spec.pixdim && spec.pixdim.length > spec.dims.length) {
    spec.pixdim.slice(0, 8).forEach((v, i) => (pixdim[i] = v));
  } else if (spec.pixdim) {
    spec.pixdim.slice(0, 7).forEach((v, i) => (pixdim[i + 1] = v));
  }
  if (spec.tr !== undefined) pixdim[4] = spec.tr;

  const resolved: ResolvedGeometry = {
    dims,
    pixdim,
    xyztUnits: spec.xyztUnits ?? XYZT_MM | (spec.tr !== undefined ? XYZT_SEC : 0),
    dimInfo: 0,
    qformCode: 0,
    sformCode: 0,
    quatern: [0, 0, 0],
    qoffset: [0, 0, 0],
    srow: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    sliceCode: 0,
    sliceStart: 0,
    sliceEnd: 0,
    sliceDuration: 0,
    toffset: 0,
  };
  if (spec.affine) applyAffine(resolved, spec.affine);
  return resolved;
}

/** Store an affine as sform and (shear-free) qform, both 'scanner'. */
function applyAffine(g: ResolvedGeometry, affine: number[][]): void {
  if (affine.length < 3 || affine.slice(0, 3).some((row) => row.length < 4 || row.some((v) => !Number.isFinite(v)))) {
    throw new NiftiValidationError('bad_dims', 'affine must be a finite 4x4 (or 3x4) matrix', { affine });
  }
  const q = affineToQform(affine);
  g.sformCode = XFORM_SCANNER;
  g.srow = [affine[0].slice(0, 4), affine[1].slice(0, 4), affine[2].slice(0, 4)];
  g.qformCode = XFORM_SCANNER;
  g.quatern = [q.quaternB, q.quaternC, q.quaternD];
  g.qoffset = [q.qoffsetX, q.qoffsetY, q.qoffsetZ];
  g.pixdim[0] = q.qfac;
  const zooms = affineZooms(affine);
  for (let i = 0; i < 3; i++) g.pixdim[i + 1] = zooms[i];
}

function padTo(values: number[], length: number, fill: number): number[] {
  const out = values.slice(0, length);
  while (out.length < length) out.push(fill);
  return out;
}

function padTo8(values: number[], fill: number): number[] {
  return padTo(values, 8, fill);
}

function writeAscii(view: DataView, offset: number, maxLength: number, text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  // Leave room for a terminating NUL, as C readers expect.
  for (let i = 0; i < Math.min(bytes.length, maxLength - 1); i++) view.setUint8(offset + i, bytes[i]);
}

function encodeHeader(g: ResolvedGeometry, datatype: NiftiDatatypeName, opts: EncodeOptions): Buffer {
  const info = datatypeByName(datatype)!;
  const buf = Buffer.alloc(NIFTI1_VOX_OFFSET);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = true;
  v.setInt32(0, NIFTI1_HEADER_SIZE, le);
  v.setUint8(38, 'r'.charCodeAt(0)); // 'regular', as the Analyze heritage expects
  v.setUint8(39, g.dimInfo & 0xff);
  v.setInt16(40, g.dims.length, le);
  for (let i = 1; i <= 7; i++) v.setInt16(40 + 2 * i, i <= g.dims.length ? g.dims[i - 1] : 1, le);
  v.setInt16(70, info.code, le);
  v.setInt16(72, info.bytes * 8, le);
  v.setInt16(74, g.sliceStart, le);
  for (let i = 0; i < 8; i++) v.setFloat32(76 + 4 * i, g.pixdim[i], le);
  v.setFloat32(108, NIFTI1_VOX_OFFSET, le);
  v.setFloat32(112, opts.sclSlope ?? 1, le);
  v.setFloat32(116, opts.sclInter ?? 0, le);
  v.setInt16(120, g.sliceEnd, le);
  v.setUint8(122, g.sliceCode & 0xff);
  v.setUint8(123, g.xyztUnits & 0xff);
  v.setFloat32(132, g.sliceDuration, le);
  v.setFloat32(136, g.toffset, le);
  writeAscii(v, 148, 80, opts.description ?? '');
  v.setInt16(252, g.qformCode, le);
  v.setInt16(254, g.sformCode, le);
  g.quatern.forEach((q, i) => v.setFloat32(256 + 4 * i, q, le));
  g.qoffset.forEach((q, i) => v.setFloat32(268 + 4 * i, q, le));
  g.srow.forEach((row, r) => row.forEach((x, c) => v.setFloat32(280 + 16 * r + 4 * c, x, le)));
  buf.write('n+1\0', 344, 'latin1');
  // Bytes 348..351 (extension flag) stay zero: no extensions.
  return buf;
}

const INTEGER_RANGES: Partial<Record<NiftiDatatypeName, [number, number]>> = {
  uint8: [0, 255],
  rgb24: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [-(2 ** 63), 2 ** 63 - 1024],
  uint64: [0, 2 ** 64 - 2048],
};

/** Round and clamp to an integer type's range; NaN becomes 0. */
function toInteger(value: number, [lo, hi]: [number, number]): number {
  if (Number.isNaN(value)) return 0;
  return Math.min(hi, Math.max(lo, Math.round(value)));
}

/** Little-endian voxel bytes, after undoing the requested scaling. */
function encodeVoxels(data: ArrayLike<number>, datatype: NiftiDatatypeName, opts: EncodeOptions): Buffer {
  const slope = opts.sclSlope !== undefined && opts.sclSlope !== 0 && Number.isFinite(opts.sclSlope) ? opts.sclSlope : 1;
  const inter = opts.sclInter !== undefined && Number.isFinite(opts.sclInter) ? opts.sclInter : 0;
  const stored = (i: number) => (slope === 1 && inter === 0 ? data[i] : (data[i] - inter) / slope);
  const n = data.length;
  const info = datatypeByName(datatype)!;
  const out = Buffer.alloc(n * (datatype === 'rgb24' ? 1 : info.bytes));
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const range = INTEGER_RANGES[datatype];
  switch (datatype) {
    case 'float32':
      for (let i = 0; i < n; i++) v.setFloat32(4 * i, stored(i), true);
      break;
    case 'float64':
      for (let i = 0; i < n; i++) v.setFloat64(8 * i, stored(i), true);
      break;
    case 'uint8':
    case 'rgb24':
      for (let i = 0; i < n; i++) v.setUint8(i, toInteger(stored(i), range!));
      break;
    case 'int8':
      for (let i = 0; i < n; i++) v.setInt8(i, toInteger(stored(i), range!));
      break;
    case 'int16':
      for (let i = 0; i < n; i++) v.setInt16(2 * i, toInteger(stored(i), range!), true);
      break;
    case 'uint16':
      for (let i = 0; i < n; i++) v.setUint16(2 * i, toInteger(stored(i), range!), true);
      break;
    case 'int32':
      for (let i = 0; i < n; i++) v.setInt32(4 * i, toInteger(stored(i), range!), true);
      break;
    case 'uint32':
      for (let i = 0; i < n; i++) v.setUint32(4 * i, toInteger(stored(i), range!), true);
      break;
    case 'int64':
      for (let i = 0; i < n; i++) v.setBigInt64(8 * i, BigInt(toInteger(stored(i), range!)), true);
      break;
    case 'uint64':
      for (let i = 0; i < n; i++) v.setBigUint64(8 * i, BigInt(toInteger(stored(i), range!)), true);
      break;
  }
  return out;
}

/**
 * Build a NIfTI-1 single file (.nii bytes, 352-byte header). A header as
 * geometry is copied exactly (qform, sform, codes, pixdim, units, dim_info,
 * slice info); a simple spec's affine becomes sform and qform with code 1.
 * `data` is in NIfTI order (x fastest); for rgb24 it holds r,g,b per voxel.
 */
export function encodeNifti1(geometry: GeometrySpec, data: ArrayLike<number>, opts: EncodeOptions = {}): Buffer {
  const datatype = opts.datatype ?? 'float32';
  if (!datatypeByName(datatype) || !(datatype in INTEGER_RANGES || datatype === 'float32' || datatype === 'float64')) {
    throw new NiftiValidationError('unsupported_datatype', `cannot encode datatype '${datatype}'`, { datatype });
  }
  const valuesPerVoxel = datatype === 'rgb24' ? 3 : 1;
  if (data.length % valuesPerVoxel !== 0) {
    throw new NiftiValidationError('bad_dims', `rgb24 data length ${data.length} is not a multiple of 3`);
  }
  const voxelCount = data.length / valuesPerVoxel;
  const resolved = isHeader(geometry) ? geometryFromHeader(geometry, voxelCount) : geometryFromSpec(geometry, voxelCount);
  return Buffer.concat([encodeHeader(resolved, datatype, opts), encodeVoxels(data, datatype, opts)]);
}

/**
 * Write a NIfTI-1 file atomically (temp file in the same directory, then
 * rename); gzip when the path ends with .gz. Returns size and SHA-256 of the
 * bytes written.
 */
export async function writeNifti(
  filePath: string,
  geometry: GeometrySpec,
  data: ArrayLike<number>,
  opts: EncodeOptions = {},
): Promise<{ bytes: number; sha256: string }> {
  const raw = encodeNifti1(geometry, data, opts);
  const bytes = filePath.endsWith('.gz') ? gzipSync(raw, { level: 6 }) : raw;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const dir = path.dirname(filePath);
  await fs.mkdir(dir, { recursive: true });
  const tempPath = path.join(dir, `.${path.basename(filePath)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fs.writeFile(tempPath, bytes);
    await fs.rename(tempPath, filePath);
  } catch (err) {
    await fs.rm(tempPath, { force: true });
    throw err;
  }
  return { bytes: bytes.length, sha256 };
}
