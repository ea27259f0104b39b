// Synthetic diffusion series with known ground truth: an analytic head
// phantom (scalp, dark skull, cortex, white matter with several fibre
// orientations, ventricles, a deep nucleus), single-tensor compartments with
// partial volume at the boundaries, real gradient tables, Rician noise, and
// optional per-volume rigid motion and a smooth bias field.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeNifti } from '../../lib/nifti/index.js';
import { rigidTransform, type RigidParams } from '../../lib/dwi/register.js';

export type Vec3 = [number, number, number];

export interface SimulationOptions {
  shape: Vec3;
  voxelSize: Vec3;
  bvals: number[];
  /** Unit gradient directions in the voxel frame (zeros for b0). */
  bvecs: Vec3[];
  /** S0 of white matter divided by the noise σ of each channel (default 30). */
  snr?: number;
  seed?: number;
  /** Signal scale (S0 of grey matter), default 1000. */
  scale?: number;
  /** Per-volume rigid motion (see register.ts for the convention). */
  motion?: (RigidParams | undefined)[];
  /** Multiplicative receive field as a function of the scanner position in mm (centred). */
  bias?: (p: Vec3) => number;
}

export interface Compartment {
  weight: number;
  s0: number;
  /** Dxx, Dyy, Dzz, Dxy, Dxz, Dyz in mm²/s. */
  tensor: [number, number, number, number, number, number];
}

export interface SimulatedDwi {
  data: Float32Array;
  shape: [number, number, number, number];
  voxelSize: Vec3;
  bvals: number[];
  bvecs: Vec3[];
  sigma: number;
  truth: {
    fa: Float32Array;
    md: Float32Array;
    /** 1 where one compartment holds > 95% of the voxel. */
    pure: Uint8Array;
    /** Brain tissue (cortex, white matter, ventricles, nucleus), any fraction > 50%. */
    brain: Uint8Array;
    /** Label of the dominant compartment: 0 background, 1 scalp, 2 skull, 3 grey, 4 white, 5 CSF. */
    label: Uint8Array;
  };
}

/** Tensor with principal direction e1 and eigenvalues (l1, l2, l2). */
function axialTensor(e1: Vec3, l1: number, l2: number): Compartment['tensor'] {
  const n = Math.hypot(...e1);
  const [x, y, z] = [e1[0] / n, e1[1] / n, e1[2] / n];
  const d = l1 - l2;
  return [l2 + d * x * x, l2 + d * y * y, l2 + d * z * z, d * x * y, d * x * z, d * y * z];
}

function isotropic(d: number): Compartment['tensor'] {
  return [d, d, d, 0, 0, 0];
}

const sigmoid = (t: number) => 1 / (1 + Math.exp(-t));

/** Tissue compartments at a point p (mm from the image centre) of a head filling `extent` (half-widths, mm). */
export function tissueAt(p: Vec3, extent: Vec3, edgeMm: number): { compartments: Compartment[]; label: number } {
  const head: Vec3 = [0.8 * extent[0], 0.93 * extent[1], 0.92 * extent[2]];
  const u: Vec3 = [p[0] / head[0], p[1] / head[1], p[2] / head[2]];
  // Asymmetric outline: a broader back of the head, a frontal bump, gyral undulation.
  const angle = Math.atan2(u[1], u[0]);
  const outline = 1 + 0.06 * u[1] + 0.05 * Math.exp(-((u[0] - 0.3) ** 2 + (u[1] - 0.8) ** 2) / 0.05) + 0.025 * Math.sin(7 * angle + 2 * u[2]);
  const rho = Math.hypot(...u) / outline;
  const meanRadius = (head[0] + head[1] + head[2]) / 3;
  // Soft inside-ness of the ellipsoidal shell boundary at radius c.
  const inside = (c: number) => sigmoid(((c - rho) * meanRadius) / edgeMm);
  const wHead = inside(1);
  const wSkullOuter = inside(0.9);
  const wBrain = inside(0.76);
  const wWhite = inside(0.63);
  // Ventricles: two ellipsoids.
  const vent = (cx: number) => {
    const q = Math.hypot((u[0] - cx) / 0.09, (u[1] - 0.05) / 0.3, (u[2] - 0.05) / 0.35);
    return sigmoid(((1 - q) * 0.12 * meanRadius) / edgeMm);
  };
  const wVent = Math.max(vent(0.16), vent(-0.2)) * wWhite;
  const nucleus = sigmoid(((1 - Math.hypot((u[0] - 0.12) / 0.13, (u[1] + 0.32) / 0.1, u[2] / 0.2)) * 0.12 * meanRadius) / edgeMm) * wWhite;
  // Texture so that registration has features beyond the outline.
  const texture = 1 + 0.12 * Math.sin(5.1 * u[0] + 1.3) * Math.cos(4.3 * u[1] - 0.4) + 0.08 * Math.sin(6.7 * u[2] + 3.1 * u[0] + 2.3 * u[1]);
  const scalp = wHead - wSkullOuter;
  const skull = wSkullOuter - wBrain;
  const grey = wBrain - wWhite + nucleus;
  const white = Math.max(0, wWhite - wVent - nucleus);
  // Fibre orientation: a callosal (x) band, two vertical tracts, antero-posterior elsewhere,
  // blended smoothly (a single tensor that is the weighted mean of the three).
  const k = meanRadius / edgeMm;
  const wBand = sigmoid((0.18 - Math.abs(u[1])) * k) * sigmoid((0.35 - Math.abs(u[2])) * k);
  const wTract = (1 - wBand) * sigmoid((0.1 - Math.abs(Math.abs(u[0]) - 0.38)) * k);
  const wRest = 1 - wBand - wTract;
  const l1 = (1.55 + 0.25 * Math.sin(3 * u[1])) * 1e-3;
  const parts = [
    axialTensor([1, 0.15 * u[1], 0], l1, 0.32e-3),
    axialTensor([0.1, 0.2, 1], l1, 0.32e-3),
    axialTensor([0.6 * u[0], 1, 0.3 * u[2]], l1, 0.32e-3),
  ];
  const whiteTensor = parts[0].map((_, i) => wBand * parts[0][i] + wTract * parts[1][i] + wRest * parts[2][i]) as Compartment['tensor'];
  const compartments: Compartment[] = [
    { weight: scalp, s0: 0.6 * texture, tensor: isotropic(1.0e-3) },
    { weight: skull, s0: 0.04, tensor: isotropic(1.0e-3) },
    { weight: grey, s0: 1.0 * texture, tensor: axialTensor([0.3, 0.2, 1], 0.9e-3, 0.75e-3) },
    { weight: white, s0: 0.72 * texture, tensor: whiteTensor },
    { weight: wVent, s0: 2.0, tensor: isotropic(3.0e-3) },
  ];
  let label = 0;
  let best = 0.5;
  compartments.forEach((c, i) => {
    if (c.weight > best) {
      best = c.weight;
      label = i + 1;
    }
  });
  return { compartments, label };
}

function faMd(t: Compartment['tensor']): [number, number] {
  const md = (t[0] + t[1] + t[2]) / 3;
  const n2 = t[0] ** 2 + t[1] ** 2 + t[2] ** 2 + 2 * (t[3] ** 2 + t[4] ** 2 + t[5] ** 2);
  return [n2 > 0 ? Math.sqrt(Math.max(0, 1.5 * (n2 - 3 * md * md)) / n2) : 0, md];
}

/** Seeded standard normal generator (mulberry32 + Box–Muller). */
export function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const th = 2 * Math.PI * uniform();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}

function signalOf(comps: Compartment[], b: number, g: Vec3): number {
  let s = 0;
  for (const c of comps) {
    if (c.weight < 1e-6) continue;
    const t = c.tensor;
    const q = t[0] * g[0] * g[0] + t[1] * g[1] * g[1] + t[2] * g[2] * g[2] + 2 * (t[3] * g[0] * g[1] + t[4] * g[0] * g[2] + t[5] * g[1] * g[2]);
    s += c.weight * c.s0 * Math.exp(-b * q);
  }
  return s;
}

export function simulateDwi(opts: SimulationOptions): SimulatedDwi {
  const [nx, ny, nz] = opts.shape;
  const [dx, dy, dz] = opts.voxelSize;
  const nv = opts.bvals.length;
  const nvox = nx * ny * nz;
  const scale = opts.scale ?? 1000;
  const snr = opts.snr ?? 30;
  const sigma = (0.72 * scale) / snr;
  const extent: Vec3 = [(nx * dx) / 2, (ny * dy) / 2, (nz * dz) / 2];
  // Boundaries about a voxel wide: point samples of sharper edges alias, which no interpolation undoes.
  const edge = 0.6 * Math.min(dx, dy, dz);
  const centre: Vec3 = [(nx - 1) / 2, (ny - 1) / 2, (nz - 1) / 2];
  const noise = gaussian(opts.seed ?? 1);
  const data = new Float32Array(nvox * nv);
  const fa = new Float32Array(nvox), md = new Float32Array(nvox);
  const pure = new Uint8Array(nvox), brain = new Uint8Array(nvox), label = new Uint8Array(nvox);
  const still: { compartments: Compartment[] }[] = new Array(nvox);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
    const i = (z * ny + y) * nx + x;
    const p: Vec3 = [(x - centre[0]) * dx, (y - centre[1]) * dy, (z - centre[2]) * dz];
    const t = tissueAt(p, extent, edge);
    still[i] = t;
    label[i] = t.label;
    const dominant = t.compartments.reduce((a, c) => (c.weight > a.weight ? c : a));
    if (dominant.weight > 0.95) {
      pure[i] = 1;
      [fa[i], md[i]] = faMd(dominant.tensor);
    }
    const brainWeight = t.compartments.slice(2).reduce((a, c) => a + c.weight, 0);
    brain[i] = brainWeight > 0.5 ? 1 : 0;
  }
  for (let v = 0; v < nv; v++) {
    const b = opts.bvals[v];
    const g0 = opts.bvecs[v];
    const motion = opts.motion?.[v];
    const moved = motion && motion.some((m) => m !== 0) ? rigidTransform(motion) : undefined;
    // Gradient in the tissue frame: Rᵀ g.
    const g: Vec3 = moved
      ? [
          moved.r[0] * g0[0] + moved.r[3] * g0[1] + moved.r[6] * g0[2],
          moved.r[1] * g0[0] + moved.r[4] * g0[1] + moved.r[7] * g0[2],
          moved.r[2] * g0[0] + moved.r[5] * g0[1] + moved.r[8] * g0[2],
        ]
      : g0;
    for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
      const i = (z * ny + y) * nx + x;
      const p: Vec3 = [(x - centre[0]) * dx, (y - centre[1]) * dy, (z - centre[2]) * dz];
      let comps = still[i].compartments;
      if (moved) {
        // The volume shows the tissue at q with R q + t = p.
        const d: Vec3 = [p[0] - moved.t[0], p[1] - moved.t[1], p[2] - moved.t[2]];
        const q: Vec3 = [
          moved.r[0] * d[0] + moved.r[3] * d[1] + moved.r[6] * d[2],
          moved.r[1] * d[0] + moved.r[4] * d[1] + moved.r[7] * d[2],
          moved.r[2] * d[0] + moved.r[5] * d[1] + moved.r[8] * d[2],
        ];
        comps = tissueAt(q, extent, edge).compartments;
      }
      let s = scale * signalOf(comps, b, g);
      if (opts.bias) s *= opts.bias(p);
      const re = s + sigma * noise();
      const im = sigma * noise();
      data[v * nvox + i] = Math.sqrt(re * re + im * im);
    }
  }
  return { data, shape: [nx, ny, nz, nv], voxelSize: opts.voxelSize, bvals: opts.bvals, bvecs: opts.bvecs, sigma, truth: { fa, md, pure, brain, label } };
}

/** Affine with the given voxel sizes, centred; `positiveDeterminant` false flips x (LAS-like, FSL's unflipped case). */
export function simpleAffine(shape: readonly number[], voxel: Vec3, positiveDeterminant = true): number[][] {
  const sx = positiveDeterminant ? voxel[0] : -voxel[0];
  return [
    [sx, 0, 0, (-sx * (shape[0] - 1)) / 2],
    [0, voxel[1], 0, (-voxel[1] * (shape[1] - 1)) / 2],
    [0, 0, voxel[2], (-voxel[2] * (shape[2] - 1)) / 2],
    [0, 0, 0, 1],
  ];
}

/**
 * Write a simulated series as NIfTI + FSL .bval/.bvec. The bvecs are given
 * in the voxel frame; FSL's convention flips x when det(affine) > 0.
 */
export async function writeSimulatedDwi(dir: string, sim: SimulatedDwi, opts: { positiveDeterminant?: boolean; name?: string; bvecRows?: Vec3[] } = {}): Promise<{ dwi: string; bval: string; bvec: string }> {
  await fs.mkdir(dir, { recursive: true });
  const name = opts.name ?? 'dwi';
  const positive = opts.positiveDeterminant ?? true;
  const dwi = path.join(dir, `${name}.nii.gz`);
  await writeNifti(dwi, { dims: sim.shape, pixdim: [...sim.voxelSize, 1], affine: simpleAffine(sim.shape, sim.voxelSize, positive) }, sim.data);
  const bval = path.join(dir, `${name}.bval`);
  const bvec = path.join(dir, `${name}.bvec`);
  await fs.writeFile(bval, sim.bvals.join(' ') + '\n');
  const rows = opts.bvecRows ?? sim.bvecs.map((g) => [positive ? -g[0] || 0 : g[0], g[1], g[2]] as Vec3);
  await fs.writeFile(bvec, [0, 1, 2].map((k) => rows.map((g) => g[k]).join(' ')).join('\n') + '\n');
  return { dwi, bval, bvec };
}

/** A gradient table in the voxel frame from FSL files (b0 rows zeroed, NaN rows too). */
export async function readGradientTable(bvalPath: string, bvecPath: string, positiveDeterminant: boolean): Promise<{ bvals: number[]; bvecs: Vec3[] }> {
  const bvals = (await fs.readFile(bvalPath, 'utf8')).trim().split(/\s+/).map(Number);
  const rows = (await fs.readFile(bvecPath, 'utf8')).trim().split(/\r?\n/).map((l) => l.trim().split(/\s+/).map(Number));
  const vectors: Vec3[] = rows.length === 3 && rows[0].length === bvals.length ? bvals.map((_, i) => [rows[0][i], rows[1][i], rows[2][i]]) : rows.map((r) => [r[0], r[1], r[2]]);
  const bvecs = vectors.map((g, i): Vec3 => {
    if (bvals[i] <= 50 || g.some((c) => !Number.isFinite(c))) return [0, 0, 0];
    const n = Math.hypot(...g);
    return [(positiveDeterminant ? -g[0] : g[0]) / n, g[1] / n, g[2] / n];
  });
  return { bvals: bvals.map((b) => (b <= 50 ? 0 : b)), bvecs };
}
