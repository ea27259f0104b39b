// Metadata coverage: share of participants with an age and with a sex, OpenNeuro's raw rule vs harmonized.

import { normalizeParticipantId, PARTICIPANTS_TSV } from './participants.js';
import { stripBom } from './text.js';
import type { AgeValue, DatasetTextFiles, HarmonizedDataset, HarmonizedParticipant } from './types.js';

/** What OpenNeuro's own summary finds: columns named exactly `age` / `sex` with a non-empty, non-n/a value. */
export interface RawCoverageInput {
  datasetId: string;
  /** Distinct participant ids in participants.tsv. */
  participants: number;
  withAge: number;
  withSex: number;
}

export interface CoverageRow {
  datasetId: string;
  participants: number;
  rawAge: number;
  rawSex: number;
  harmonizedAge: number;
  harmonizedSex: number;
  rawAgeShare: number;
  rawSexShare: number;
  harmonizedAgeShare: number;
  harmonizedSexShare: number;
}

export interface CoverageReport {
  datasets: CoverageRow[];
  totals: CoverageRow;
}

/** Apply OpenNeuro's exact lower-case header rule to a dataset's participants.tsv. */
export function rawCoverageOf(files: DatasetTextFiles): RawCoverageInput {
  const empty = { datasetId: files.datasetId, participants: 0, withAge: 0, withSex: 0 };
  const text = files.readText(PARTICIPANTS_TSV);
  if (text === undefined) return empty;
  const lines = stripBom(text).split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return empty;
  const header = lines[0].split('\t');
  const idCol = Math.max(0, header.indexOf('participant_id'));
  const ageCol = header.indexOf('age');
  const sexCol = header.indexOf('sex');
  const ids = new Set<string>();
  const withAge = new Set<string>();
  const withSex = new Set<string>();
  const present = (v: string | undefined) => v !== undefined && v.trim() !== '' && v.trim().toLowerCase() !== 'n/a';
  for (const line of lines.slice(1)) {
    const cells = line.split('\t');
    if (!present(cells[idCol])) continue;
    const id = normalizeParticipantId(cells[idCol]).id;
    ids.add(id);
    if (ageCol >= 0 && present(cells[ageCol])) withAge.add(id);
    if (sexCol >= 0 && present(cells[sexCol])) withSex.add(id);
  }
  return { datasetId: files.datasetId, participants: ids.size, withAge: withAge.size, withSex: withSex.size };
}

function isKnownAge(a: AgeValue | null | undefined): boolean {
  return !!a && (a.years !== undefined || a.min !== undefined || a.max !== undefined);
}

/** A participant has an age when the participant or any of its sessions has a numeric age or range. */
export function hasHarmonizedAge(p: HarmonizedParticipant): boolean {
  return isKnownAge(p.age?.value) || Object.values(p.sessions).some((s) => isKnownAge(s.age?.value));
}

function share(n: number, d: number): number {
  return d === 0 ? 0 : n / d;
}

function row(datasetId: string, participants: number, rawAge: number, rawSex: number, harmonizedAge: number, harmonizedSex: number): CoverageRow {
  return {
    datasetId,
    participants,
    rawAge,
    rawSex,
    harmonizedAge,
    harmonizedSex,
    rawAgeShare: share(rawAge, participants),
    rawSexShare: share(rawSex, participants),
    harmonizedAgeShare: share(harmonizedAge, participants),
    harmonizedSexShare: share(harmonizedSex, participants),
  };
}

/**
 * Coverage per dataset and in total. The denominator is the harmonized participant list (participants.tsv rows
 * plus subjects seen only in paths), the same for raw and harmonized counts.
 */
export function coverage(datasets: HarmonizedDataset[], raw: RawCoverageInput[]): CoverageReport {
  const rawById = new Map(raw.map((r) => [r.datasetId, r]));
  const rows = datasets.map((ds) => {
    const r = rawById.get(ds.datasetId);
    const n = Math.max(ds.participants.length, r?.participants ?? 0);
    return row(
      ds.datasetId,
      n,
      r?.withAge ?? 0,
      r?.withSex ?? 0,
      ds.participants.filter(hasHarmonizedAge).length,
      ds.participants.filter((p) => p.sex.value !== 'unknown').length,
    );
  });
  const sum = (k: keyof CoverageRow) => rows.reduce((acc, r) => acc + (r[k] as number), 0);
  return { datasets: rows, totals: row('TOTAL', sum('participants'), sum('rawAge'), sum('rawSex'), sum('harmonizedAge'), sum('harmonizedSex')) };
}
