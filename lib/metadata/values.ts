// Cell-level interpretation of participant values: numbers, ages, sex, handedness, race, weight, BMI, health.
// Each parser returns a ParsedCell: missing, a value with its rule/confidence/flags, or unrecognized.

import type { AgeValue, Confidence, Handedness, Sex } from './types.js';

export type ParsedCell<T> =
  | { kind: 'missing' }
  | { kind: 'value'; value: T; rule: string; confidence: Confidence; flags: string[] }
  | { kind: 'unrecognized'; flags: string[] };

const MISSING_TOKENS = new Set(['', 'n/a', 'na', 'nan', 'null', 'none', '-', '--', '.', '?', 'unknown', 'not available', 'missing', 'nr']);

export function isMissingCell(raw: string): boolean {
  return MISSING_TOKENS.has(raw.trim().toLowerCase());
}

const MISSING: ParsedCell<never> = { kind: 'missing' };

function value<T>(v: T, rule: string, confidence: Confidence, flags: string[] = []): ParsedCell<T> {
  return { kind: 'value', value: v, rule, confidence, flags };
}

function unrecognized<T>(...flags: string[]): ParsedCell<T> {
  return { kind: 'unrecognized', flags };
}

/** Lower confidence to the weaker of two. */
export function weaker(a: Confidence, b: Confidence): Confidence {
  const order: Confidence[] = ['exact', 'normalized', 'inferred'];
  return order[Math.max(order.indexOf(a), order.indexOf(b))];
}

// ---------------------------------------------------------------- numbers and commas

/** How commas are used in a column: not at all, as decimal separators, or to join one value per task. */
export type CommaMode = 'none' | 'decimal' | 'list';

const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function parsePlainNumber(text: string): number | undefined {
  const t = text.trim();
  return PLAIN_NUMBER.test(t) ? Number(t) : undefined;
}

/** Decide a column's comma usage from all its cells. */
export function commaModeOf(cells: string[]): CommaMode {
  const withComma = cells.map((c) => c.trim()).filter((c) => c.includes(','));
  if (withComma.length === 0) return 'none';
  let allIdenticalPairs = true;
  for (const c of withComma) {
    const parts = c.split(',');
    if (parts.length !== 2 || /\s/.test(c)) return 'list';
    const [a, b] = parts;
    if (!/^[+-]?\d+$/.test(a) || !/^\d+$/.test(b)) return 'list';
    if (a !== b) allIdenticalPairs = false;
  }
  // '21,21' in every comma cell: one value repeated per task, not 21.21.
  return allIdenticalPairs ? 'list' : 'decimal';
}

/** Parse a number, honouring the column's decimal-comma convention. */
export function parseNumberCell(text: string, mode: CommaMode): { n: number; flags: string[] } | undefined {
  const t = text.trim();
  if (mode === 'decimal' && /^[+-]?\d+,\d+$/.test(t)) return { n: Number(t.replace(',', '.')), flags: ['decimal_comma'] };
  const n = parsePlainNumber(t);
  return n === undefined ? undefined : { n, flags: [] };
}

function round(n: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Split a joined cell ('F,F,F', '21,21') into its parts; undefined when the cell is not a joined list. */
function joinedParts(t: string, mode: CommaMode): string[] | undefined {
  if (mode !== 'list' || !t.includes(',')) return undefined;
  const parts = t.split(',').map((p) => p.trim()).filter((p) => p !== '');
  return parts.length > 1 ? parts : undefined;
}

/** Combine the parsed parts of a joined cell: identical values collapse, others go to `onDiffer`. */
function combineParts<T>(parts: ParsedCell<T>[], same: (a: T, b: T) => boolean, onDiffer: (vals: T[]) => ParsedCell<T>): ParsedCell<T> {
  const vals = parts.filter((p): p is Extract<ParsedCell<T>, { kind: 'value' }> => p.kind === 'value');
  if (vals.length === 0) return parts.some((p) => p.kind === 'unrecognized') ? unrecognized('unrecognized_value') : MISSING;
  const first = vals[0];
  const flags = [...new Set(vals.flatMap((v) => v.flags))];
  if (vals.every((v) => same(v.value, first.value))) {
    return value(first.value, first.rule, weaker(first.confidence, 'normalized'), [...flags, 'joined_values_identical']);
  }
  return onDiffer(vals.map((v) => v.value));
}

// ---------------------------------------------------------------- age

export interface AgeContext {
  levels?: Record<string, string>;
  /** Units from participants.json, else the header's parenthetical. */
  units?: string;
  description?: string;
  commaMode: CommaMode;
}

type AgeUnit = 'years' | 'months' | 'weeks' | 'days';

function ageUnitOf(units: string | undefined): AgeUnit | undefined {
  if (!units) return undefined;
  const u = units.toLowerCase();
  if (/month/.test(u)) return 'months';
  if (/week/.test(u)) return 'weeks';
  if (/\bdays?\b/.test(u)) return 'days';
  if (/year|\byrs?\b|^y$/.test(u)) return 'years';
  return undefined;
}

const YEARS_PER: Record<AgeUnit, number> = { years: 1, months: 1 / 12, weeks: 7 / 365.25, days: 1 / 365.25 };

const MAX_AGE_YEARS = 120;

/** Interpret one age cell. */
export function parseAgeCell(raw: string, ctx: AgeContext): ParsedCell<AgeValue> {
  const t = raw.trim();
  const flags: string[] = t !== raw ? ['whitespace'] : [];
  if (isMissingCell(t)) return MISSING;
  const level = ctx.levels?.[t];
  if (level !== undefined) return ageFromLevel(t, level, flags);
  const parts = joinedParts(t, ctx.commaMode);
  if (parts) {
    return combineParts(
      parts.map((p) => parseAgeCell(p, { ...ctx, commaMode: 'none' })),
      (a, b) => a.years !== undefined && a.years === b.years,
      (vals) => {
        const ys = vals.map((v) => v.years).filter((y): y is number => y !== undefined);
        if (ys.length !== vals.length) return unrecognized('joined_values_differ');
        return value({ min: Math.min(...ys), max: Math.max(...ys), label: t }, 'joined_values_range', 'inferred', ['joined_values_differ']);
      },
    );
  }
  const withFlags = (cell: ParsedCell<AgeValue>): ParsedCell<AgeValue> =>
    cell.kind === 'value' && flags.length ? { ...cell, confidence: weaker(cell.confidence, 'normalized'), flags: [...flags, ...cell.flags] } : cell;
  return withFlags(ageFromText(t, ctx));
}

function ageFromLevel(key: string, level: string, flags: string[]): ParsedCell<AgeValue> {
  const range = level.match(/(\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)/);
  if (range) return value({ min: Number(range[1]), max: Number(range[2]), label: level }, 'levels_age_range', 'normalized', [...flags, 'binned']);
  const n = parsePlainNumber(level.replace(/\s*(years?|y)\s*$/i, ''));
  if (n !== undefined) return value({ years: n }, 'levels_age', 'normalized', flags);
  return value({ label: level }, 'levels_age_label', 'inferred', [...flags, 'label_only']);
}

function ageFromText(t: string, ctx: AgeContext): ParsedCell<AgeValue> {
  const dicom = t.match(/^(\d{1,3})\s*([YMWD])$/i);
  if (dicom) {
    const unit = ({ Y: 'years', M: 'months', W: 'weeks', D: 'days' } as const)[dicom[2].toUpperCase() as 'Y' | 'M' | 'W' | 'D'];
    return checkedAge(Number(dicom[1]) * YEARS_PER[unit], 'dicom_age_string', 'normalized', unit === 'years' ? [] : [`units_${unit}`]);
  }
  const capped = t.match(/^(?:>\s*=?\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*\+)$/);
  if (capped) {
    const min = Number(capped[1] ?? capped[2]);
    return value({ min, label: t }, 'capped_age', 'normalized', ['capped']);
  }
  const range = t.match(/^(\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\s*(?:y|yrs?|years?|yo)?$/i);
  if (range) {
    const [min, max] = [Number(range[1]), Number(range[2])];
    if (min <= max && max <= MAX_AGE_YEARS) return value({ min, max, label: t }, 'age_range', 'normalized', ['binned']);
    return unrecognized('implausible_age');
  }
  const suffixed = t.match(/^(.*?)\s*(y|yrs?|years?|yo|years old)$/i);
  const numText = suffixed ? suffixed[1] : t;
  const num = parseNumberCell(numText, ctx.commaMode);
  if (!num) return unrecognized('unrecognized_value');
  const flags = [...num.flags];
  if (suffixed) flags.push('unit_in_value');
  const documented = ageUnitOf(ctx.units);
  const unit: AgeUnit = documented ?? 'years';
  if (!documented) flags.push('units_default_years');
  if (unit !== 'years') flags.push(`units_${unit}`);
  if (ctx.description && /gestation/i.test(ctx.description)) flags.push('gestational_age');
  const changed = flags.some((f) => f !== 'units_default_years');
  return checkedAge(num.n * YEARS_PER[unit], 'number', changed ? 'normalized' : 'exact', flags);
}

function checkedAge(years: number, rule: string, confidence: Confidence, flags: string[]): ParsedCell<AgeValue> {
  if (!Number.isFinite(years) || years < 0 || years > MAX_AGE_YEARS) return unrecognized('implausible_age');
  return value({ years: round(years) }, rule, confidence, flags);
}

/** Interpret an age-group cell ('Young', '8-12yo'), using ranges written in the column description. */
export function parseAgeGroupCell(raw: string, ctx: AgeContext): ParsedCell<AgeValue> {
  const t = raw.trim();
  if (isMissingCell(t)) return MISSING;
  const level = ctx.levels?.[t];
  if (level !== undefined) return ageFromLevel(t, level, []);
  if (ctx.description) {
    const esc = t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const m = ctx.description.match(new RegExp(`\\b${esc}\\b\\s*[:=]\\s*(\\d+)\\s*(?:-|–|to)\\s*(\\d+)`, 'i'));
    if (m) return value({ min: Number(m[1]), max: Number(m[2]), label: t }, 'age_group_description_range', 'inferred', ['age_group']);
  }
  const range = t.match(/^(\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\s*(?:y|yrs?|years?|yo)?$/i);
  if (range) return value({ min: Number(range[1]), max: Number(range[2]), label: t }, 'age_group_range', 'inferred', ['age_group']);
  return value({ label: t }, 'age_group_label', 'inferred', ['age_group', 'label_only']);
}

/** Years between two ISO dates (yyyy-mm-dd...). */
export function yearsBetween(birth: string, at: string): number | undefined {
  const b = Date.parse(birth.trim().slice(0, 10));
  const a = Date.parse(at.trim().slice(0, 10));
  if (!Number.isFinite(b) || !Number.isFinite(a) || a < b) return undefined;
  return round((a - b) / (365.25 * 24 * 3600 * 1000), 2);
}

// ---------------------------------------------------------------- sex

const SEX_WORDS: Record<string, Sex> = {
  f: 'female', female: 'female', woman: 'female', women: 'female', girl: 'female', fem: 'female', feminine: 'female',
  m: 'male', male: 'male', man: 'male', men: 'male', boy: 'male', masculine: 'male',
  o: 'other', other: 'other', 'non-binary': 'other', nonbinary: 'other', 'non-binary/other': 'other', intersex: 'other', diverse: 'other', x: 'other',
};
const SEX_EXACT = new Set(['M', 'F', 'O', 'm', 'f', 'o', 'male', 'female', 'other']);
const SEX_UNKNOWN_WORDS = /not attributed|not reported|prefer not|undisclosed|unknown|^na$/i;

function sexFromWord(text: string): Sex | undefined {
  return SEX_WORDS[text.trim().toLowerCase()];
}

/** Interpret one sex/gender cell, with participants.json Levels when given. */
export function parseSexCell(raw: string, levels: Record<string, string> | undefined, mode: CommaMode): ParsedCell<Sex> {
  let t = raw.trim();
  const flags: string[] = t !== raw ? ['whitespace'] : [];
  if (isMissingCell(t)) return MISSING;
  const parts = t.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (t.includes(',') && parts.length === 1) {
    t = parts[0]; // 'M,' — stray separator
    flags.push('stray_punctuation');
  } else if (parts.length > 1 && mode !== 'decimal') {
    return combineParts(
      parts.map((p) => parseSexCell(p, levels, 'none')),
      (a, b) => a === b,
      () => unrecognized('conflicting_values'),
    );
  }
  const trimmedPunct = t.replace(/[.;:]+$/, '');
  if (trimmedPunct !== t) {
    t = trimmedPunct;
    flags.push('stray_punctuation');
  }
  const level = levels?.[t];
  if (level !== undefined) {
    const fromLevel = sexFromWord(level) ?? sexFromPhrase(level);
    if (fromLevel) {
      const direct = sexFromWord(t);
      const confidence: Confidence = direct === fromLevel && SEX_EXACT.has(t) && flags.length === 0 ? 'exact' : 'normalized';
      return value(fromLevel, 'levels', confidence, flags);
    }
    if (SEX_UNKNOWN_WORDS.test(level)) return unrecognized('documented_unknown');
  }
  const direct = sexFromWord(t);
  if (direct) return value(direct, 'sex_word', SEX_EXACT.has(t) && flags.length === 0 ? 'exact' : 'normalized', flags);
  if (/^\d+$/.test(t)) return unrecognized('undocumented_code');
  return unrecognized('unrecognized_value');
}

function sexFromPhrase(text: string): Sex | undefined {
  const t = text.toLowerCase();
  if (/\b(female|woman|girl)\b/.test(t)) return 'female';
  if (/\b(male|man|boy)\b/.test(t)) return 'male';
  if (/non-?binary|\bother\b|intersex/.test(t)) return 'other';
  return undefined;
}

/** Interpret a 0/1 indicator column such as `gender_F` (1 = the named sex). */
export function parseSexIndicatorCell(raw: string, named: 'female' | 'male', levels: Record<string, string> | undefined): ParsedCell<Sex> {
  const t = raw.trim().toLowerCase();
  if (isMissingCell(t)) return MISSING;
  const level = levels?.[raw.trim()];
  if (level !== undefined) {
    const s = sexFromWord(level) ?? sexFromPhrase(level);
    if (s) return value(s, 'levels', 'normalized');
  }
  const other: Sex = named === 'female' ? 'male' : 'female';
  if (['1', 'true', 'yes', 'y'].includes(t)) return value(named, 'indicator_column', 'inferred', ['indicator_column']);
  if (['0', 'false', 'no', 'n'].includes(t)) return value(other, 'indicator_column', 'inferred', ['indicator_column']);
  return unrecognized('unrecognized_value');
}

// ---------------------------------------------------------------- handedness

const HAND_WORDS: Record<string, Handedness> = {
  r: 'right', right: 'right', rh: 'right', 'right handed': 'right', 'right-handed': 'right', righthanded: 'right', dextral: 'right',
  l: 'left', left: 'left', lh: 'left', 'left handed': 'left', 'left-handed': 'left', lefthanded: 'left', sinistral: 'left',
  a: 'ambidextrous', ambi: 'ambidextrous', ambidextrous: 'ambidextrous', ambidexter: 'ambidextrous', both: 'ambidextrous', mixed: 'ambidextrous',
  'both/ambidextrous': 'ambidextrous', ambidextrus: 'ambidextrous',
};
const HAND_EXACT = new Set(['right', 'left', 'ambidextrous', 'R', 'L', 'A']);

/** How a numeric handedness column is scaled (Edinburgh laterality quotient), decided per column. */
export type HandednessScale = 'lq_fraction' | 'lq_percent' | undefined;

export function handednessScaleOf(numbers: number[], description: string | undefined): HandednessScale {
  if (numbers.length === 0) return undefined;
  const min = Math.min(...numbers);
  const max = Math.max(...numbers);
  const nonInteger = numbers.some((n) => !Number.isInteger(n));
  if (min >= -1 && max <= 1 && (min < 0 || nonInteger)) return 'lq_fraction';
  if (min >= -100 && max <= 100 && (min < 0 || max > 10)) return 'lq_percent';
  if (description && /laterality quotient|edinburgh/i.test(description) && min >= -100 && max <= 100 && (min < 0 || max > 10)) return 'lq_percent';
  return undefined;
}

function handFromPhrase(text: string): ParsedCell<Handedness> | undefined {
  const t = text.trim().toLowerCase();
  const word = HAND_WORDS[t] ?? HAND_WORDS[t.replace(/\s+/g, ' ')];
  if (word) return value(word, 'handedness_word', 'normalized');
  const right = /\bright|^r\b/.test(t);
  const left = /\bleft|^l\b|;\s*l\b|\bl$/.test(t);
  const ambi = /ambidext|\bboth\b|\bmixed\b/.test(t);
  if ((right || left || ambi) && /\bor\b/.test(t)) return unrecognized('ambiguous_level');
  if (ambi) return value('ambidextrous', 'handedness_word', 'normalized');
  if (right && left) return value('ambidextrous', 'both_hands_listed', 'inferred', ['both_hands_listed']);
  if (right) return value('right', 'handedness_word', 'normalized');
  if (left) return value('left', 'handedness_word', 'normalized');
  return undefined;
}

/** Interpret one handedness cell: words/codes, Levels, or a laterality quotient under the column's scale. */
export function parseHandednessCell(raw: string, levels: Record<string, string> | undefined, scale: HandednessScale, mode: CommaMode): ParsedCell<Handedness> {
  const t = raw.trim();
  const flags: string[] = t !== raw ? ['whitespace'] : [];
  if (isMissingCell(t)) return MISSING;
  const level = levels?.[t];
  if (level !== undefined) {
    const fromLevel = handFromPhrase(level);
    if (fromLevel?.kind === 'value') return value(fromLevel.value, 'levels', fromLevel.confidence === 'inferred' ? 'inferred' : 'normalized', [...flags, ...fromLevel.flags]);
    if (fromLevel) return fromLevel;
    return unrecognized('unrecognized_level');
  }
  const num = parseNumberCell(t, mode);
  if (num) {
    if (!scale) return unrecognized(/^\d+$/.test(t) ? 'undocumented_code' : 'unrecognized_scale');
    const lq = scale === 'lq_fraction' ? num.n * 100 : num.n;
    const hand: Handedness = lq > 40 ? 'right' : lq < -40 ? 'left' : 'ambidextrous';
    return value(hand, 'laterality_quotient', 'inferred', [...flags, ...num.flags, `${scale}_scale`]);
  }
  const word = HAND_WORDS[t.toLowerCase()];
  if (word) return value(word, 'handedness_word', HAND_EXACT.has(t) && flags.length === 0 ? 'exact' : 'normalized', flags);
  const phrase = handFromPhrase(t);
  if (phrase?.kind === 'value') return { ...phrase, flags: [...flags, ...phrase.flags] };
  if (phrase) return phrase;
  return unrecognized('unrecognized_value');
}

// ---------------------------------------------------------------- race

/** Interpret a race cell: Levels decode codes; undocumented codes stay unknown. */
export function parseRaceCell(raw: string, levels: Record<string, string> | undefined): ParsedCell<string> {
  const t = raw.trim();
  const flags: string[] = t !== raw ? ['whitespace'] : [];
  if (isMissingCell(t)) return MISSING;
  const DECLINED = /prefer not|declined|not reported|not described/i;
  if (levels?.[t] !== undefined) {
    if (DECLINED.test(levels[t]) || DECLINED.test(t)) return unrecognized('declined');
    if (/^unknown$/i.test(levels[t].trim())) return unrecognized('documented_unknown');
    return value(levels[t].trim(), 'levels', 'normalized', flags);
  }
  if (levels && /^\d{2,}$/.test(t) && [...t].every((d) => levels[d] !== undefined)) {
    // "select all that apply" answers stored as concatenated codes ('45' = 4 and 5)
    return value([...t].map((d) => levels[d].trim()).join('; '), 'levels_multi_select', 'inferred', [...flags, 'multi_select_decoded']);
  }
  if (/^\d+$/.test(t) || t.length === 1) return unrecognized('undocumented_code');
  if (DECLINED.test(t)) return unrecognized('declined');
  return value(t, 'text', flags.length ? 'normalized' : 'exact', flags);
}

// ---------------------------------------------------------------- weight, BMI

export type WeightUnit = { unit: 'kg' | 'lb'; documented: boolean };

/** Decide a weight column's unit: documented (Units, header, description) or inferred from its values. */
export function weightUnitOf(units: string | undefined, headerUnit: string | undefined, header: string, description: string | undefined, numbers: number[]): WeightUnit {
  for (const text of [units, headerUnit, header, description]) {
    if (!text) continue;
    if (/pound|\blbs?\b/i.test(text)) return { unit: 'lb', documented: true };
    if (/\bkg\b|kilo/i.test(text)) return { unit: 'kg', documented: true };
  }
  const sorted = [...numbers].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
  return { unit: median > 140 ? 'lb' : 'kg', documented: false };
}

const KG_PER_LB = 0.45359237;

export function parseWeightCell(raw: string, unit: WeightUnit, mode: CommaMode): ParsedCell<number> {
  const t = raw.trim();
  if (isMissingCell(t)) return MISSING;
  const num = parseNumberCell(t.replace(/\s*(kg|lbs?)$/i, ''), mode);
  if (!num) return unrecognized('unrecognized_value');
  const flags = [...num.flags];
  let kg = num.n;
  if (unit.unit === 'lb') {
    kg = num.n * KG_PER_LB;
    flags.push('units_lb_to_kg');
  }
  if (!unit.documented) flags.push(unit.unit === 'lb' ? 'units_inferred_lb' : 'units_assumed_kg');
  if (kg < 0.3 || kg > 350) return unrecognized('implausible_weight');
  const confidence: Confidence = !unit.documented ? 'inferred' : flags.length ? 'normalized' : 'exact';
  return value(round(kg, 2), 'number', confidence, flags);
}

export function parseBmiCell(raw: string, mode: CommaMode): ParsedCell<number> {
  const t = raw.trim();
  if (isMissingCell(t)) return MISSING;
  const num = parseNumberCell(t, mode);
  if (!num) return unrecognized('unrecognized_value');
  if (num.n < 8 || num.n > 100) return unrecognized('implausible_bmi');
  return value(round(num.n, 2), 'number', num.flags.length ? 'normalized' : 'exact', num.flags);
}

// ---------------------------------------------------------------- health status

export type HealthClass = 'healthy' | 'patient' | 'neutral';

const HEALTHY = /\b(hc|hv|nc|con|ctrl|ctl|controls?|healthy|normals?|typically developing|td|neurotypical|non-?patients?)\b/i;
const PATIENT =
  /(patient|disorder|disease|syndrome|schizo|\bscz\b|\bschz\b|bipolar|\badhd\b|autis|\basd\b|\bmdd\b|\bpdd\b|\bud\b|depress|epilep|\bfcd\b|tumou?r|glioma|meningioma|stroke|aphasi|parkinson|\bpd\b|alzheimer|\bad\b|dementia|\bmci\b|impairment|sclerosis|\bms\b|\btbi\b|brain injury|concussion|psychos|psychotic|anxiety|\bocd\b|\bptsd\b|dyslex|cancer|lesion|\btle\b|\bavh\b|hallucinat|addict|dependence|\bsud\b|migraine|pain|diabet|obes)/i;

/** Remove negated phrases ('never-depressed', 'without current hallucinations') before looking for a diagnosis. */
function withoutNegations(text: string): string {
  return text.replace(/\b(never|non|without|no)[- ]\s*(current\s+)?[a-z]+/gi, ' ');
}

/** Is a group value (with its Levels description) a healthy group, a patient group, or neither? */
export function classifyHealthValue(raw: string, levelText: string | undefined): HealthClass {
  const texts = [raw, levelText ?? ''].map((s) => s.replace(/[_]/g, ' '));
  const patient = texts.some((s) => PATIENT.test(withoutNegations(s)));
  if (patient) return 'patient';
  if (texts.some((s) => HEALTHY.test(s))) return 'healthy';
  return 'neutral';
}
