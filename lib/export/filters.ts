// Row filters for `openmind export`: pick a subset of the OpenMind table by modality, quality,
// age, sex, health status, field strength and whether an image is DWI-derived.
import type { OpenMindRow } from './table.js';

export interface ExportFilters {
  /** Modalities to keep (case-insensitive), e.g. ['T1w', 'FLAIR']. */
  modality?: string[];
  /** 1 = best; keep rows with image_quality_score <= maxQuality. Rows without a score are dropped when set. */
  maxQuality?: number;
  /** Age bounds in years (inclusive); a range age such as "20-25" matches when it overlaps. */
  ageMin?: number;
  ageMax?: number;
  /** Sex values to keep (case-insensitive), e.g. ['female']. */
  sex?: string[];
  /** Health-status values to keep (case-insensitive), e.g. ['healthy']. */
  healthStatus?: string[];
  /** Field strengths in tesla; a row matches when within FIELD_STRENGTH_TOLERANCE of one of them. */
  fieldStrength?: number[];
  /** true: only DWI-derived images (derived_from non-empty); false: only acquired ones. */
  derived?: boolean;
}

export const FIELD_STRENGTH_TOLERANCE = 0.05;

export class ExportFilterError extends Error {
  readonly reason = 'invalid_filter';
  constructor(message: string) {
    super(message);
    this.name = 'ExportFilterError';
  }
}

/** A cell as text; '' for missing values. */
function cellText(v: unknown): string {
  return v === null || v === undefined ? '' : String(v).trim();
}

/** A cell as a finite number, or null when empty or not numeric. */
function cellNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  const s = cellText(v);
  if (s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/**
 * An age cell as an interval [min, max] in years: 31.5 -> [31.5, 31.5], "20-25" -> [20, 25],
 * "80+" -> [80, Infinity], "<5" -> [-Infinity, 5]. null when unknown or unreadable.
 */
export function ageInterval(v: unknown): [number, number] | null {
  const exact = cellNumber(v);
  if (exact !== null) return [exact, exact];
  const s = cellText(v);
  const range = s.match(/^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$/);
  if (range) return [Number(range[1]), Number(range[2])];
  const atLeast = s.match(/^(\d+(?:\.\d+)?)\s*\+$/);
  if (atLeast) return [Number(atLeast[1]), Infinity];
  const below = s.match(/^<\s*(\d+(?:\.\d+)?)$/);
  if (below) return [-Infinity, Number(below[1])];
  return null;
}

/** A row's age as an interval: its `age` in years, else its `age_range` ("20-25", "80+"). */
export function rowAgeInterval(row: OpenMindRow): [number, number] | null {
  return ageInterval(row.age) ?? ageInterval(row.age_range);
}

function inList(value: unknown, allowed: string[]): boolean {
  const v = cellText(value).toLowerCase();
  return allowed.some((a) => a.trim().toLowerCase() === v);
}

function matchesQuality(row: OpenMindRow, max: number): boolean {
  const score = cellNumber(row.image_quality_score);
  return score !== null && score <= max;
}

function matchesAge(row: OpenMindRow, min: number | undefined, max: number | undefined): boolean {
  const age = rowAgeInterval(row);
  if (!age) return false;
  return age[1] >= (min ?? -Infinity) && age[0] <= (max ?? Infinity);
}

function matchesFieldStrength(row: OpenMindRow, wanted: number[]): boolean {
  const b0 = cellNumber(row.magnetic_field_strength);
  return b0 !== null && wanted.some((w) => Math.abs(b0 - w) <= FIELD_STRENGTH_TOLERANCE + 1e-9);
}

export function isDerivedRow(row: OpenMindRow): boolean {
  return cellText(row.derived_from) !== '';
}

/** Whether one row passes every filter that is set. */
export function rowMatches(row: OpenMindRow, f: ExportFilters): boolean {
  if (f.modality?.length && !inList(row.modality, f.modality)) return false;
  if (f.maxQuality !== undefined && !matchesQuality(row, f.maxQuality)) return false;
  if ((f.ageMin !== undefined || f.ageMax !== undefined) && !matchesAge(row, f.ageMin, f.ageMax)) return false;
  if (f.sex?.length && !inList(row.sex, f.sex)) return false;
  if (f.healthStatus?.length && !inList(row.health_status, f.healthStatus)) return false;
  if (f.fieldStrength?.length && !matchesFieldStrength(row, f.fieldStrength)) return false;
  if (f.derived !== undefined && isDerivedRow(row) !== f.derived) return false;
  return true;
}

/** The rows that pass every filter, in their original order. */
export function filterRows<R extends OpenMindRow>(rows: R[], f: ExportFilters): R[] {
  return rows.filter((r) => rowMatches(r, f));
}

/** Whether no filter is set (an export of everything). */
export function isEmptyFilter(f: ExportFilters): boolean {
  return describeFilters(f).length === 0;
}

/** One human-readable line per filter that is set, for the dataset card. */
export function describeFilters(f: ExportFilters): string[] {
  const lines: string[] = [];
  if (f.modality?.length) lines.push(`modality: ${f.modality.join(', ')}`);
  if (f.maxQuality !== undefined) lines.push(`image quality score <= ${f.maxQuality} (1 = best; unscored images excluded)`);
  if (f.ageMin !== undefined || f.ageMax !== undefined) {
    const bounds = f.ageMin !== undefined && f.ageMax !== undefined ? `${f.ageMin} to ${f.ageMax}` : f.ageMin !== undefined ? `at least ${f.ageMin}` : `at most ${f.ageMax}`;
    lines.push(`age ${bounds} years (range ages match when they overlap; unknown ages excluded)`);
  }
  if (f.sex?.length) lines.push(`sex: ${f.sex.join(', ')}`);
  if (f.healthStatus?.length) lines.push(`health status: ${f.healthStatus.join(', ')}`);
  if (f.fieldStrength?.length) lines.push(`field strength: ${f.fieldStrength.map((t) => `${t} T`).join(', ')} (±${FIELD_STRENGTH_TOLERANCE} T)`);
  if (f.derived !== undefined) lines.push(f.derived ? 'only DWI-derived images' : 'no DWI-derived images');
  return lines;
}

/** The options commander gives `openmind export` (strings as typed; lists may come comma-separated or repeated). */
export interface ExportFilterArgs {
  modality?: string | string[];
  maxQuality?: string | number;
  age?: string;
  sex?: string | string[];
  health?: string | string[];
  fieldStrength?: string | string[] | number | number[];
  derived?: boolean;
}

/** 'T1w,FLAIR' or ['T1w', 'FLAIR,T2w'] -> ['T1w', 'FLAIR', 'T2w']. */
function listArg(v: string | number | (string | number)[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(',')).map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

function numberArg(name: string, v: string | number): number {
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (String(v).trim() === '' || !Number.isFinite(n)) throw new ExportFilterError(`--${name} needs a number, got ${JSON.stringify(v)}`);
  return n;
}

/** '20-40' -> [20, 40], '20-' -> [20, undefined], '-40' -> [undefined, 40], '30' -> [30, 30]. */
function ageArg(v: string): { ageMin?: number; ageMax?: number } {
  const s = v.trim();
  const m = s.match(/^(\d+(?:\.\d+)?)?\s*-\s*(\d+(?:\.\d+)?)?$/);
  if (m && (m[1] !== undefined || m[2] !== undefined)) {
    const range = { ageMin: m[1] !== undefined ? Number(m[1]) : undefined, ageMax: m[2] !== undefined ? Number(m[2]) : undefined };
    if (range.ageMin !== undefined && range.ageMax !== undefined && range.ageMin > range.ageMax) {
      throw new ExportFilterError(`--age ${v}: the lower bound is above the upper bound`);
    }
    return range;
  }
  if (/^\d+(?:\.\d+)?$/.test(s)) return { ageMin: Number(s), ageMax: Number(s) };
  throw new ExportFilterError(`--age needs MIN-MAX, MIN-, -MAX or a single age, got ${JSON.stringify(v)}`);
}

/** Turn `openmind export` options into filters; throws ExportFilterError for unreadable values. */
export function parseFilterArgs(o: ExportFilterArgs): ExportFilters {
  const f: ExportFilters = {};
  const modality = listArg(o.modality);
  if (modality) f.modality = modality;
  if (o.maxQuality !== undefined) f.maxQuality = numberArg('max-quality', o.maxQuality);
  if (o.age !== undefined) {
    const { ageMin, ageMax } = ageArg(o.age);
    if (ageMin !== undefined) f.ageMin = ageMin;
    if (ageMax !== undefined) f.ageMax = ageMax;
  }
  const sex = listArg(o.sex);
  if (sex) f.sex = sex.map((s) => s.toLowerCase());
  const health = listArg(o.health);
  if (health) f.healthStatus = health.map((s) => s.toLowerCase());
  const fieldStrength = listArg(o.fieldStrength);
  if (fieldStrength) f.fieldStrength = fieldStrength.map((s) => numberArg('field-strength', s));
  if (o.derived !== undefined) f.derived = o.derived;
  return f;
}
