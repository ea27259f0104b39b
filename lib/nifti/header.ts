// Parsing and checking of NIfTI-1 / NIfTI-2 headers from their raw bytes.
import { datatypeByCode, datatypeName, NiftiValidationError, type NiftiHeader } from './types.js';

export const NIFTI1_HEADER_SIZE = 348;
export const NIFTI2_HEADER_SIZE = 540;

/** True when the bytes start with the gzip magic number. */
export function isGzipped(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Which header the first four bytes announce, or undefined when neither. */
export function detectHeaderVersion(bytes: Uint8Array): { version: 1 | 2; littleEndian: boolean } | undefined {
  if (bytes.length < 4) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  for (const littleEndian of [true, false]) {
    const size = view.getInt32(0, littleEndian);
    if (size === NIFTI1_HEADER_SIZE) return { version: 1, littleEndian };
    if (size === NIFTI2_HEADER_SIZE) return { version: 2, littleEndian };
  }
  return undefined;
}

function readAscii(bytes: Uint8Array, offset: number, length: number): string {
  const slice = bytes.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return Buffer.from(slice.subarray(0, end < 0 ? slice.length : end)).toString('latin1');
}

function badMagic(message: string, details?: Record<string, unknown>): NiftiValidationError {
  return new NiftiValidationError('bad_magic', message, details);
}

/**
 * Parse a header from the start of the (decompressed) file bytes. Throws
 * 'bad_magic' for anything that is not a single-file NIfTI-1/2 header and
 * 'truncated' when the bytes end inside the header.
 */
export function parseHeaderBytes(bytes: Uint8Array): NiftiHeader {
  if (bytes.length === 0) throw new NiftiValidationError('empty_file', 'file is empty');
  const detected = detectHeaderVersion(bytes);
  if (!detected) {
    throw badMagic('not a NIfTI file: the first 4 bytes are neither 348 (NIfTI-1) nor 540 (NIfTI-2)');
  }
  const needed = detected.version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE;
  if (bytes.length < needed) {
    throw new NiftiValidationError(
      'truncated',
      `file ends after ${bytes.length} bytes, inside the ${needed}-byte NIfTI-${detected.version} header`,
      { bytes: bytes.length, headerSize: needed },
    );
  }
  const header = detected.version === 1 ? parseNifti1(bytes, detected.littleEndian) : parseNifti2(bytes, detected.littleEndian);
  return header;
}

function parseNifti1(bytes: Uint8Array, le: boolean): NiftiHeader {
  const magic = readAscii(bytes, 344, 4);
  if (magic !== 'n+1') {
    const hint = magic === 'ni1' ? ' (a .hdr/.img pair, which is not supported)' : '';
    throw badMagic(`NIfTI-1 magic is '${magic}', expected 'n+1'${hint}`, { magic });
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, NIFTI1_HEADER_SIZE);
  const f32 = (o: number) => v.getFloat32(o, le);
  const i16 = (o: number) => v.getInt16(o, le);
  const f32s = (o: number, n: number) => Array.from({ length: n }, (_, i) => f32(o + 4 * i));
  return {
    version: 1,
    littleEndian: le,
    dimInfo: v.getUint8(39),
    dim: Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i)),
    intentP1: f32(56),
    intentP2: f32(60),
    intentP3: f32(64),
    intentCode: i16(68),
    datatype: i16(70),
    bitpix: i16(72),
    sliceStart: i16(74),
    pixdim: f32s(76, 8),
    voxOffset: f32(108),
    sclSlope: f32(112),
    sclInter: f32(116),
    sliceEnd: i16(120),
    sliceCode: v.getUint8(122),
    xyztUnits: v.getUint8(123),
    calMax: f32(124),
    calMin: f32(128),
    sliceDuration: f32(132),
    toffset: f32(136),
    descrip: readAscii(bytes, 148, 80),
    auxFile: readAscii(bytes, 228, 24),
    qformCode: i16(252),
    sformCode: i16(254),
    quaternB: f32(256),
    quaternC: f32(260),
    quaternD: f32(264),
    qoffsetX: f32(268),
    qoffsetY: f32(272),
    qoffsetZ: f32(276),
    srowX: f32s(280, 4),
    srowY: f32s(296, 4),
    srowZ: f32s(312, 4),
    intentName: readAscii(bytes, 328, 16),
  };
}

function parseNifti2(bytes: Uint8Array, le: boolean): NiftiHeader {
  const magic = readAscii(bytes, 4, 8);
  if (magic !== 'n+2') {
    const hint = magic === 'ni2' ? ' (a .hdr/.img pair, which is not supported)' : '';
    throw badMagic(`NIfTI-2 magic is '${magic}', expected 'n+2'${hint}`, { magic });
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, NIFTI2_HEADER_SIZE);
  const f64 = (o: number) => v.getFloat64(o, le);
  const i64 = (o: number) => Number(v.getBigInt64(o, le));
  const i32 = (o: number) => v.getInt32(o, le);
  const f64s = (o: number, n: number) => Array.from({ length: n }, (_, i) => f64(o + 8 * i));
  return {
    version: 2,
    littleEndian: le,
    datatype: v.getInt16(12, le),
    bitpix: v.getInt16(14, le),
    dim: Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i)),
    intentP1: f64(80),
    intentP2: f64(88),
    intentP3: f64(96),
    pixdim: f64s(104, 8),
    voxOffset: i64(168),
    sclSlope: f64(176),
    sclInter: f64(184),
    calMax: f64(192),
    calMin: f64(200),
    sliceDuration: f64(208),
    toffset: f64(216),
    sliceStart: i64(224),
    sliceEnd: i64(232),
    descrip: readAscii(bytes, 240, 80),
    auxFile: readAscii(bytes, 320, 24),
    qformCode: i32(344),
    sformCode: i32(348),
    quaternB: f64(352),
    quaternC: f64(360),
    quaternD: f64(368),
    qoffsetX: f64(376),
    qoffsetY: f64(384),
    qoffsetZ: f64(392),
    srowX: f64s(400, 4),
    srowY: f64s(432, 4),
    srowZ: f64s(464, 4),
    sliceCode: i32(496),
    xyztUnits: i32(500),
    intentCode: i32(504),
    intentName: readAscii(bytes, 508, 16),
    dimInfo: v.getUint8(524),
  };
}

/** Image shape dim[1..dim[0]]; throws 'bad_dims' for dim[0] outside 1..7 or non-positive sizes. */
export function shapeOf(h: NiftiHeader): number[] {
  const ndim = h.dim[0];
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) {
    throw new NiftiValidationError('bad_dims', `dim[0]=${ndim} must be between 1 and 7`, { dim: h.dim });
  }
  const shape = h.dim.slice(1, 1 + ndim);
  const bad = shape.findIndex((d) => !Number.isInteger(d) || d < 1);
  if (bad >= 0) {
    throw new NiftiValidationError('bad_dims', `dim[${bad + 1}]=${shape[bad]} must be a positive size (dims ${shape.join('x')})`, {
      dim: h.dim,
    });
  }
  return shape;
}

/** Bytes per voxel of a scalar datatype; throws 'unsupported_datatype' otherwise. */
export function scalarBytesPerVoxel(h: NiftiHeader): number {
  const info = datatypeByCode(h.datatype);
  if (!info || !info.scalar) {
    throw new NiftiValidationError(
      'unsupported_datatype',
      `datatype ${datatypeName(h.datatype)} (code ${h.datatype}) is not a supported scalar type`,
      { datatype: h.datatype },
    );
  }
  return info.bytes;
}

/** Where voxel data starts in a single-file NIfTI: after the header and its 4 extension bytes. */
export function dataOffsetOf(h: NiftiHeader): number {
  const minimum = (h.version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE) + 4;
  const offset = h.voxOffset;
  // Reading from anywhere else (0, NaN, inside the header) would shift every voxel.
  if (!Number.isFinite(offset) || offset < minimum || Math.trunc(offset) !== offset) {
    throw new NiftiValidationError('bad_vox_offset', `vox_offset ${offset} is not a byte offset at or after ${minimum} (the header's end), so the voxels cannot be located`, { voxOffset: String(offset), minimum });
  }
  return offset;
}

/** Scaling to apply to stored values: identity unless the slope is finite and non-zero. */
export function scalingOf(h: NiftiHeader): { slope: number; inter: number } {
  if (!Number.isFinite(h.sclSlope) || h.sclSlope === 0) return { slope: 1, inter: 0 };
  return { slope: h.sclSlope, inter: Number.isFinite(h.sclInter) ? h.sclInter : 0 };
}

export interface DataLayout {
  shape: number[];
  voxels: number;
  bytesPerVoxel: number;
  dataOffset: number;
  dataBytes: number;
}

/**
 * Check dims and datatype and compute the data layout, refusing ('too_large')
 * headers that claim more than maxVoxels voxels before anything is allocated.
 */
export function dataLayoutOf(h: NiftiHeader, maxVoxels: number): DataLayout {
  const shape = shapeOf(h);
  const bytesPerVoxel = scalarBytesPerVoxel(h);
  const voxels = shape.reduce((a, b) => a * b, 1);
  if (voxels > maxVoxels) {
    throw new NiftiValidationError(
      'too_large',
      `header claims ${shape.join('x')} = ${voxels.toExponential(3)} voxels, more than the limit of ${maxVoxels}`,
      { dims: shape, voxels, maxVoxels },
    );
  }
  return { shape, voxels, bytesPerVoxel, dataOffset: dataOffsetOf(h), dataBytes: voxels * bytesPerVoxel };
}
