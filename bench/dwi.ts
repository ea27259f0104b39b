// `npm run bench -- dwi [--threads N] [--shape 96,96,60] [--no-full]`
//
// On a simulated 96×96×60×65 series (64 directions at b=1000, Rician noise):
//  - MRtrix3: dwidenoise, mrdegibbs, dwi2tensor, tensor2metric (-nthreads N);
//  - ours: MP-PCA denoising, Gibbs removal, tensor fit and maps on the same
//    input and the same thread count, including reading the series and
//    writing the maps (MRtrix's times include its I/O too);
// then the ratio ours / MRtrix, and our full six-step derivation in a child
// process (time and peak RSS). Last line: `dwi: <ratio>`.
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeNifti } from '../lib/nifti/index.js';
import { fitTensor, mppcaDenoise, removeGibbs, tensorMetrics } from '../lib/dwi/index.js';
import { readSeries } from '../lib/dwi/io.js';
import { isShared, parallelDenoise, parallelGibbs } from '../lib/dwi/parallel.js';
import { gibbsParams } from '../lib/dwi/gibbs.js';
import { readGradientTable, simulateDwi, writeSimulatedDwi } from '../test/helpers/dwi-sim.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const shared = process.env.OPENMIND_SHARED ?? path.resolve(repoRoot, '../shared');

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function timed<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, (performance.now() - t) / 1000];
}

async function timedAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, (performance.now() - t) / 1000];
}

function mrtrixAvailable(): boolean {
  try {
    execFileSync('dwidenoise', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export default async function main(args: string[]): Promise<void> {
  const threads = Number(option(args, '--threads') ?? 1);
  const shape = (option(args, '--shape') ?? '96,96,60').split(',').map(Number) as [number, number, number];
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-dwi-'));
  try {
    const table = await readGradientTable(path.join(shared, 'images/dipy/small_64D.bval'), path.join(shared, 'images/dipy/small_64D.bvec'), false);
    const [sim, simSeconds] = timed(() => simulateDwi({ shape, voxelSize: [2, 2, 2], bvals: table.bvals, bvecs: table.bvecs, snr: 25, seed: 7 }));
    // Uncompressed .nii for both tools, so that neither pays for gzip.
    const files = await writeSimulatedDwi(dir, sim, { positiveDeterminant: false });
    const input = path.join(dir, 'dwi.nii');
    execFileSync('sh', ['-c', `gunzip -c '${files.dwi}' > '${input}'`]);
    console.log(`series ${sim.shape.join('×')} (${((sim.data.length * 4) / 2 ** 20).toFixed(0)} MiB float32), simulated in ${simSeconds.toFixed(1)} s; threads ${threads}`);

    let mrtrixSeconds = NaN;
    if (mrtrixAvailable()) {
      const run = (cmd: string, a: string[]) => timed(() => execFileSync(cmd, ['-quiet', '-force', '-nthreads', String(threads), ...a], { cwd: dir }))[1];
      const t1 = run('dwidenoise', ['dwi.nii', 'mr_dn.nii', '-noise', 'mr_noise.nii']);
      const t2 = run('mrdegibbs', ['mr_dn.nii', 'mr_gb.nii']);
      const t3 = run('dwi2tensor', ['-fslgrad', 'dwi.bvec', 'dwi.bval', 'mr_gb.nii', 'mr_dt.nii']);
      const t4 = run('tensor2metric', ['mr_dt.nii', '-fa', 'mr_fa.nii', '-adc', 'mr_adc.nii']);
      mrtrixSeconds = t1 + t2 + t3 + t4;
      console.log(`MRtrix3: dwidenoise ${t1.toFixed(1)} s, mrdegibbs ${t2.toFixed(1)} s, dwi2tensor ${t3.toFixed(1)} s, tensor2metric ${t4.toFixed(1)} s = ${mrtrixSeconds.toFixed(1)} s`);
    } else {
      console.log('MRtrix3 not installed: no reference time (apt-get install -y mrtrix3)');
    }

    const t0 = performance.now();
    const series = await readSeries(input, { shared: threads > 1 });
    const tRead = (performance.now() - t0) / 1000;
    const { data } = series;
    const [, tDenoise] = await timedAsync(async () =>
      threads > 1 && isShared(data) ? parallelDenoise(data, sim.shape, {}, threads) : mppcaDenoise(data, sim.shape),
    );
    const [, tGibbs] = await timedAsync(async () =>
      threads > 1 && isShared(data) ? parallelGibbs(data, sim.shape, gibbsParams(), threads) : removeGibbs(data, sim.shape),
    );
    const nvox = shape[0] * shape[1] * shape[2];
    const all = new Uint8Array(nvox).fill(1);
    const [maps, tTensor] = timed(() =>
      tensorMetrics(fitTensor(data, sim.shape, table.bvals, table.bvecs, table.bvals.map((_, i) => i), all).tensor),
    );
    const [, tWrite] = await timedAsync(async () => {
      await writeNifti(path.join(dir, 'fa.nii'), series.header, maps.fa);
      await writeNifti(path.join(dir, 'adc.nii'), series.header, maps.adc);
    });
    const ours = tRead + tDenoise + tGibbs + tTensor + tWrite;
    console.log(
      `ours:    read ${tRead.toFixed(1)} s, denoise ${tDenoise.toFixed(1)} s, Gibbs ${tGibbs.toFixed(1)} s, tensor+maps ${tTensor.toFixed(1)} s, write ${tWrite.toFixed(1)} s = ${ours.toFixed(1)} s`,
    );

    if (!args.includes('--no-full')) {
      // Full six steps in a child process, for a clean peak RSS.
      const index = pathToFileURL(path.join(repoRoot, 'lib/dwi/index.ts')).href;
      const script =
        `const { deriveDwi } = await import(${JSON.stringify(index)});` +
        `const t = performance.now();` +
        `const r = await deriveDwi(${JSON.stringify(files.dwi)}, ${JSON.stringify(files.bval)}, ${JSON.stringify(files.bvec)}, ${JSON.stringify(path.join(dir, 'full'))}, { threads: ${threads} });` +
        `console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000, timings: r.timings, rssMiB: process.resourceUsage().maxRSS / 1024 }));`;
      const child = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: repoRoot });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      try {
        const full = JSON.parse(line) as { seconds: number; timings: Record<string, number>; rssMiB: number };
        console.log(`full six steps: ${full.seconds.toFixed(1)} s (${Object.entries(full.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')}), peak RSS ${full.rssMiB.toFixed(0)} MiB`);
      } catch {
        console.log(`full six steps failed: ${child.stderr.slice(-2000)}`);
      }
    }
    const ratio = ours / mrtrixSeconds;
    console.log(`dwi: ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
