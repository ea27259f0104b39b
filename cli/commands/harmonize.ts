// `openmind harmonize <target>`: harmonized participants, sessions and per-image acquisition values, with
// provenance, for one dataset (a BIDS folder, a skeleton .tar.gz, or a dataset id found among the skeletons).

import { loadConfig } from '../../services/config.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  ageCell,
  harmonizeDataset,
  loadDatasetTextFiles,
  openneuroSkeletonDir,
  type AcquisitionValues,
  type HarmonizedDataset,
  type HarmonizedParticipant,
  type HValue,
  type Provenance,
} from '../../lib/metadata/index.js';

/** Images listed in the readable summary; --json prints all. */
const MAX_IMAGES_SHOWN = 40;

/** A path as given, else `<dsid>` → the shared skeleton `<dsid>.tar.gz`. */
export function resolveTarget(target: string): string {
  if (existsSync(target)) return target;
  if (/^ds\d+$/.test(target)) {
    const skeleton = path.join(openneuroSkeletonDir(loadConfig().sharedDir), `${target}.tar.gz`);
    if (existsSync(skeleton)) return skeleton;
  }
  return target;
}

function provText(p: Provenance): string {
  const where = p.file ? `${p.file}:${p.field}` : '-';
  const flags = p.flags?.length ? ` [${p.flags.join(', ')}]` : '';
  return `${where} ${JSON.stringify(p.raw)} ${p.rule}/${p.confidence}${flags}`;
}

function hText(h: HValue<unknown> | undefined, show: (v: unknown) => string = String): string {
  if (!h) return '-';
  return h.value === null || h.value === 'unknown' ? `unknown (${provText(h.provenance)})` : `${show(h.value)} (${provText(h.provenance)})`;
}

function participantLines(p: HarmonizedParticipant): string[] {
  const age = (v: unknown) => String(ageCell(v as never)) || JSON.stringify(v);
  const lines = [
    `${p.participantId}${p.listedInParticipantsTsv ? '' : '  (not in participants.tsv)'}`,
    `    age          ${hText(p.age, age)}`,
    `    sex          ${hText(p.sex)}`,
    `    handedness   ${hText(p.handedness)}`,
    `    health       ${hText(p.healthStatus)}`,
  ];
  if (p.race) lines.push(`    race         ${hText(p.race)}`);
  if (p.weight) lines.push(`    weight (kg)  ${hText(p.weight)}`);
  if (p.bmi) lines.push(`    bmi          ${hText(p.bmi)}`);
  for (const [ses, s] of Object.entries(p.sessions)) {
    const parts = [s.age && `age ${hText(s.age, age)}`, s.weight && `weight ${hText(s.weight)}`, s.bmi && `bmi ${hText(s.bmi)}`].filter(Boolean);
    lines.push(`    ${ses.padEnd(12)} ${parts.join('; ')}`);
  }
  return lines;
}

const ACQ_LABELS: [keyof AcquisitionValues, string][] = [
  ['manufacturer', 'manufacturer'],
  ['modelName', 'model'],
  ['magneticFieldStrength', 'B0 (T)'],
  ['repetitionTime', 'TR (s)'],
  ['echoTime', 'TE (s)'],
  ['inversionTime', 'TI (s)'],
  ['flipAngle', 'flip (deg)'],
  ['phaseEncodingDirection', 'PE dir'],
  ['isBrainExtract', 'brain extract'],
];

/** Readable summary: participants, images (first few), and the dataset report. */
export function formatHarmonized(ds: HarmonizedDataset): string {
  const out: string[] = [`dataset ${ds.datasetId}: ${ds.participants.length} participants, ${ds.images.length} images`, '', 'participants:'];
  for (const p of ds.participants) out.push(...participantLines(p));
  out.push('', `images (${Math.min(ds.images.length, MAX_IMAGES_SHOWN)} of ${ds.images.length}; --json for all):`);
  for (const img of ds.images.slice(0, MAX_IMAGES_SHOWN)) {
    out.push(`${img.path}  sidecars: ${img.sidecarChain.join(' → ') || '-'}`);
    for (const [k, label] of ACQ_LABELS) if (img.acquisition[k]) out.push(`    ${label.padEnd(14)} ${hText(img.acquisition[k])}`);
  }
  out.push('', 'report: columns');
  for (const c of ds.report.columns) {
    const flags = Object.entries(c.flags).map(([f, n]) => `${f}×${n}`).join(', ');
    const unrec = c.unrecognizedValues.length ? ` unrecognized: ${c.unrecognizedValues.map((v) => JSON.stringify(v)).join(' ')}` : '';
    out.push(
      `  ${c.file}  ${JSON.stringify(c.column)} → ${c.recognizedAs ?? 'unmapped'}` +
        (c.recognizedAs ? ` (${c.mapped}/${c.cells} mapped, ${c.missing} missing, ${c.unrecognized} unrecognized)` : '') +
        (flags ? ` flags: ${flags}` : '') +
        unrec +
        (c.note ? ` — ${c.note}` : ''),
    );
  }
  const a = ds.report.acquisition;
  out.push('', `report: acquisition (${a.images} images, ${a.sidecarsParsed} sidecars parsed, ${a.sidecarsUnavailable} unavailable)`);
  for (const [k, n] of Object.entries(a.present)) out.push(`  ${k}: ${n}`);
  for (const [k, n] of Object.entries(a.flags)) out.push(`  flag ${k}: ${n}`);
  out.push('', `report: issues (${ds.report.issues.length})`);
  for (const i of ds.report.issues) out.push(`  ${i.severity} ${i.reason} ${i.file}: ${i.message}`);
  return out.join('\n');
}

export async function runHarmonize(target: string, opts: { json?: boolean }): Promise<void> {
  const files = await loadDatasetTextFiles(resolveTarget(target));
  const ds = harmonizeDataset(files);
  process.stdout.write(opts.json ? JSON.stringify(ds, null, 2) + '\n' : formatHarmonized(ds) + '\n');
}
