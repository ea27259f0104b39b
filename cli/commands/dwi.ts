// `openmind dwi <dwi.nii.gz> --bval --bvec --out`: DWI derivation on one
// series, without Temporal or a database. Writes T2w, ADC and FA + MD (tensor)
// or TRACE (< 6 directions), the brain mask, the noise map and dwi.json
// (parameters, motion, registration check, timings) to --out.
// `--steps denoise,gibbs,tensor` runs MRtrix3's dwidenoise → mrdegibbs → dwi2tensor chain.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deriveDwi, type DeriveDwiOptions, type DeriveDwiResult } from '../../lib/dwi/index.js';

export interface RunDwiOptions {
  bval: string;
  bvec: string;
  out: string;
  /** Print the summary JSON on stdout instead of a short text report. */
  json?: boolean;
  workDir?: string;
  threads?: number;
  skip?: string[];
  /** Steps to run (brainmask and tensor always run). */
  steps?: string[];
}

function formatSummary(r: DeriveDwiResult): string {
  const worst = r.motion.reduce(
    (acc, m) => ({
      mm: Math.max(acc.mm, ...m.translation.map(Math.abs)),
      deg: Math.max(acc.deg, ...m.rotationDeg.map(Math.abs)),
    }),
    { mm: 0, deg: 0 },
  );
  const lines = [
    `volumes ${r.gradients.volumes} (${r.gradients.b0Count} b0), ${r.model === 'tensor' ? 'tensor' : 'trace'} on shell(s) ${r.gradients.shellsUsed.join(', ')} s/mm² (${r.gradients.directions} directions)`,
    `maps: ${r.maps.map((m) => m.modality).join(', ')}${r.notDerived.length ? `; not derived: ${r.notDerived.map((n) => n.modality).join(', ')} (${r.notDerived[0].reason})` : ''}`,
    ...(r.registration
      ? [`registration ${r.registration.applied ? 'kept' : 'not kept'}: fit residual ${r.registration.residualWithout.toFixed(4)} unregistered, ${r.registration.residualWith.toFixed(4)} registered`]
      : []),
    `noise level (median σ in the brain) ${r.noiseLevel.toFixed(2)}, brain extraction: ${r.brainExtraction}`,
    `largest motion ${worst.mm.toFixed(2)} mm, ${worst.deg.toFixed(2)}°`,
    `timings (ms): ${Object.entries(r.timings).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ...(r.stepsSkipped.length ? [`reused from the work folder: ${r.stepsSkipped.join(', ')}`] : []),
    ...r.warnings.map((w) => `warning: ${w}`),
    ...Object.entries(r.files).map(([k, f]) => `${k.padEnd(10)} ${f!.path}`),
  ];
  return lines.join('\n');
}

export async function runDwi(dwi: string, opts: RunDwiOptions): Promise<void> {
  const out = path.resolve(opts.out);
  const options: DeriveDwiOptions = {
    workDir: opts.workDir ? path.resolve(opts.workDir) : undefined,
    threads: opts.threads,
    skipSteps: opts.skip,
    steps: opts.steps,
    onProgress: opts.json ? undefined : (step, f) => process.stderr.write(`\r${step.padEnd(10)} ${(f * 100).toFixed(0).padStart(3)}%`),
  };
  const result = await deriveDwi(path.resolve(dwi), path.resolve(opts.bval), path.resolve(opts.bvec), out, options);
  if (!opts.json) process.stderr.write('\n');
  const summary = { input: { dwi: path.resolve(dwi), bval: path.resolve(opts.bval), bvec: path.resolve(opts.bvec) }, ...result };
  await fs.writeFile(path.join(out, 'dwi.json'), JSON.stringify(summary, null, 2) + '\n');
  console.log(opts.json ? JSON.stringify(summary, null, 2) : formatSummary(result));
}
