// The common path of a per-scan step, in one place: read the scan, give the step its work folder,
// run the lib/ function off the event loop, turn bad input into a non-retryable failure, store the
// files it made with their provenance, and record the result in the ledger under a key that
// includes the step's code version (workflows/steps.ts). A step activity is then a few lines.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
import { asStepFailure } from './failures.js';
import { runInThread } from './threads.js';
import { setProgress } from './heartbeat.js';
import { fileExists, sha256, sha256File } from '../lib/files.js';
import { getScan } from '../db/repositories/scans.js';
import { upsertDerivedFile, derivedFilesOf } from '../db/repositories/derived-files.js';
import type { Scan } from '../db/tables/scans.js';
import { scanStep, type ScanActivity, type ScanStepInput } from '../workflows/steps.js';

/** A lib/ module by its path from the repository root, for runInThread. */
export function libModule(relative: string): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', relative);
}

/** Call an exported async function of a lib/ module in a worker thread; its progress becomes the heartbeat. */
export async function inThread<T>(module: string, fn: string, args: unknown[]): Promise<T> {
  try {
    return await runInThread<T>({ module, fn, args }, (p) => setProgress(p));
  } catch (err) {
    throw asStepFailure(err);
  }
}

/**
 * A scan's work folder for one step: `<data>/work/<dataset>/<hash of the scan id>/<step>`. Hashed, so
 * that no legal file name (up to 255 bytes, any characters) can make the path too long or unsafe.
 */
export function scanWorkDir(dataDir: string, scan: Pick<Scan, 'id' | 'dataset_id'>, folder: string): string {
  const scanDir = sha256(scan.id).slice(0, 24);
  const datasetDir = sha256(scan.dataset_id).slice(0, 16);
  return path.join(dataDir, 'work', datasetDir, scanDir, folder);
}

/** A file a step made from the scan, recorded in derived_files with its provenance. */
export interface StepFile {
  kind: string;
  path: string;
  sha256: string;
  modality?: string;
  provenance: unknown;
}

export interface ScanStepSpec<R> {
  /** Content hash of what the step reads (default: the image's hash). */
  inputHash?: (scan: Scan) => string;
  /** Parameters that change the output: part of the key. */
  params?: unknown;
  /** The work folder's last component (default: the step's name). */
  folder?: string;
  /** Are the outputs of an earlier run still there? Default: every recorded file of `fileKinds` is present with its hash. */
  verify?: (result: R, scan: Scan) => Promise<boolean>;
  /** Kinds of derived_files the step writes, for the default `verify`. */
  fileKinds?: string[];
  compute: (ctx: { scan: Scan; workDir: string }) => Promise<{ result: R; outputHash: string; files?: StepFile[] }>;
}

/** Run one per-scan step idempotently (see the file comment); `define` builds the step from its scan row. */
export async function runScanStep<R>(
  deps: ActivityDeps,
  input: ScanStepInput,
  name: ScanActivity,
  define: (scan: Scan) => ScanStepSpec<R> | Promise<ScanStepSpec<R>>,
): Promise<StepResult<R>> {
  const { db } = deps;
  const scan = await getScan(db, input.scanId);
  const spec = await define(scan);
  const step = scanStep(name);
  const workDir = scanWorkDir(deps.dataDir, scan, spec.folder ?? name);
  const verify = spec.verify ?? (spec.fileKinds ? () => filesIntact(deps, scan.id, spec.fileKinds!) : undefined);
  const identity = { datasetId: scan.dataset_id, scanId: scan.id, step: name, stepVersion: step.version, inputHash: spec.inputHash ? spec.inputHash(scan) : (scan.content_hash ?? ''), params: spec.params };
  return runIdempotentStep(
    db,
    identity,
    {
      verify: verify && ((result: R) => verify(result, scan)),
      compute: async (stepKey) => {
        const { result, outputHash, files } = await spec.compute({ scan, workDir });
        for (const f of files ?? []) {
          await upsertDerivedFile(db, scan.id, { kind: f.kind, path: f.path, sha256: f.sha256, modality: f.modality ?? scan.modality, stepKey, provenance: f.provenance });
        }
        return { result, outputHash };
      },
    },
  );
}

async function filesIntact(deps: ActivityDeps, scanId: string, kinds: string[]): Promise<boolean> {
  const files = await derivedFilesOf(deps.db, scanId, kinds);
  if (files.length !== kinds.length) return false;
  const ok = await Promise.all(files.map(async (f) => (await fileExists(f.path)) && (await sha256File(f.path)) === f.content_hash));
  return ok.every(Boolean);
}
