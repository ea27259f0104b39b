// Where the head would be around a brain-only image: a shell of scalp and skull around the brain,
// plus, below the brain's centre, the column under the brain's axial footprint (skull base, face,
// neck) down to the field of view's edge. Tissue thickness follows typical adult anatomy
// (scalp ≈ 5-6 mm, skull ≈ 6-7 mm).
import { dilate } from '../volume/morphology.js';
import type { Volume } from './volume.js';

export interface WouldBeHeadParams {
  /** Scalp + skull thickness around the brain, mm. */
  shellMm: number;
}

export const WOULD_BE_HEAD_PARAMS: WouldBeHeadParams = { shellMm: 11 };

export function wouldBeHead(brain: Uint8Array, vol: Volume, params: WouldBeHeadParams = WOULD_BE_HEAD_PARAMS): Uint8Array {
  const [nx, ny, nz] = vol.dims;
  const nxy = nx * ny;
  const head = dilate(brain, vol.dims, vol.spacing, params.shellMm);
  // Axial footprint of the brain, grown by the shell thickness in-plane.
  const footprint = new Uint8Array(nxy);
  let zSum = 0;
  let count = 0;
  for (let k = 0; k < nz; k++)
    for (let p = 0; p < nxy; p++)
      if (brain[p + k * nxy]) {
        footprint[p] = 1;
        zSum += k;
        count++;
      }
  if (count === 0) return head;
  const grown = dilate(footprint, [nx, ny, 1], [vol.spacing[0], vol.spacing[1], 1], params.shellMm);
  const zCentre = Math.round(zSum / count);
  for (let k = 0; k < zCentre; k++) for (let p = 0; p < nxy; p++) if (grown[p]) head[p + k * nxy] = 1;
  return head;
}
