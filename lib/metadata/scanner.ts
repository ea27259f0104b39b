// Canonical scanner vocabulary and units for acquisition parameters found in JSON sidecars.

import type { Confidence } from './types.js';
import type { ParsedCell } from './values.js';

const MANUFACTURERS: [RegExp, string][] = [
  [/siemens/i, 'Siemens'],
  [/\bge\b|general electric|\bgems\b|ge medical|ge healthcare/i, 'GE'],
  [/philips/i, 'Philips'],
  [/toshiba|canon/i, 'Canon/Toshiba'],
  [/hitachi/i, 'Hitachi'],
  [/bruker/i, 'Bruker'],
  [/united imaging|\buih\b/i, 'United Imaging'],
  [/varian/i, 'Varian'],
  [/agilent/i, 'Agilent'],
  [/esaote/i, 'Esaote'],
  [/fonar/i, 'Fonar'],
  [/neusoft/i, 'Neusoft'],
  [/\bcti\b/i, 'CTI'],
];

const EMPTY_TEXT = /^(|n\/?a|none|unknown|null|-)$/i;

function value<T>(v: T, rule: string, confidence: Confidence, flags: string[] = []): ParsedCell<T> {
  return { kind: 'value', value: v, rule, confidence, flags };
}

/** 'SIEMENS', 'Siemens Healthineers' → 'Siemens'; 'GE MEDICAL SYSTEMS' → 'GE'. Unknown makers stay verbatim. */
export function canonicalManufacturer(raw: unknown): ParsedCell<string> {
  if (typeof raw !== 'string') return raw === undefined || raw === null ? { kind: 'missing' } : { kind: 'unrecognized', flags: ['not_text'] };
  const t = raw.trim().replace(/\s+/g, ' ');
  if (EMPTY_TEXT.test(t)) return { kind: 'missing' };
  for (const [re, name] of MANUFACTURERS) {
    if (re.test(t)) return value(name, 'manufacturer_canonical', t === name ? 'exact' : 'normalized', t === name ? [] : ['canonicalized']);
  }
  return value(t, 'manufacturer_verbatim', 'exact', ['not_canonical']);
}

/** Model names are kept as written, with whitespace and underscores tidied. */
export function tidyModelName(raw: unknown): ParsedCell<string> {
  if (typeof raw === 'number') return value(String(raw), 'model_name', 'exact');
  if (typeof raw !== 'string') return raw === undefined || raw === null ? { kind: 'missing' } : { kind: 'unrecognized', flags: ['not_text'] };
  const t = raw.replace(/_/g, ' ').trim().replace(/\s+/g, ' ');
  if (EMPTY_TEXT.test(t)) return { kind: 'missing' };
  return value(t, 'model_name', t === raw ? 'exact' : 'normalized', t === raw ? [] : ['tidied']);
}

/** A JSON number, or a numeric string such as '3T' or '90'; arrays give their first element. */
export function numericJson(raw: unknown): { n: number; flags: string[] } | undefined {
  if (typeof raw === 'number' && Number.isFinite(raw)) return { n: raw, flags: [] };
  if (typeof raw === 'string') {
    const m = raw.trim().match(/^([+-]?\d+(?:[.,]\d+)?)\s*([a-z]*)$/i);
    if (m) return { n: Number(m[1].replace(',', '.')), flags: ['number_as_text'] };
  }
  if (Array.isArray(raw) && raw.length > 0) {
    const first = numericJson(raw[0]);
    if (first) return { n: first.n, flags: [...first.flags, 'multiple_values'] };
  }
  return undefined;
}

const NOMINAL_FIELDS = [0.2, 0.35, 0.5, 0.55, 1, 1.5, 2, 3, 4, 4.7, 7, 9.4, 10.5, 11.7];

/** Field strength in tesla; 2.89 (Siemens Trio) and 6.98 round to their nominal 3 and 7. */
export function fieldStrength(raw: unknown): ParsedCell<number> {
  if (raw === undefined || raw === null) return { kind: 'missing' };
  const num = numericJson(raw);
  if (!num || num.n <= 0 || num.n > 25) return { kind: 'unrecognized', flags: ['unrecognized_value'] };
  const nominal = NOMINAL_FIELDS.find((f) => Math.abs(num.n - f) / f <= 0.04);
  if (nominal !== undefined && nominal !== num.n) return value(nominal, 'nominal_field_strength', 'normalized', [...num.flags, 'rounded_to_nominal']);
  return value(num.n, 'number', num.flags.length ? 'normalized' : 'exact', num.flags);
}

/** Above these values a time is taken to be in milliseconds (no MRI sequence uses such times in seconds). */
const MS_THRESHOLD = { RepetitionTime: 50, EchoTime: 1, InversionTime: 10 } as const;

/** Repetition/echo/inversion time in seconds; millisecond values are converted and flagged. */
export function timeInSeconds(key: keyof typeof MS_THRESHOLD, raw: unknown): ParsedCell<number> {
  if (raw === undefined || raw === null) return { kind: 'missing' };
  const num = numericJson(raw);
  if (!num || num.n < 0) return { kind: 'unrecognized', flags: ['unrecognized_value'] };
  if (num.n > MS_THRESHOLD[key]) {
    return value(Math.round((num.n / 1000) * 1e9) / 1e9, 'ms_to_s', 'normalized', [...num.flags, 'units_ms_to_s']);
  }
  return value(num.n, 'number', num.flags.length ? 'normalized' : 'exact', num.flags);
}

export function flipAngle(raw: unknown): ParsedCell<number> {
  if (raw === undefined || raw === null) return { kind: 'missing' };
  const num = numericJson(raw);
  if (!num || num.n <= 0 || num.n > 360) return { kind: 'unrecognized', flags: ['unrecognized_value'] };
  return value(num.n, 'number', num.flags.length ? 'normalized' : 'exact', num.flags);
}

const XYZ: Record<string, string> = { x: 'i', y: 'j', z: 'k' };

/** BIDS phase-encoding direction (i, j, k with optional '-'); x/y/z spellings are mapped. */
export function phaseEncodingDirection(raw: unknown): ParsedCell<string> {
  if (raw === undefined || raw === null) return { kind: 'missing' };
  if (typeof raw !== 'string') return { kind: 'unrecognized', flags: ['not_text'] };
  const t = raw.trim();
  if (/^[ijk]-?$/.test(t)) return value(t, 'bids_direction', 'exact');
  const m = t.toLowerCase().match(/^([xyz])(-?)$/);
  if (m) return value(`${XYZ[m[1]]}${m[2]}`, 'xyz_to_ijk', 'normalized', ['xyz_axis_names']);
  return { kind: 'unrecognized', flags: ['unrecognized_value'] };
}

export function booleanJson(raw: unknown): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string' && /^(true|yes|1)$/i.test(raw.trim())) return true;
  if (typeof raw === 'string' && /^(false|no|0)$/i.test(raw.trim())) return false;
  if (raw === 1 || raw === 0) return raw === 1;
  return undefined;
}
