// Classical brain mask on the mean b0: Otsu threshold, erosion to cut thin bridges (scalp, eyes,
// vessels), the largest connected component, dilation back, and hole filling slice by slice.
import { dilateCross, erodeCross, fillHolesSlices, largestComponent, type EdgeOptions } from '../volume/morphology.js';
import { spatialDims } from '../volume/shape.js';
import { otsuThreshold } from '../volume/statistics.js';

/** For hole filling in axial slices (fillHolesSlices, axis 2): an in-plane axis of one voxel still has a border. */
export const AXIAL_SLICE_EDGES: EdgeOptions = { flatAxisEdges: [true, true, false] };

export interface ClassicalMaskOptions {
  /** Erosion/dilation radius in mm (default 4). */
  openingMm?: number;
}

/**
 * Brain mask from the mean b0 (after bias correction): Otsu threshold,
 * opening of radius openingMm, largest component, holes filled.
 */
export function classicalBrainMask(
  meanB0: Float32Array,
  shape: readonly number[],
  voxelSize: readonly number[],
  opts: ClassicalMaskOptions = {},
): Uint8Array {
  const spatial = spatialDims(shape);
  const threshold = otsuThreshold(meanB0);
  let mask: Uint8Array = new Uint8Array(meanB0.length);
  for (let i = 0; i < meanB0.length; i++) mask[i] = meanB0[i] > threshold ? 1 : 0;
  const minVoxel = Math.min(...voxelSize.slice(0, 3).map((v) => (v > 0 ? v : 1)));
  const steps = Math.max(1, Math.round((opts.openingMm ?? 4) / minVoxel));
  const eroded = erodeCross(mask, spatial, steps);
  let core = largestComponent(eroded, spatial);
  if (!core.some((v) => v)) core = largestComponent(mask, spatial);
  mask = dilateCross(core, spatial, steps);
  for (let i = 0; i < mask.length; i++) mask[i] = mask[i] && meanB0[i] > threshold * 0.5 ? 1 : 0;
  return fillHolesSlices(largestComponent(mask, spatial), spatial, 2, AXIAL_SLICE_EDGES);
}
