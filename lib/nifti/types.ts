// Shared NIfTI types, the datatype table and the validation error.
import { ReasonedError } from '../errors.js';

export type NiftiDatatypeName =
  | 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32'
  | 'float32' | 'float64' | 'int64' | 'uint64' | 'rgb24';

/** Header fields common to NIfTI-1 and NIfTI-2 (numbers widened to JS numbers). */
export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0..7] as in the file. */
  dim: number[];
  /** pixdim[0..7]; pixdim[0] = qfac. */
  pixdim: number[];
  /** NIfTI datatype code. */
  datatype: number;
  bitpix: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  xyztUnits: number;
  qformCode: number;
  sformCode: number;
  quaternB: number;
  quaternC: number;
  quaternD: number;
  qoffsetX: number;
  qoffsetY: number;
  qoffsetZ: number;
  srowX: number[];
  srowY: number[];
  srowZ: number[];
  intentCode: number;
  descrip: string;
  calMin: number;
  calMax: number;
  sliceCode: number;
  dimInfo: number;
  toffset: number;
  // Optional extras: filled by our parser, copied by the encoder when present.
  sliceStart?: number;
  sliceEnd?: number;
  sliceDuration?: number;
  intentP1?: number;
  intentP2?: number;
  intentP3?: number;
  intentName?: string;
  auxFile?: string;
}

export interface NiftiImage {
  header: NiftiHeader;
  /** Voxel values, scaled by scl_slope/scl_inter when the slope is finite and non-zero. */
  data: Float32Array;
  /** dim[1..dim[0]]. */
  shape: number[];
}

export interface EncodeOptions {
  /** Stored datatype (default float32). */
  datatype?: NiftiDatatypeName;
  description?: string;
  /**
   * Scaling written to the header. `data` holds real-world values; the encoder
   * stores (value - sclInter) / sclSlope so that readers get `data` back.
   */
  sclSlope?: number;
  sclInter?: number;
}

/**
 * Geometry of an image to write: either a full header (geometry copied exactly)
 * or a simple spec. In the simple spec `pixdim` is the voxel size per dimension
 * (same length as `dims`); an array longer than `dims` is taken as header-style
 * pixdim[0..7]. `affine` (voxel -> RAS mm) becomes both sform and qform (code 1).
 * `tr` is the repetition time in seconds (pixdim[4]).
 */
export type GeometrySpec =
  | NiftiHeader
  | { dims: number[]; pixdim?: number[]; affine?: number[][]; xyztUnits?: number; tr?: number };

export type NiftiInvalidReason =
  | 'unreadable' | 'truncated' | 'bad_magic' | 'bad_dims' | 'too_large'
  | 'unsupported_datatype' | 'non_finite' | 'not_3d' | 'not_4d' | 'empty_file' | 'missing'
  | 'bad_vox_offset' | 'scaling_out_of_range' | 'trailing_data' | 'not_regular_file';

/** Thrown for any file or buffer that is not a usable NIfTI image; `reason` is machine-readable. */
export class NiftiValidationError extends ReasonedError<NiftiInvalidReason> {}

export interface NiftiSummary {
  version: 1 | 2;
  /** dim[1..dim[0]] as in the file. */
  dims: number[];
  /** pixdim[1..dim[0]]. */
  voxelSize: number[];
  datatype: string;
  /** dim[0] as in the file (a 3D image may be stored with ndim 4 and one volume). */
  ndim: number;
  /** Number of 3D volumes: product of dims beyond the third (1 for 3D images). */
  volumes: number;
  /** SHA-256 of the file bytes on disk (compressed bytes for .nii.gz). */
  sha256: string;
  /** File size on disk. */
  bytes: number;
  /** Statistics of the scaled voxel values. */
  min: number;
  max: number;
  mean: number;
  affine: number[][];
  orientation: string;
}

export interface DatatypeInfo {
  code: number;
  name: string;
  /** Bytes per voxel. */
  bytes: number;
  /** True when values decode to one scalar per voxel (what this library reads). */
  scalar: boolean;
}

const DATATYPES: DatatypeInfo[] = [
  { code: 1, name: 'binary', bytes: 0, scalar: false },
  { code: 2, name: 'uint8', bytes: 1, scalar: true },
  { code: 4, name: 'int16', bytes: 2, scalar: true },
  { code: 8, name: 'int32', bytes: 4, scalar: true },
  { code: 16, name: 'float32', bytes: 4, scalar: true },
  { code: 32, name: 'complex64', bytes: 8, scalar: false },
  { code: 64, name: 'float64', bytes: 8, scalar: true },
  { code: 128, name: 'rgb24', bytes: 3, scalar: false },
  { code: 256, name: 'int8', bytes: 1, scalar: true },
  { code: 512, name: 'uint16', bytes: 2, scalar: true },
  { code: 768, name: 'uint32', bytes: 4, scalar: true },
  { code: 1024, name: 'int64', bytes: 8, scalar: true },
  { code: 1280, name: 'uint64', bytes: 8, scalar: true },
  { code: 1536, name: 'float128', bytes: 16, scalar: false },
  { code: 1792, name: 'complex128', bytes: 16, scalar: false },
  { code: 2048, name: 'complex256', bytes: 32, scalar: false },
  { code: 2304, name: 'rgba32', bytes: 4, scalar: false },
];

export function datatypeByCode(code: number): DatatypeInfo | undefined {
  return DATATYPES.find((d) => d.code === code);
}

export function datatypeByName(name: string): DatatypeInfo | undefined {
  return DATATYPES.find((d) => d.name === name);
}

/** Human name of a datatype code, e.g. 'int16' or 'unknown(99)'. */
export function datatypeName(code: number): string {
  return datatypeByCode(code)?.name ?? `unknown(${code})`;
}
