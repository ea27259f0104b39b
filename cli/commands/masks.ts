// `openmind masks <image> --out <dir> [--json] [--models-dir d] [--ep cuda|cpu]`: the anatomy and
// anonymization masks of one 3-D image, computed locally (no Temporal, no database). Writes
// <out>/fb_mask.nii.gz, <out>/deface_mask.nii.gz and <out>/masks.json.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { computeMasks, type MasksResult } from '../../lib/masks/index.js';
import { loadConfig } from '../../services/config.js';

export interface MasksCommandOptions {
  out: string;
  json?: boolean;
  modelsDir?: string;
  /** Execution provider asked for: 'cuda' or 'cpu' (default OPENMIND_EP, else cpu). */
  ep?: string;
  /** Where to print (default stdout). */
  print?: (text: string) => void;
}

export const MASKS_JSON_NAME = 'masks.json';

function summary(image: string, r: MasksResult) {
  return {
    image,
    anonymization: r.anonymization,
    files: r.files,
    executionProvider: r.provenance.executionProvider ?? null,
    fellBackToCpu: r.provenance.fellBackToCpu ?? false,
    fallbackReason: r.provenance.fallbackReason ?? null,
    method: r.provenance.method,
    version: r.provenance.version,
    modelSha256: r.provenance.modelSha256 ?? null,
    timings: r.timings,
    warnings: r.warnings,
  };
}

export async function runMasks(image: string, opts: MasksCommandOptions): Promise<void> {
  const print = opts.print ?? ((t: string) => process.stdout.write(t + '\n'));
  const ep = opts.ep === undefined ? undefined : opts.ep.toLowerCase() === 'cuda' ? 'cuda' : 'cpu';
  const config = loadConfig();
  const result = await computeMasks(image, opts.out, { modelsDir: opts.modelsDir ?? config.modelsDir, cacheDir: config.cacheDir, executionProvider: ep ?? config.executionProvider, cpuThreads: config.ortThreads });
  const report = summary(image, result);
  await fs.writeFile(path.join(opts.out, MASKS_JSON_NAME), JSON.stringify({ ...report, provenance: result.provenance }, null, 2) + '\n');
  if (opts.json) {
    print(JSON.stringify(report, null, 2));
    return;
  }
  const a = result.anonymization;
  print(
    [
      `${image}`,
      `  anonymization  ${a.type} (confidence ${a.confidence}, ${a.source})`,
      `  deface mask    ${result.files.defaceMask.path}  ${result.files.defaceMask.voxels} voxels`,
      `  anatomy mask   ${result.files.fbMask.path}  ${result.files.fbMask.voxels} voxels`,
      `  method         ${result.provenance.method}${result.provenance.executionProvider ? ` on ${result.provenance.executionProvider}` : ''}${result.provenance.fellBackToCpu ? ` (fell back: ${result.provenance.fallbackReason})` : ''}`,
      `  timings ms     ${Object.entries(result.timings).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      ...result.warnings.map((w) => `  warning        ${w}`),
    ].join('\n'),
  );
}
