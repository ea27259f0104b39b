// `npm run bench -- dwi [--threads 1,2] [--series NAME,...] [--shape 96,96,60] [--no-synthetic] [--full]`
//
// MRtrix3's chain against ours, like for like, on every series: a simulated
// 96×96×60×65 one (64 directions at b=1000, Rician noise) and each real DWI
// series under shared/images.
//  - MRtrix3: dwidenoise, mrdegibbs, dwi2tensor, tensor2metric (-nthreads N);
//  - ours: MP-PCA denoising, Gibbs removal, tensor fit and FA/ADC on the same
//    uncompressed input at the same thread count, including reading the series
//    and writing the maps (MRtrix's times include its I/O too).
// At 2 threads our steps run on pooled worker threads, as in a worker process: the pool starts
// once (in the first case) and is reused.
// One line per series and thread count with the ratio ours / MRtrix3; the
// last line is `dwi: <worst ratio>`. `--full` adds our six-step derivation of
// the simulated series in a child process (time and peak RSS).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeNifti } from '../lib/nifti/index.js';
import { fitTensor, mppcaDenoise, removeGibbs, tensorMetrics } from '../lib/dwi/index.js';
import { readSeries } from '../lib/dwi/io.js';
import { closeWorkerPool, isShared, parallelDenoise, parallelFitTensor, parallelGibbs } from '../lib/dwi/parallel.js';
import { gibbsParams } from '../lib/dwi/gibbs.js';
import { readGradientTable, simulateDwi, writeSimulatedDwi } from '../test/helpers/dwi-sim.js';
import { REAL_DWI_SERIES } from '../test/helpers/mrtrix.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const shared = process.env.OPENMIND_SHARED ?? path.resolve(repoRoot, '../shared');

interface Case {
  name: string;
  /** Uncompressed series, FSL bval and bvec. */
  dwi: string;
  bval: string;
  bvec: string;
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

function mrtrixAvailable(): boolean {
  try {
    execFileSync('dwidenoise', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function prepareCases(dir: string, args: string[]): Promise<Case[]> {
  const wanted = option(args, '--series')?.split(',');
  const cases: Case[] = [];
  if (!args.includes('--no-synthetic') && (!wanted || wanted.includes('synthetic'))) {
    const shape = (option(args, '--shape') ?? '96,96,60').split(',').map(Number) as [number, number, number];
    const table = await readGradientTable(path.join(shared, 'images/dipy/small_64D.bval'), path.join(shared, 'images/dipy/small_64D.bvec'), false);
    const sim = simulateDwi({ shape, voxelSize: [2, 2, 2], bvals: table.bvals, bvecs: table.bvecs, snr: 25, seed: 7 });
    const files = await writeSimulatedDwi(path.join(dir, 'synthetic'), sim, { positiveDeterminant: false });
    const dwi = path.join(dir, 'synthetic', 'dwi.nii');
    execFileSync('sh', ['-c', `gunzip -c '${files.dwi}' > '${dwi}'`]);
    cases.push({ name: `synthetic ${sim.shape.join('×')}`, dwi, bval: files.bval, bvec: files.bvec });
  }
  for (const series of REAL_DWI_SERIES) {
    const name = path.basename(series);
    if (wanted && !wanted.some((w) => name.includes(w))) continue;
    const source = path.join(shared, 'images', series);
    if (!existsSync(path.join(source, 'dwi.nii.gz'))) continue;
    const target = path.join(dir, name);
    await fs.mkdir(target, { recursive: true });
    const dwi = path.join(target, 'dwi.nii');
    // Uncompressed .nii for both tools, so that neither pays for gzip.
    execFileSync('sh', ['-c', `gunzip -c '${path.join(source, 'dwi.nii.gz')}' > '${dwi}'`]);
    cases.push({ name, dwi, bval: path.join(source, 'dwi.bval'), bvec: path.join(source, 'dwi.bvec') });
  }
  return cases;
}

/** MRtrix3's four commands; seconds per step. */
function runMrtrix(c: Case, threads: number): { denoise: number; gibbs: number; tensor: number } {
  const cwd = path.dirname(c.dwi);
  const run = (cmd: string, a: string[]) => {
    const t = performance.now();
    execFileSync(cmd, ['-quiet', '-force', '-nthreads', String(threads), ...a], { cwd });
    return seconds(t);
  };
  const denoise = run('dwidenoise', [c.dwi, 'mr_dn.nii', '-noise', 'mr_noise.nii']);
  const gibbs = run('mrdegibbs', ['mr_dn.nii', 'mr_gb.nii']);
  const tensor = run('dwi2tensor', ['-fslgrad', c.bvec, c.bval, 'mr_gb.nii', 'mr_dt.nii']) + run('tensor2metric', ['mr_dt.nii', '-fa', 'mr_fa.nii', '-adc', 'mr_adc.nii']);
  return { denoise, gibbs, tensor };
}

/** Ours, the same chain; seconds per step (reading and writing counted in `tensor`). */
async function runOurs(c: Case, threads: number): Promise<{ denoise: number; gibbs: number; tensor: number }> {
  const t0 = performance.now();
  const series = await readSeries(c.dwi, { shared: threads > 1 });
  const table = await readGradientTable(c.bval, c.bvec, false);
  const tRead = seconds(t0);
  const { data, shape } = series;
  let t = performance.now();
  if (threads > 1 && isShared(data)) await parallelDenoise(data, shape, {}, threads);
  else mppcaDenoise(data, shape);
  const denoise = seconds(t);
  t = performance.now();
  if (threads > 1 && isShared(data)) await parallelGibbs(data, shape, gibbsParams(), threads);
  else removeGibbs(data, shape);
  const gibbs = seconds(t);
  t = performance.now();
  const nvox = shape[0] * shape[1] * shape[2];
  const all = new Uint8Array(nvox).fill(1);
  const volumes = table.bvals.map((_, i) => i);
  const fit = threads > 1 && isShared(data) ? await parallelFitTensor(data, shape, table.bvals, table.bvecs, volumes, all, threads) : fitTensor(data, shape, table.bvals, table.bvecs, volumes, all);
  const maps = tensorMetrics(fit.tensor);
  await writeNifti(path.join(path.dirname(c.dwi), 'fa.nii'), series.header, maps.fa);
  await writeNifti(path.join(path.dirname(c.dwi), 'adc.nii'), series.header, maps.adc);
  return { denoise, gibbs, tensor: seconds(t) + tRead };
}

const fmt = (s: { denoise: number; gibbs: number; tensor: number }) => {
  const total = s.denoise + s.gibbs + s.tensor;
  return `${total.toFixed(2)} s (denoise ${s.denoise.toFixed(2)}, Gibbs ${s.gibbs.toFixed(2)}, tensor ${s.tensor.toFixed(2)})`;
};

export default async function main(args: string[]): Promise<void> {
  const threadCounts = (option(args, '--threads') ?? '1,2').split(',').map(Number);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-dwi-'));
  try {
    const cases = await prepareCases(dir, args);
    const haveMrtrix = mrtrixAvailable();
    if (!haveMrtrix) console.log('MRtrix3 not installed: no reference times (apt-get install -y mrtrix3)');
    let worst = -Infinity;
    for (const c of cases) {
      for (const threads of threadCounts) {
        const ref = haveMrtrix ? runMrtrix(c, threads) : null;
        const ours = await runOurs(c, threads);
        const total = (s: { denoise: number; gibbs: number; tensor: number }) => s.denoise + s.gibbs + s.tensor;
        const ratio = ref ? total(ours) / total(ref) : NaN;
        if (Number.isFinite(ratio)) worst = Math.max(worst, ratio);
        console.log(`${c.name} · ${threads} thread${threads > 1 ? 's' : ''}: MRtrix3 ${ref ? fmt(ref) : 'n/a'}; ours ${fmt(ours)}; ratio ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'}`);
      }
    }
    if (args.includes('--full')) await fullDerivation(dir, Math.max(...threadCounts));
    console.log(`dwi: ${Number.isFinite(worst) ? worst.toFixed(2) : 'n/a'}`);
  } finally {
    await closeWorkerPool();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Our whole six-step derivation of the simulated series in a child process, for a clean peak RSS. */
async function fullDerivation(dir: string, threads: number): Promise<void> {
  const syn = path.join(dir, 'synthetic');
  if (!existsSync(path.join(syn, 'dwi.nii.gz'))) return;
  const index = pathToFileURL(path.join(repoRoot, 'lib/dwi/index.ts')).href;
  const script =
    `const { deriveDwi } = await import(${JSON.stringify(index)});` +
    `const t = performance.now();` +
    `const r = await deriveDwi(${JSON.stringify(path.join(syn, 'dwi.nii.gz'))}, ${JSON.stringify(path.join(syn, 'dwi.bval'))}, ${JSON.stringify(path.join(syn, 'dwi.bvec'))}, ${JSON.stringify(path.join(dir, 'full'))}, { threads: ${threads} });` +
    `console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000, timings: r.timings, rssMiB: process.resourceUsage().maxRSS / 1024 }));`;
  const child = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: repoRoot });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  try {
    const full = JSON.parse(line) as { seconds: number; timings: Record<string, number>; rssMiB: number };
    console.log(`full six steps (synthetic, ${threads} threads): ${full.seconds.toFixed(1)} s (${Object.entries(full.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')}), peak RSS ${full.rssMiB.toFixed(0)} MiB`);
  } catch {
    console.log(`full six steps failed: ${child.stderr.slice(-2000)}`);
  }
}
