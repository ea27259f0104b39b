// Full streaming validation of a NIfTI file: header sanity, size guard, data
// completeness, finite values, hash and voxel statistics, in bounded memory.
import { affineOf, orientationCodes, voxelSizes } from './affine.js';
import { isFloatDatatype } from './decode.js';
import { scalingOf } from './header.js';
import { checkedLayout, classifyError, openNifti, readHeaderFrom, streamVoxels } from './stream.js';
import { datatypeName, NiftiValidationError, type NiftiSummary } from './types.js';

/** Default guard against "memory bomb" headers: 2^31 voxels. */
export const DEFAULT_VALIDATE_MAX_VOXELS = 2 ** 31;

/** Bytes allowed after the voxel data (padding); more is something else appended, e.g. a decompression bomb. */
export const MAX_TRAILING_BYTES = 1 << 20;

/** Largest float32: images are read as float32, so scaled values beyond it become ±Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;

export interface ValidateOptions {
  /** '3d': exactly one volume; '4d': more than one volume; 'any' (default). */
  expect?: '3d' | '4d' | 'any';
  /** Reject headers claiming more voxels than this (default 2^31). */
  maxVoxels?: number;
}

/** Number of 3D volumes: product of dims beyond the third. */
function volumeCount(shape: number[]): number {
  return shape.slice(3).reduce((a, b) => a * b, 1);
}

function checkDimensionality(shape: number[], expect: ValidateOptions['expect'], filePath: string): void {
  const volumes = volumeCount(shape);
  const dims = shape.join('x');
  if (expect === '3d' && (shape.length < 3 || volumes !== 1)) {
    const why = shape.length < 3 ? `only ${shape.length} dimension(s)` : `${volumes} volumes`;
    throw new NiftiValidationError('not_3d', `expected a 3D image but ${filePath} has ${why} (dims ${dims})`, {
      path: filePath, dims: shape, volumes,
    });
  }
  if (expect === '4d' && (shape.length < 4 || volumes < 2)) {
    throw new NiftiValidationError('not_4d', `expected a 4D series but ${filePath} has a single volume (dims ${dims})`, {
      path: filePath, dims: shape, volumes,
    });
  }
}

/** Running min/max/sum over scaled values, rejecting NaN/Inf in float data. */
class VoxelStats {
  min = Infinity;
  max = -Infinity;
  sum = 0;
  count = 0;

  constructor(
    private readonly slope: number,
    private readonly inter: number,
    private readonly checkFinite: boolean,
    private readonly filePath: string,
  ) {}

  add(values: Float64Array, count: number, firstIndex: number): void {
    let { min, max, sum } = this;
    for (let i = 0; i < count; i++) {
      const raw = values[i];
      if (this.checkFinite && !Number.isFinite(raw)) this.nonFinite(raw, firstIndex + i);
      const v = raw * this.slope + this.inter;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    Object.assign(this, { min, max, sum, count: this.count + count });
  }

  private nonFinite(value: number, voxelIndex: number): never {
    throw new NiftiValidationError(
      'non_finite',
      `voxel ${voxelIndex} holds ${value} (NaN/Inf values are not allowed): ${this.filePath}`,
      { path: this.filePath, voxelIndex, value: String(value) },
    );
  }
}

/**
 * Validate a NIfTI file fully, streaming (never more than a few MB in memory),
 * and summarise it. Throws NiftiValidationError with a reason and a readable
 * message for anything unusable.
 */
export async function validateNifti(filePath: string, opts: ValidateOptions = {}): Promise<NiftiSummary> {
  const opened = await openNifti(filePath, { hash: true });
  try {
    const { header, consumed } = await readHeaderFrom(opened, filePath);
    const layout = checkedLayout(opened, header, opts.maxVoxels ?? DEFAULT_VALIDATE_MAX_VOXELS, filePath);
    checkDimensionality(layout.shape, opts.expect ?? 'any', filePath);
    const { slope, inter } = scalingOf(header);
    const stats = new VoxelStats(slope, inter, isFloatDatatype(header.datatype), filePath);
    await streamVoxels(opened.reader, header, layout, consumed, filePath, (values, count, first) =>
      stats.add(values, count, first),
    );
    if (!Number.isFinite(stats.sum) || Math.max(Math.abs(stats.min), Math.abs(stats.max)) > FLOAT32_MAX) {
      throw new NiftiValidationError(
        'scaling_out_of_range',
        `scaled voxel values reach ${Math.max(Math.abs(stats.min), Math.abs(stats.max)).toExponential(2)} (scl_slope=${header.sclSlope}, scl_inter=${header.sclInter}), beyond what a 32-bit float holds: ${filePath}`,
        { path: filePath, sclSlope: header.sclSlope, sclInter: header.sclInter },
      );
    }
    // The rest of the file, so the hash covers it; anything but padding after the voxels is refused.
    const trailing = await opened.reader.drain(MAX_TRAILING_BYTES);
    if (trailing > MAX_TRAILING_BYTES) {
      throw new NiftiValidationError('trailing_data', `more than ${MAX_TRAILING_BYTES} bytes follow the voxel data (${opened.gzipped ? 'decompressed' : 'raw'}): ${filePath}`, {
        path: filePath, limitBytes: MAX_TRAILING_BYTES,
      });
    }
    const affine = affineOf(header);
    return {
      version: header.version,
      dims: layout.shape,
      voxelSize: voxelSizes(header),
      datatype: datatypeName(header.datatype),
      ndim: layout.shape.length,
      volumes: volumeCount(layout.shape),
      sha256: opened.hash!.digest('hex'),
      bytes: opened.fileBytes,
      min: stats.min,
      max: stats.max,
      mean: stats.sum / stats.count,
      affine,
      orientation: orientationCodes(affine),
    };
  } catch (err) {
    throw classifyError(err, filePath);
  } finally {
    await opened.reader.close();
  }
}
