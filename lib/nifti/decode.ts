// Conversion of stored voxel bytes to numbers.
import { NiftiValidationError } from './types.js';

type NumberArray = Float32Array | Float64Array;

/** Reader of one stored value at a byte offset. */
type ValueReader = (view: DataView, offset: number) => number;

function valueReader(datatype: number, le: boolean): ValueReader {
  switch (datatype) {
    case 2: return (v, o) => v.getUint8(o);
    case 256: return (v, o) => v.getInt8(o);
    case 4: return (v, o) => v.getInt16(o, le);
    case 512: return (v, o) => v.getUint16(o, le);
    case 8: return (v, o) => v.getInt32(o, le);
    case 768: return (v, o) => v.getUint32(o, le);
    case 16: return (v, o) => v.getFloat32(o, le);
    case 64: return (v, o) => v.getFloat64(o, le);
    case 1024: return (v, o) => Number(v.getBigInt64(o, le));
    case 1280: return (v, o) => Number(v.getBigUint64(o, le));
    default:
      throw new NiftiValidationError('unsupported_datatype', `datatype code ${datatype} cannot be decoded as scalars`, {
        datatype,
      });
  }
}

/** True for the floating-point datatypes, whose values may be NaN/Inf. */
export function isFloatDatatype(datatype: number): boolean {
  return datatype === 16 || datatype === 64;
}

/** Decoder for one datatype/byte order, reused across blocks of a stream. */
export function voxelDecoder(datatype: number, bytesPerVoxel: number, littleEndian: boolean) {
  const read = valueReader(datatype, littleEndian);
  /** Decode `count` values from `src` into `out` starting at `outOffset`. */
  return (src: Uint8Array, count: number, out: NumberArray, outOffset = 0): void => {
    const view = new DataView(src.buffer, src.byteOffset, count * bytesPerVoxel);
    for (let i = 0, o = 0; i < count; i++, o += bytesPerVoxel) out[outOffset + i] = read(view, o);
  };
}
