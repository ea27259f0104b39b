// Reading NIfTI-1/2 images (.nii and .nii.gz) into Float32 voxel arrays.
import { constants as bufferConstants } from 'node:buffer';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { voxelDecoder } from './decode.js';
import { dataLayoutOf, isGzipped, parseHeaderBytes, scalingOf, type DataLayout } from './header.js';
import { checkedLayout, classifyError, openNifti, readHeaderFrom, streamVoxels } from './stream.js';
import { NiftiValidationError, type NiftiHeader, type NiftiImage } from './types.js';

/** Default voxel limit for in-memory reads: 2^28 voxels = a 1 GiB Float32Array. */
export const DEFAULT_READ_MAX_VOXELS = 2 ** 28;

/** Compressed prefix inflated to find the header of an in-memory .nii.gz. */
const GZIP_HEADER_PREFIX_BYTES = 4096;
/** Extra decompressed bytes tolerated after the voxel data (padding, junk). */
const TRAILING_SLACK_BYTES = 16 << 20;

/** Read only the header, streaming the first bytes (works for files of any size). */
export async function readNiftiHeader(filePath: string): Promise<NiftiHeader> {
  const opened = await openNifti(filePath);
  try {
    return (await readHeaderFrom(opened, filePath)).header;
  } finally {
    await opened.reader.close();
  }
}

/**
 * Read a whole image, scaled by scl_slope/scl_inter. Refuses ('too_large')
 * images over opts.maxVoxels (default 2^28) before allocating anything.
 */
export async function readNifti(filePath: string, opts: { maxVoxels?: number } = {}): Promise<NiftiImage> {
  const opened = await openNifti(filePath);
  try {
    const { header, consumed } = await readHeaderFrom(opened, filePath);
    const layout = checkedLayout(opened, header, opts.maxVoxels ?? DEFAULT_READ_MAX_VOXELS, filePath);
    const data = new Float32Array(layout.voxels);
    const { slope, inter } = scalingOf(header);
    await streamVoxels(opened.reader, header, layout, consumed, filePath, (values, count, first) => {
      for (let i = 0; i < count; i++) data[first + i] = values[i] * slope + inter;
    });
    return { header, data, shape: layout.shape };
  } catch (err) {
    throw classifyError(err, filePath);
  } finally {
    await opened.reader.close();
  }
}

function zlibFailure(err: unknown): NiftiValidationError {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
    return new NiftiValidationError('too_large', `decompressed data is larger than the header claims: ${e.message}`);
  }
  return classifyError(err, '<buffer>');
}

/** Header of gzipped bytes, inflating only a small compressed prefix. */
function headerOfGzipped(bytes: Uint8Array): NiftiHeader {
  let prefix: Buffer;
  try {
    prefix = gunzipSync(bytes.subarray(0, GZIP_HEADER_PREFIX_BYTES), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch (err) {
    throw zlibFailure(err);
  }
  return parseHeaderBytes(prefix);
}

/** Decompress gzipped bytes, refusing output beyond what the header needs plus slack. */
function inflateBounded(bytes: Uint8Array, layout: DataLayout): Buffer {
  const limit = Math.min(bufferConstants.MAX_LENGTH, layout.dataOffset + layout.dataBytes + TRAILING_SLACK_BYTES);
  try {
    return gunzipSync(bytes, { maxOutputLength: limit });
  } catch (err) {
    throw zlibFailure(err);
  }
}

/** Parse an in-memory image (gzipped or not); same checks and scaling as readNifti. */
export function parseNifti(bytes: Uint8Array, opts: { maxVoxels?: number } = {}): NiftiImage {
  if (bytes.length === 0) throw new NiftiValidationError('empty_file', 'buffer is empty');
  const maxVoxels = opts.maxVoxels ?? DEFAULT_READ_MAX_VOXELS;
  const gzipped = isGzipped(bytes);
  const header = gzipped ? headerOfGzipped(bytes) : parseHeaderBytes(bytes);
  const layout = dataLayoutOf(header, maxVoxels);
  const raw = gzipped ? inflateBounded(bytes, layout) : bytes;
  const end = layout.dataOffset + layout.dataBytes;
  if (raw.length < end) {
    throw new NiftiValidationError(
      'truncated',
      `data ends after ${raw.length} bytes but the header (${layout.shape.join('x')}) needs ${end}`,
      { bytes: raw.length, neededBytes: end },
    );
  }
  const data = new Float32Array(layout.voxels);
  const decode = voxelDecoder(header.datatype, layout.bytesPerVoxel, header.littleEndian);
  decode(raw.subarray(layout.dataOffset, end), layout.voxels, data);
  const { slope, inter } = scalingOf(header);
  if (slope !== 1 || inter !== 0) {
    for (let i = 0; i < data.length; i++) data[i] = data[i] * slope + inter;
  }
  return { header, data, shape: layout.shape };
}
