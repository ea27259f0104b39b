// `npm run bench -- masks [image] [--ep cuda|cpu] [--grid mm] [--runs n]`: the network's inference
// time per 1 mm head (the headline, goal: at most 30 s on 2 CPU cores), with the rest of the masks
// shown separately, then the network on the grid it was trained on (1 mm) in the same run: the
// time ratio and the brain masks' Dice. Default image: the shared brainchop T1 (256³, 1 mm). Last
// line: `masks: <best inference seconds> s/head inference`.
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { computeMasks, prepareInput } from '../lib/masks/index.js';
import { networkBrainMask, NETWORK_GRID_MM } from '../lib/masks/brain.js';
import { readNifti } from '../lib/nifti/index.js';
import { dice } from '../lib/volume/shape.js';
import { releaseMindgrabSessions } from '../lib/models/mindgrab.js';
import { cpuThreads } from '../lib/models/session.js';
import { loadConfig } from '../services/config.js';

/** Issue #14: CPU inference per 1 mm head, 2 cores. */
const GOAL_S = 30;
/** ...with the same masks: brain-mask Dice against the network on its trained 1 mm grid. */
const MIN_DICE = 0.99;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export default async function main(args: string[]): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const shared = process.env.OPENMIND_SHARED ?? path.resolve(here, '../../shared');
  const image = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--'))) ?? path.join(shared, 'images/t1w_head_brainchop.nii.gz');
  const modelsDir = process.env.OPENMIND_MODELS_DIR ?? path.join(shared, 'models');
  const ep = option(args, '--ep') === 'cuda' ? 'cuda' : 'cpu';
  const gridMm = Number(option(args, '--grid') ?? NETWORK_GRID_MM);
  const runs = Number(option(args, '--runs') ?? 2);
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'openmind-bench-masks-'));
  console.log(`image ${image}\nmodels ${modelsDir}, provider asked ${ep}, network grid ${gridMm} mm, ${os.cpus().length} CPUs`);
  const excluding: number[] = [];
  const inferences: number[] = [];
  let reference: { seconds: number; seconds2: number; dice: number } | undefined;
  try {
    // Run 1 includes graph conversion and session creation; later runs reuse the session.
    for (let run = 1; run <= runs; run++) {
      const t0 = performance.now();
      const r = await computeMasks(image, path.join(out, `run${run}`), { modelsDir, executionProvider: ep, networkGridMm: gridMm, cpuThreads: loadConfig().ortThreads });
      const total = (performance.now() - t0) / 1000;
      const inference = (r.timings.inference ?? 0) / 1000;
      excluding.push(total - inference);
      inferences.push(inference);
      console.log(
        `run ${run}: total ${total.toFixed(1)} s, inference ${inference.toFixed(1)} s on ${r.provenance.executionProvider ?? 'none'}` +
          `${r.provenance.fellBackToCpu ? ' (fell back to cpu)' : ''}, excluding inference ${(total - inference).toFixed(1)} s; ` +
          `type ${r.anonymization.type}; stages ms ${JSON.stringify(r.timings)}`,
      );
    }
    // The same image through the network alone, on the trained 1 mm grid and on the grid above,
    // back to back: the speed-up and how far the masks moved.
    if (gridMm !== 1) {
      const vol = prepareInput(await readNifti(image)).vol;
      const brainOpts = { modelsDir, executionProvider: ep, cpuThreads: loadConfig().ortThreads } as const;
      const trained = await networkBrainMask(vol, { ...brainOpts, gridMm: 1 });
      const faster = await networkBrainMask(vol, { ...brainOpts, gridMm });
      reference = { seconds: trained.timings.inference / 1000, seconds2: faster.timings.inference / 1000, dice: dice(faster.mask, trained.mask) };
    }
  } finally {
    await releaseMindgrabSessions();
    await fs.rm(out, { recursive: true, force: true });
  }
  const best = Math.min(...inferences);
  const threads = cpuThreads(loadConfig().ortThreads);
  console.log(`rest of the masks (excluding inference): ${Math.min(...excluding).toFixed(1)} s/image`);
  if (reference) {
    console.log(`reference, same run: 1 mm grid (as trained) ${reference.seconds.toFixed(1)} s, ${gridMm} mm grid ${reference.seconds2.toFixed(1)} s ` +
      `(ratio ${(reference.seconds2 / reference.seconds).toFixed(2)}); brain-mask Dice between them ${reference.dice.toFixed(4)} (goal: at least ${MIN_DICE})`);
  }
  const sameMasks = gridMm === 1 || (reference !== undefined && reference.dice >= MIN_DICE);
  console.log(`goal: network inference at most ${GOAL_S} s per 1 mm head on 2 CPU cores, masks within Dice ${MIN_DICE} of the 1 mm grid's ` +
    `(this run: ${ep}, ${threads} threads, network grid ${gridMm} mm)` +
    `${ep === 'cpu' ? (best <= GOAL_S && sameMasks ? ' -- met' : ' -- not met') : ''}`);
  console.log(`masks: ${best.toFixed(1)} s/head inference`);
}
