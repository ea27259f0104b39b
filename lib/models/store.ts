// Model store: a folder of model files (the caller's choice, default ~/.cache/openmind/models),
// filled on demand from pinned public URLs and checked against pinned SHA-256 sums.
// Layout: <modelsDir>/<model id>/<file>. Model weights never live in the repository.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelError } from './errors.js';
import { writeFileAtomic } from '../files.js';

export interface ModelFileSpec {
  name: string;
  url: string;
  sha256: string;
  /** Other places, relative to the models folder, where a shared copy may already sit. */
  alsoAt?: string[];
}

export interface ModelSpec {
  id: string;
  description: string;
  license: string;
  source: string;
  files: ModelFileSpec[];
}

/** brainchop's commit that the MindGrab files are pinned to. */
const BRAINCHOP_COMMIT = '4c87885f3a2a8835e260d521dcec922b58d91d41';
const BRAINCHOP_RAW = `https://raw.githubusercontent.com/neuroneural/brainchop/${BRAINCHOP_COMMIT}/public/models`;
/** pydeface's commit for the face mask (abbreviated as recorded with the shared copy; the SHA-256 pin is what counts). */
const PYDEFACE_COMMIT = '24919aa5';

export const MODELS: Record<string, ModelSpec> = {
  mindgrab: {
    id: 'mindgrab',
    description: 'brainchop MindGrab omnimodal skull-strip MeshNet (TF.js layers-model, 2 classes: background, brain)',
    license: 'MIT',
    source: `neuroneural/brainchop@${BRAINCHOP_COMMIT} public/models/mindgrab/`,
    files: [
      { name: 'model.json', url: `${BRAINCHOP_RAW}/mindgrab/model.json`, sha256: '24d1bcccba736a83c80b336ca349297f4839ae08b8ec92ec72c5d6adb9afe76e' },
      { name: 'model.bin', url: `${BRAINCHOP_RAW}/mindgrab/model.bin`, sha256: 'c9a01490fe2d13acc1515fd019b69db176ebe6f40c9b84aeb77f25acbc2ee0f3' },
    ],
  },
  'pydeface-facemask': {
    id: 'pydeface-facemask',
    description: "pydeface's face mask (1 = keep, 0 = face) in the grid of pydeface's own template",
    license: 'MIT',
    source: `poldracklab/pydeface@${PYDEFACE_COMMIT} pydeface/data/facemask.nii.gz`,
    files: [
      {
        name: 'facemask.nii.gz',
        url: `https://raw.githubusercontent.com/poldracklab/pydeface/${PYDEFACE_COMMIT}/pydeface/data/facemask.nii.gz`,
        sha256: '8cba52c32c02e0cc28dd47606f6ef581b9c9804f1ae9d412da5a4addc57f0068',
        alsoAt: ['../templates/pydeface_facemask.nii.gz'],
      },
    ],
  },
};

export interface ResolvedModel {
  id: string;
  dir: string;
  /** Absolute path per file name. */
  files: Record<string, string>;
  /** SHA-256 per file name (the pinned sums, verified). */
  sha256: Record<string, string>;
  /** One key for the whole model: SHA-256 over the files' sums in spec order. */
  key: string;
  downloaded: string[];
}

export type Fetcher = (url: string) => Promise<Uint8Array>;

export interface EnsureModelOptions {
  modelsDir?: string;
  /** Download missing files (default true). */
  download?: boolean;
  /** Replaces global fetch, e.g. in tests. */
  fetcher?: Fetcher;
  /** Cache root for derived artefacts such as converted graphs (default ~/.cache/openmind). */
  cacheDir?: string;
}

/** The cache root for derived artefacts (converted graphs): the caller's, else ~/.cache/openmind. */
export function cacheRoot(explicit?: string): string {
  return explicit ?? path.join(os.homedir(), '.cache', 'openmind');
}

/** The models folder: the caller's, else <cache root>/models. */
export function modelsDirOf(explicit?: string): string {
  return explicit ?? path.join(cacheRoot(), 'models');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function fileSha256(file: string): Promise<string | undefined> {
  try {
    return sha256Hex(await fs.readFile(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const defaultFetcher: Fetcher = async (url) => {
  const response = await fetch(url, { redirect: 'follow' });
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
};

async function downloadVerified(spec: ModelFileSpec, target: string, fetcher: Fetcher): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await fetcher(spec.url);
  } catch (err) {
    throw new ModelError('download_failed', `could not download ${spec.url}: ${(err as Error).message}`, { url: spec.url });
  }
  const actual = sha256Hex(bytes);
  if (actual !== spec.sha256) {
    throw new ModelError('checksum_mismatch', `${spec.url} has SHA-256 ${actual}, expected ${spec.sha256}`, { url: spec.url, actual, expected: spec.sha256 });
  }
  await writeFileAtomic(target, bytes);
}

/**
 * Locate a model's files, downloading the missing ones, and verify every file against its pin.
 * A present file with the wrong sum is an error (never silently replaced).
 */
export async function ensureModel(id: string, opts: EnsureModelOptions = {}): Promise<ResolvedModel> {
  const spec = MODELS[id];
  if (!spec) throw new ModelError('unknown_model', `no model named ${id}`, { known: Object.keys(MODELS) });
  const dir = path.join(modelsDirOf(opts.modelsDir), id);
  const files: Record<string, string> = {};
  const sums: Record<string, string> = {};
  const downloaded: string[] = [];
  for (const file of spec.files) {
    let target = path.join(dir, file.name);
    let actual = await fileSha256(target);
    for (const alt of file.alsoAt ?? []) {
      if (actual !== undefined) break;
      const candidate = path.resolve(modelsDirOf(opts.modelsDir), alt);
      actual = await fileSha256(candidate);
      if (actual !== undefined) target = candidate;
    }
    if (actual === undefined) {
      if (opts.download === false) throw new ModelError('download_failed', `${target} is missing and downloads are off`, { path: target });
      await downloadVerified(file, target, opts.fetcher ?? defaultFetcher);
      downloaded.push(file.name);
      actual = file.sha256;
    }
    if (actual !== file.sha256) {
      throw new ModelError('checksum_mismatch', `${target} has SHA-256 ${actual}, expected ${file.sha256}`, { path: target, actual, expected: file.sha256 });
    }
    files[file.name] = target;
    sums[file.name] = actual;
  }
  const key = createHash('sha256').update(spec.files.map((f) => f.sha256).join('\n')).digest('hex');
  return { id, dir, files, sha256: sums, key, downloaded };
}

/** True when the model's files are present (without checking or downloading). */
export async function modelPresent(id: string, modelsDir?: string): Promise<boolean> {
  const spec = MODELS[id];
  if (!spec) return false;
  const dir = path.join(modelsDirOf(modelsDir), id);
  for (const f of spec.files) {
    const places = [path.join(dir, f.name), ...(f.alsoAt ?? []).map((alt) => path.resolve(modelsDirOf(modelsDir), alt))];
    let found = false;
    for (const place of places) {
      try {
        await fs.access(place);
        found = true;
        break;
      } catch {
        // try the next place
      }
    }
    if (!found) return false;
  }
  return true;
}
