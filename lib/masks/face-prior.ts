// Face-region prior: pydeface's face mask (a block under and in front of the face, in the grid of
// pydeface's template), registered onto an image from the evidence a defacing leaves. The cut's
// plane fixes the block's orientation and its back face; the head's centre fixes it laterally;
// the tissue left above the block (forehead, brow) fixes its height: the block is raised until it
// would eat into that tissue. Rigid, no scaling.
import { affineOf, readNifti } from '../nifti/index.js';
import { ensureModel } from '../models/store.js';
import type { Plane } from './cuts.js';
import type { Dims, Vec3 } from '../volume/shape.js';
import { invert4, worldOf, type Volume } from './volume.js';

export interface FacePrior {
  /** 1 = face (removed by pydeface), in the template grid. */
  face: Uint8Array;
  dims: Dims;
  /** Template voxel -> world. */
  affine: number[][];
  /** World direction normal to the block's back face, pointing into the block. */
  backNormal: Vec3;
  /** World point on the back face's upper edge, laterally centred. */
  anchor: Vec3;
  sha256: string;
}

let cached: { key: string; prior: Promise<FacePrior> } | undefined;

/** Load the face mask from the model store (cached per process). */
export function loadFacePrior(modelsDir?: string): Promise<FacePrior> {
  const key = modelsDir ?? '';
  if (!cached || cached.key !== key) {
    const prior = readFacePrior(modelsDir);
    cached = { key, prior };
    prior.catch(() => (cached = undefined));
  }
  return cached.prior;
}

async function readFacePrior(modelsDir?: string): Promise<FacePrior> {
  const model = await ensureModel('pydeface-facemask', { modelsDir });
  const img = await readNifti(model.files['facemask.nii.gz']);
  const dims = img.shape.slice(0, 3) as Dims;
  const face = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let i = 0; i < face.length; i++) face[i] = img.data[i] < 0.5 ? 1 : 0;
  const affine = affineOf(img.header);
  // Back face: the first j with face voxels; its top: the highest k there.
  let jBack = dims[1];
  for (let p = 0; p < face.length; p++) if (face[p]) jBack = Math.min(jBack, Math.floor(p / dims[0]) % dims[1]);
  let kTop = 0;
  for (let k = 0; k < dims[2]; k++) for (let i = 0; i < dims[0]; i++) if (face[i + dims[0] * (jBack + dims[1] * k)]) kTop = Math.max(kTop, k);
  const inv = invert4(affine);
  const g: Vec3 = [inv[1][0], inv[1][1], inv[1][2]];
  const len = Math.hypot(...g);
  return {
    face,
    dims,
    affine,
    backNormal: [g[0] / len, g[1] / len, g[2] / len],
    anchor: worldOf(affine, [(dims[0] - 1) / 2, jBack, kTop]),
    sha256: model.sha256['facemask.nii.gz'],
  };
}

/** Rotation matrix taking unit vector a onto unit vector b (Rodrigues). */
function rotationBetween(a: Vec3, b: Vec3): number[][] {
  const v: Vec3 = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const c = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const k = 1 / (1 + c);
  return [
    [v[0] * v[0] * k + c, v[0] * v[1] * k - v[2], v[0] * v[2] * k + v[1]],
    [v[1] * v[0] * k + v[2], v[1] * v[1] * k + c, v[1] * v[2] * k - v[0]],
    [v[2] * v[0] * k - v[1], v[2] * v[1] * k + v[0], v[2] * v[2] * k + c],
  ];
}

/** A plane found in mm-index space (n · (index ∘ spacing) = d) expressed in world coordinates. */
function planeToWorld(plane: Plane, spacing: Vec3, rasAffine: number[][]): { normal: Vec3; offset: number } {
  const m = [0, 1, 2].map((r) => [rasAffine[r][0], rasAffine[r][1], rasAffine[r][2], rasAffine[r][3]]);
  const inv = invert4([...m, [0, 0, 0, 1]]);
  // index = inv3 · (w - o); n · S · index = d  =>  g · w = d + g · o with g = inv3ᵀ · S · n.
  const sn = [0, 1, 2].map((a) => plane.normal[a] * spacing[a]);
  const g = [0, 1, 2].map((c) => inv[0][c] * sn[0] + inv[1][c] * sn[1] + inv[2][c] * sn[2]) as Vec3;
  const o: Vec3 = [rasAffine[0][3], rasAffine[1][3], rasAffine[2][3]];
  const len = Math.hypot(...g);
  return { normal: [g[0] / len, g[1] / len, g[2] / len], offset: (plane.offset + g[0] * o[0] + g[1] * o[1] + g[2] * o[2]) / len };
}

export interface FittedBlock {
  region: Uint8Array;
  /** World height of the block's back-top edge. */
  topZ: number;
  tissueOverlap: number;
}

/**
 * Fit the face block to a detected back-face cut. `head` is the remaining anatomy (RAS grid),
 * `searchBox` limits the voxels evaluated. Returns undefined when the plane cannot be a back face.
 */
export function fitFaceBlock(prior: FacePrior, vol: Volume, rasAffine: number[][], head: Uint8Array, plane: Plane, searchBox: Uint8Array): FittedBlock | undefined {
  const world = planeToWorld(plane, vol.spacing, rasAffine);
  if (world.normal[1] < 0.5) return undefined;
  const rot = rotationBetween(prior.backNormal, world.normal);
  const [nx, ny, nz] = vol.dims;
  // Lateral centre of the head and the tissue left beyond the cut (world coordinates).
  let xSum = 0, count = 0;
  const beyond: number[] = [];
  let zMax = -Infinity;
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        if (!head[p]) continue;
        const w = worldOf(rasAffine, [i, j, k]);
        xSum += w[0];
        count++;
        zMax = Math.max(zMax, w[2]);
        const d = world.normal[0] * w[0] + world.normal[1] * w[1] + world.normal[2] * w[2] - world.offset;
        if (d > 1) beyond.push(w[0], w[1], w[2]);
      }
  if (count === 0) return undefined;
  const xCentre = xSum / count;
  const toTemplateVoxel = invert4(prior.affine);
  const [fx, fy, fz] = prior.dims;
  const mapper = (topZ: number) => {
    const y = (world.offset - world.normal[0] * xCentre - world.normal[2] * topZ) / world.normal[1];
    const c: Vec3 = [xCentre, y, topZ];
    return (w: Vec3): number => {
      const d: Vec3 = [w[0] - c[0], w[1] - c[1], w[2] - c[2]];
      // Rᵀ · d + anchor: image world -> template world.
      const t: Vec3 = [
        rot[0][0] * d[0] + rot[1][0] * d[1] + rot[2][0] * d[2] + prior.anchor[0],
        rot[0][1] * d[0] + rot[1][1] * d[1] + rot[2][1] * d[2] + prior.anchor[1],
        rot[0][2] * d[0] + rot[1][2] * d[1] + rot[2][2] * d[2] + prior.anchor[2],
      ];
      const v = worldOf(toTemplateVoxel, t);
      const ti = Math.round(v[0]), tj = Math.round(v[1]), tk = Math.round(v[2]);
      if (ti < 0 || tj < 0 || tk < 0 || ti >= fx || tj >= fy || tk >= fz) return 0;
      return prior.face[ti + fx * (tj + fy * tk)];
    };
  };
  const overlap = (topZ: number) => {
    const inFace = mapper(topZ);
    let n = 0;
    for (let q = 0; q < beyond.length; q += 3) n += inFace([beyond[q], beyond[q + 1], beyond[q + 2]]);
    return n;
  };
  // The block's back must cover the observed cut; raise it from there until it meets tissue.
  const cutTop = worldOf(rasAffine, [0, 0, plane.inlierHiMm[2] / vol.spacing[2]])[2];
  const tolerance = Math.max(20, 0.002 * beyond.length / 3);
  let topZ = cutTop;
  for (let z = cutTop; z <= zMax; z += 1) {
    if (overlap(z) > tolerance) break;
    topZ = z;
  }
  const inFace = mapper(topZ);
  const region = new Uint8Array(head.length);
  p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        if (!searchBox[p]) continue;
        const w = worldOf(rasAffine, [i, j, k]);
        if (world.normal[0] * w[0] + world.normal[1] * w[1] + world.normal[2] * w[2] - world.offset < -2) continue;
        region[p] = inFace(w);
      }
  return { region, topZ, tissueOverlap: overlap(topZ) };
}
