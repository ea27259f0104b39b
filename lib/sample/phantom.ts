// A deterministic head phantom: scalp, skull, CSF, grey and white matter, ventricles. Enough
// structure for every step to do real work; small enough for tests and the demo.

export type Tissue = 0 | 1 | 2 | 3 | 4 | 5; // air, scalp, skull, csf, gm, wm

export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Tissue label per voxel for an ellipsoidal head filling most of the field of view. */
export function tissueMap(dims: [number, number, number], scale = 1): Uint8Array {
  const [nx, ny, nz] = dims;
  const out = new Uint8Array(nx * ny * nz);
  const cx = (nx - 1) / 2, cy = (ny - 1) / 2, cz = (nz - 1) / 2;
  const rx = nx * 0.42 * scale, ry = ny * 0.45 * scale, rz = nz * 0.42 * scale;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const r = Math.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2);
        const vent = Math.sqrt(((x - cx) / (rx * 0.12)) ** 2 + ((y - cy) / (ry * 0.25)) ** 2 + ((z - cz) / (rz * 0.15)) ** 2);
        let t: Tissue = 0;
        if (r < 1) t = 1;
        if (r < 0.9) t = 2;
        if (r < 0.82) t = 3;
        if (r < 0.77) t = 4;
        if (r < 0.6) t = 5;
        if (vent < 1) t = 3;
        out[x + nx * (y + ny * z)] = t;
      }
  return out;
}

/** Mean intensity per tissue (air, scalp, skull, csf, gm, wm) for each structural contrast. */
export const CONTRASTS: Record<string, number[]> = {
  T1w: [0, 300, 60, 150, 550, 800],
  T2w: [0, 350, 50, 900, 600, 450],
  FLAIR: [0, 300, 40, 120, 650, 500],
  PDw: [0, 500, 80, 800, 750, 650],
};

export function structuralImage(tissue: Uint8Array, contrast: string, rand: () => number, noise = 12): Float32Array {
  const means = CONTRASTS[contrast] ?? CONTRASTS.T1w;
  const out = new Float32Array(tissue.length);
  for (let i = 0; i < tissue.length; i++) {
    const v = means[tissue[i]] + noise * gaussian(rand);
    out[i] = Math.max(0, Math.abs(v)); // magnitude images: Rician-like floor
  }
  return out;
}

/** Roughly uniform unit vectors on a hemisphere (Fibonacci lattice): a usable gradient scheme. */
export function gradientDirections(n: number): [number, number, number][] {
  const dirs: [number, number, number][] = [];
  const golden = Math.PI * (3 - Math.sqrt(5));
  for (let i = 0; i < n; i++) {
    const z = 1 - (i + 0.5) / n; // upper hemisphere
    const r = Math.sqrt(1 - z * z);
    const phi = i * golden;
    dirs.push([+(r * Math.cos(phi)).toFixed(6), +(r * Math.sin(phi)).toFixed(6), +z.toFixed(6)]);
  }
  return dirs;
}

/**
 * DWI signal from a tensor per tissue: white matter anisotropic along x, grey matter and CSF
 * isotropic. S = S0 exp(-b gᵀDg) with Rician noise.
 */
export function dwiSeries(tissue: Uint8Array, bvals: number[], bvecs: [number, number, number][], rand: () => number, noise = 8): Float32Array {
  const n = tissue.length;
  const out = new Float32Array(n * bvals.length);
  const s0 = [0, 150, 40, 1000, 700, 600];
  // Diffusivities in mm²/s: [λ1, λ2, λ3] along x, y, z.
  const tensors: [number, number, number][] = [
    [0, 0, 0], [1.0e-3, 1.0e-3, 1.0e-3], [0.3e-3, 0.3e-3, 0.3e-3], [3.0e-3, 3.0e-3, 3.0e-3], [0.8e-3, 0.8e-3, 0.8e-3], [1.6e-3, 0.35e-3, 0.35e-3],
  ];
  for (let v = 0; v < bvals.length; v++) {
    const b = bvals[v];
    const [gx, gy, gz] = bvecs[v];
    for (let i = 0; i < n; i++) {
      const t = tissue[i];
      const [l1, l2, l3] = tensors[t];
      const adc = l1 * gx * gx + l2 * gy * gy + l3 * gz * gz;
      const s = s0[t] * Math.exp(-b * adc);
      const re = s + noise * gaussian(rand);
      const im = noise * gaussian(rand);
      out[v * n + i] = Math.sqrt(re * re + im * im);
    }
  }
  return out;
}
