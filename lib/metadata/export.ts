// One flat row of the OpenMind metadata table for an image, from a harmonized dataset.

import { parseImagePath } from './sidecars.js';
import type { AgeValue, HarmonizedDataset, HarmonizedImage, HarmonizedParticipant, HValue } from './types.js';

export type ExportRow = Record<string, string | number | boolean | null>;

export const EXPORT_COLUMNS = [
  'age', 'sex', 'handedness', 'race', 'weight', 'bmi', 'health_status', 'is_brain_extract',
  'manufacturer', 'model_name', 'phase_encoding_direction', 'magnetic_field_strength', 'repetition_time', 'echo_time',
] as const;

interface Lookup {
  images: Map<string, HarmonizedImage>;
  participants: Map<string, HarmonizedParticipant>;
}

const lookups = new WeakMap<HarmonizedDataset, Lookup>();

function lookupFor(ds: HarmonizedDataset): Lookup {
  let l = lookups.get(ds);
  if (!l) {
    l = { images: new Map(ds.images.map((i) => [i.path, i])), participants: new Map(ds.participants.map((p) => [p.participantId, p])) };
    lookups.set(ds, l);
  }
  return l;
}

/** The harmonized image for a path (dataset-relative, or prefixed with '<datasetId>/'); undefined if not an image. */
export function imageFor(ds: HarmonizedDataset, imagePath: string): HarmonizedImage | undefined {
  return lookupFor(ds).images.get(relativeImagePath(ds, imagePath));
}

/** Age as the table writes it: a number, 'min-max' for a range, 'min+' for a capped value, '' when unknown. */
export function ageCell(age: AgeValue | null | undefined): string | number {
  if (!age) return '';
  if (age.years !== undefined) return age.years;
  if (age.min !== undefined && age.max !== undefined) return `${age.min}-${age.max}`;
  if (age.min !== undefined) return `${age.min}+`;
  if (age.max !== undefined) return `<${age.max}`;
  return '';
}

function plain<T extends string | number | boolean>(h: HValue<T | null> | undefined): T | '' {
  return h && h.value !== null ? h.value : '';
}

function enumCell(h: HValue<string> | undefined): string {
  return h && h.value !== 'unknown' ? h.value : '';
}

/** Strip './' and a leading '<datasetId>/' so both dataset-relative and export-style paths resolve. */
function relativeImagePath(ds: HarmonizedDataset, imagePath: string): string {
  let p = imagePath.replace(/^\.\//, '');
  if (p.startsWith(`${ds.datasetId}/`)) p = p.slice(ds.datasetId.length + 1);
  return p;
}

/** The age for an image: the session's age when the image has a session that has one, else the participant's. */
export function ageForImage(p: HarmonizedParticipant | undefined, session: string | undefined): HValue<AgeValue | null> | undefined {
  if (!p) return undefined;
  const sessionAge = session ? p.sessions[session]?.age : undefined;
  return sessionAge && sessionAge.value !== null ? sessionAge : p.age;
}

/** One flat export row for an image path ('' for unknown values). Unknown paths get participant values only. */
export function exportRowFor(ds: HarmonizedDataset, imagePath: string): ExportRow {
  const { images, participants } = lookupFor(ds);
  const rel = relativeImagePath(ds, imagePath);
  const img = images.get(rel);
  const parsed = img ? undefined : parseImagePath(rel);
  const subject = img?.subject ?? parsed?.subject ?? rel.match(/(?:^|\/)(sub-[^/_]+)/)?.[1];
  const session = img?.session ?? parsed?.session ?? rel.match(/(?:^|\/)(ses-[^/_]+)\//)?.[1];
  const p = subject ? participants.get(subject) : undefined;
  const acq = img?.acquisition ?? {};
  return {
    age: ageCell(ageForImage(p, session)?.value),
    sex: enumCell(p?.sex),
    handedness: enumCell(p?.handedness),
    race: plain(p?.race),
    weight: plain(session && p?.sessions[session]?.weight?.value != null ? p.sessions[session].weight : p?.weight),
    bmi: plain(session && p?.sessions[session]?.bmi?.value != null ? p.sessions[session].bmi : p?.bmi),
    health_status: enumCell(p?.healthStatus),
    is_brain_extract: plain(acq.isBrainExtract),
    manufacturer: plain(acq.manufacturer),
    model_name: plain(acq.modelName),
    phase_encoding_direction: plain(acq.phaseEncodingDirection),
    magnetic_field_strength: plain(acq.magneticFieldStrength),
    repetition_time: plain(acq.repetitionTime),
    echo_time: plain(acq.echoTime),
  };
}
