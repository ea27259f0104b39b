// Metadata harmonization: participants.tsv/json, sessions.tsv and JSON sidecars → one harmonized schema with
// provenance for every value, plus a per-dataset report. Pure domain code: no Temporal, no database.

import path from 'node:path';
import { finishParticipant, newAcc, readParticipants, type ParticipantAcc } from './participants.js';
import { datasetBrainExtractEvidence, harmonizeImage, parseImagePath, SidecarIndex } from './sidecars.js';
import type {
  AcquisitionReport,
  AcquisitionValues,
  ColumnReport,
  DatasetTextFiles,
  HarmonizedDataset,
  HarmonizedImage,
  HValue,
  MetadataIssue,
} from './types.js';
import { parseAgeCell, parseSexCell, type ParsedCell } from './values.js';

export * from './types.js';
export { loadDatasetTextFiles, inMemoryDatasetFiles, pathsFromListing, MetadataSourceError, MAX_TEXT_BYTES } from './source.js';
export { exportRowFor, imageFor, ageCell, ageForImage, EXPORT_COLUMNS, type ExportRow } from './export.js';
export { coverage, rawCoverageOf, hasHarmonizedAge, type CoverageReport, type CoverageRow, type RawCoverageInput } from './coverage.js';
export { classifyColumn, resolveSession, type ColumnRole, type FieldName } from './columns.js';
export { canonicalManufacturer } from './scanner.js';
export { parseImagePath } from './sidecars.js';

/** Folder of the OpenNeuro dataset skeletons (`<dsid>.tar.gz`) in the shared data folder (config `sharedDir`). */
export function openneuroSkeletonDir(sharedDir: string): string {
  return path.join(sharedDir, 'openneuro');
}

/** Session labels (without 'ses-') present in the dataset's paths. */
function sessionLabelsOf(paths: string[]): string[] {
  const labels = new Set<string>();
  for (const p of paths) {
    const m = p.match(/^sub-[^/]+\/ses-([^/]+)\//);
    if (m) labels.add(m[1]);
  }
  return [...labels].sort();
}

/** Subjects (and their sessions) present in the dataset's paths. */
function subjectsOf(paths: string[]): Set<string> {
  const subjects = new Set<string>();
  for (const p of paths) {
    const m = p.match(/^(sub-[^/]+)\//);
    if (m) subjects.add(m[1]);
  }
  return subjects;
}

type Merged = Map<string, { value: unknown; file: string }>;

function cellToH<T>(cell: ParsedCell<T>, file: string, field: string, raw: string): HValue<T> | undefined {
  if (cell.kind !== 'value') return undefined;
  return { value: cell.value, provenance: { file, field, raw, rule: `sidecar_${cell.rule}`, confidence: cell.confidence, flags: [...cell.flags, 'from_sidecar'] } };
}

/** DICOM-derived PatientAge/PatientSex/PatientWeight in sidecars fill gaps participants.tsv left. */
function offerSidecarDemographics(acc: ParticipantAcc, session: string | undefined, merged: Merged): void {
  const age = merged.get('PatientAge');
  if (age && (typeof age.value === 'string' || typeof age.value === 'number')) {
    const h = cellToH(parseAgeCell(String(age.value), { commaMode: 'none', units: 'years' }), age.file, 'PatientAge', String(age.value));
    if (h) {
      if (session) {
        const s = acc.sessions.get(session) ?? {};
        if (!s.age || s.age.value === null) acc.sessions.set(session, { ...s, age: h });
      }
      if (!acc.age || acc.age.value === null) acc.age = h;
    }
  }
  const sex = merged.get('PatientSex');
  if (sex && typeof sex.value === 'string' && (!acc.sex || acc.sex.value === 'unknown')) {
    const h = cellToH(parseSexCell(sex.value, undefined, 'none'), sex.file, 'PatientSex', sex.value);
    if (h) acc.sex = h;
  }
  const weight = merged.get('PatientWeight');
  if (weight && typeof weight.value === 'number' && weight.value > 0.3 && weight.value < 350 && (!acc.weight || acc.weight.value === null)) {
    acc.weight = {
      value: weight.value,
      provenance: { file: weight.file, field: 'PatientWeight', raw: String(weight.value), rule: 'sidecar_number', confidence: 'exact', flags: ['from_sidecar'] },
    };
  }
}

function acquisitionReport(images: HarmonizedImage[], index: SidecarIndex): AcquisitionReport {
  const present: Record<string, number> = {};
  const flags: Record<string, number> = {};
  for (const img of images) {
    for (const [k, h] of Object.entries(img.acquisition) as [keyof AcquisitionValues, HValue<unknown> | undefined][]) {
      if (!h) continue;
      if (h.value !== null) present[k] = (present[k] ?? 0) + 1;
      for (const f of h.provenance.flags ?? []) flags[`${k}:${f}`] = (flags[`${k}:${f}`] ?? 0) + 1;
    }
  }
  return { images: images.length, present, flags, sidecarsParsed: index.sidecarsParsed, sidecarsUnavailable: index.sidecarsUnavailable };
}

/** Harmonize one dataset. Never throws on malformed input: problems land in report.issues. */
export function harmonizeDataset(files: DatasetTextFiles): HarmonizedDataset {
  const issues: MetadataIssue[] = [];
  const columns: ColumnReport[] = [];
  const paths = files.paths();
  const accs = readParticipants({ files, knownSessions: sessionLabelsOf(paths), issues, columns });
  for (const s of subjectsOf(paths)) if (!accs.has(s)) accs.set(s, newAcc(s, false));

  const index = new SidecarIndex(files, issues);
  const evidence = datasetBrainExtractEvidence(files, issues);
  const images: HarmonizedImage[] = [];
  for (const p of paths) {
    const img = parseImagePath(p);
    if (!img) continue;
    const { image, merged } = harmonizeImage(img, index, evidence);
    images.push(image);
    const acc = accs.get(img.subject);
    if (acc) offerSidecarDemographics(acc, img.session, merged);
  }

  const participants = [...accs.values()].map(finishParticipant).sort((a, b) => a.participantId.localeCompare(b.participantId, undefined, { numeric: true }));
  for (const r of files.refused?.() ?? []) issues.push({ file: r.file, reason: r.reason, message: r.message, severity: 'error' });
  return {
    datasetId: files.datasetId,
    participants,
    images,
    report: { datasetId: files.datasetId, columns, acquisition: acquisitionReport(images, index), issues },
  };
}
