// `openmind iqm <image> [--mask m] [--anon-mask a] [--json]`: the automatic quality metrics of one
// image, computed locally (no Temporal, no database).
import { readNifti, voxelSizes } from '../../lib/nifti/index.js';
import { computeIqms, QualityError, type IqmResult } from '../../lib/quality/index.js';

export interface IqmCommandOptions {
  /** Anatomy mask (NIfTI, same grid); estimated when absent. */
  mask?: string;
  /** Anonymization (defacing) mask (NIfTI, same grid, 1 = altered). */
  anonMask?: string;
  /** Contrast for tissue naming (T1w, T2w, FLAIR...). */
  contrast?: string;
  json?: boolean;
  /** Where to print (default stdout). */
  print?: (text: string) => void;
}

async function readMask(file: string, voxels: number, what: string): Promise<Uint8Array> {
  const img = await readNifti(file);
  if (img.data.length < voxels) throw new QualityError('mask_shape_mismatch', `${what} ${file} has ${img.data.length} voxels, the image ${voxels}`);
  const mask = new Uint8Array(voxels);
  for (let i = 0; i < voxels; i++) mask[i] = img.data[i] > 0.5 ? 1 : 0;
  return mask;
}

/** Print the IQMs of one image (a table, or JSON with --json) and return them. */
export async function runIqm(image: string, opts: IqmCommandOptions = {}): Promise<IqmResult> {
  const print = opts.print ?? ((t: string) => process.stdout.write(t + '\n'));
  const img = await readNifti(image);
  const voxels = img.shape[0] * img.shape[1] * (img.shape[2] ?? 1);
  const masks = {
    anatomy: opts.mask ? await readMask(opts.mask, voxels, 'anatomy mask') : undefined,
    anonymization: opts.anonMask ? await readMask(opts.anonMask, voxels, 'anonymization mask') : undefined,
  };
  const result = computeIqms({ data: img.data, shape: img.shape, voxelSize: voxelSizes(img.header) }, masks, { contrast: opts.contrast });
  if (opts.json) {
    print(JSON.stringify({ image, ...result }, null, 2));
    return result;
  }
  const lines = [`${image}  (${result.version}${result.metrics.anat_mask_estimated ? ', anatomy mask estimated' : ''})`];
  for (const [k, v] of Object.entries(result.metrics)) lines.push(`  ${k.padEnd(22)} ${formatNumber(v)}`);
  for (const w of result.warnings) lines.push(`  warning: ${w}`);
  print(lines.join('\n'));
  return result;
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3 ? v.toExponential(4) : v.toPrecision(5);
}
