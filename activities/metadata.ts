// Metadata step (I/O queue, dataset-level): harmonize participants, sessions and sidecars into one
// schema, store it per subject/session/scan with provenance, and fill the export table's columns.
import path from 'node:path';
import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
import { hashJson } from '../lib/files.js';
import { getDataset, setDatasetMetadata } from '../db/repositories/datasets.js';
import { scansOf, setScanMetadata } from '../db/repositories/scans.js';
import { upsertSubjectMetadata } from '../db/repositories/subjects.js';
import { harmonizeDataset, exportRowFor, imageFor, inMemoryDatasetFiles, loadDatasetTextFiles } from '../lib/metadata/index.js';

export const METADATA_VERSION = '1';

export function createMetadataActivities(deps: ActivityDeps) {
  const { db } = deps;

  async function harmonizeMetadata(input: { datasetId: string }): Promise<StepResult<{ participants: number; images: number; issues: number }>> {
    const ds = await getDataset(db, input.datasetId);
    const root = ds.source_kind === 'local' ? ds.source_uri : path.join(deps.dataDir, 'raw', ds.id);
    return runIdempotentStep(db, { datasetId: ds.id, scanId: null, step: 'harmonizeMetadata', stepVersion: METADATA_VERSION, inputHash: ds.version ?? '' }, {
      compute: async () => {
        const allowedRoots = ds.source_kind === 'local' ? ((ds.metadata as { allowedRoots?: string[] } | null)?.allowedRoots ?? []) : [];
        const onDisk = await loadDatasetTextFiles(root, { allowedRoots });
        // A remote dataset's images are not on disk yet at this point: its paths come from the scans table.
        const scans = await scansOf(db, ds.id);
        const scanPaths = ds.source_kind === 'local' ? [] : scans.map((r) => r.path);
        const texts: Record<string, string> = {};
        for (const p of onDisk.paths()) {
          const t = ds.source_kind === 'local' ? undefined : onDisk.readText(p);
          if (t !== undefined) texts[p] = t;
        }
        const files = ds.source_kind === 'local' ? { ...onDisk, datasetId: ds.id } : inMemoryDatasetFiles(ds.id, texts, [...onDisk.paths(), ...scanPaths]);
        const h = harmonizeDataset(files);
        const participants = new Map(h.participants.map((p) => [p.participantId, p]));
        for (const p of h.participants) await upsertSubjectMetadata(db, ds.id, p.participantId, p);
        for (const s of scans) {
          const image = imageFor(h, s.path);
          const row = exportRowFor(h, s.path);
          const participant = image ? participants.get(image.subject) : undefined;
          // Each value with its provenance, so `openmind history` shows how the scan's metadata was derived.
          const { sessions: _sessions, ...participantValues } = participant ?? ({} as Record<string, unknown>);
          const metadata = {
            ...((s.metadata as object | null) ?? {}),
            export: row,
            participant: participant ? participantValues : null,
            acquisition: image?.acquisition ?? null,
            sidecars: image?.sidecarChain ?? [],
          };
          await setScanMetadata(db, s.id, metadata);
        }
        await setDatasetMetadata(db, ds.id, { ...((ds.metadata as object | null) ?? {}), report: h.report });
        const result = { participants: h.participants.length, images: h.images.length, issues: h.report.issues.length };
        return { result, outputHash: hashJson({ participants: h.participants, images: h.images }) };
      },
    });
  }

  return { harmonizeMetadata };
}
