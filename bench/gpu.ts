// `npm run bench -- gpu [image ...] [--repeat N]`: the MindGrab network on CUDA against the CPU of
// the same machine, per head: inference seconds (first run apart: it includes session creation),
// Dice between the two brain masks, and the provider that a scan's mask provenance records.
// Last line: `gpu: <CPU seconds / CUDA seconds, worst head>x`.
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readNifti } from '../lib/nifti/index.js';
import { computeMasks, maskProvenance, prepareInput } from '../lib/masks/index.js';
import { networkBrainMask } from '../lib/masks/brain.js';
import { dice } from '../lib/volume/shape.js';
import { releaseMindgrabSessions } from '../lib/models/mindgrab.js';
import type { ExecutionProvider } from '../lib/models/session.js';

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

interface ProviderRun {
  provider: ExecutionProvider;
  fellBackToCpu: boolean;
  fallbackReason?: string;
  firstS: number;
  steadyS: number;
  mask: Uint8Array;
}

async function runProvider(vol: Parameters<typeof networkBrainMask>[0], modelsDir: string, provider: ExecutionProvider, repeat: number): Promise<ProviderRun> {
  const seconds: number[] = [];
  let last: Awaited<ReturnType<typeof networkBrainMask>> | undefined;
  for (let i = 0; i < repeat; i++) {
    last = await networkBrainMask(vol, { modelsDir, executionProvider: provider });
    seconds.push((last.timings.session + last.timings.inference) / 1000);
  }
  const steady = seconds.length > 1 ? Math.min(...seconds.slice(1)) : seconds[0];
  return { provider: last!.executionProvider, fellBackToCpu: last!.fellBackToCpu, fallbackReason: last!.fallbackReason, firstS: seconds[0], steadyS: steady, mask: last!.mask };
}

export default async function main(args: string[]): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const shared = process.env.OPENMIND_SHARED ?? path.resolve(here, '../../shared');
  const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
  const images = positional.length
    ? positional
    : ['images/t1w_head_brainchop.nii.gz', 'images/real/philips_t1w_dcmqaphilipsenh/image.nii.gz', 'images/real/philips_gre-fmapmag_dcmqaphilipsenh/image.nii.gz'].map((p) => path.join(shared, p));
  const modelsDir = process.env.OPENMIND_MODELS_DIR ?? path.join(shared, 'models');
  const repeat = Math.max(2, Number(option(args, '--repeat') ?? 3));
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'openmind-bench-gpu-'));
  console.log(`models ${modelsDir}; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}); ${repeat} runs per provider, the first apart`);
  const speedups: number[] = [];
  try {
    for (const image of images) {
      const vol = prepareInput(await readNifti(image)).vol;
      const cpu = await runProvider(vol, modelsDir, 'cpu', repeat);
      const cuda = await runProvider(vol, modelsDir, 'cuda', repeat);
      const agreement = dice(cpu.mask, cuda.mask);
      const speedup = cpu.steadyS / cuda.steadyS;
      if (cuda.provider === 'cuda') speedups.push(speedup);
      console.log(
        `${path.basename(path.dirname(image))}/${path.basename(image)} (${vol.dims.join('x')}): ` +
          `cpu first ${cpu.firstS.toFixed(2)} s, steady ${cpu.steadyS.toFixed(2)} s; ` +
          `${cuda.provider}${cuda.fellBackToCpu ? ` (fell back: ${cuda.fallbackReason})` : ''} first ${cuda.firstS.toFixed(2)} s, steady ${cuda.steadyS.toFixed(3)} s; ` +
          `speed-up ${speedup.toFixed(1)}x; brain-mask Dice cuda vs cpu ${agreement.toFixed(5)}`,
      );
      // The whole masks step as the GPU worker runs it, and what the scan's mask files record.
      const t0 = performance.now();
      const r = await computeMasks(image, path.join(out, path.basename(path.dirname(image))), { modelsDir, executionProvider: 'cuda' });
      const record = maskProvenance(r, null);
      console.log(
        `  computeMasks on cuda: ${((performance.now() - t0) / 1000).toFixed(2)} s in all (inference ${((r.timings.inference ?? 0) / 1000).toFixed(2)} s); ` +
          `type ${r.anonymization.type}; provenance executionProvider=${record.executionProvider} fellBackToCpu=${record.fellBackToCpu} fallbackReason=${record.fallbackReason} method=${record.GeneratedBy.Method}`,
      );
    }
  } finally {
    await releaseMindgrabSessions();
    await fs.rm(out, { recursive: true, force: true });
  }
  console.log(`gpu: ${speedups.length === images.length ? `${Math.min(...speedups).toFixed(1)}x` : 'no CUDA run'}`);
}
