// Recognizing what a participants.tsv / sessions.tsv column holds, from its header (and participants.json).

export type FieldName =
  | 'participant_id'
  | 'session_id'
  | 'age'
  | 'age_group'
  | 'sex'
  | 'sex_female_indicator'
  | 'sex_male_indicator'
  | 'handedness'
  | 'race'
  | 'weight'
  | 'bmi'
  | 'health'
  | 'birthdate'
  | 'session_date';

/** What participants.json says about a column. */
export interface ColumnMeta {
  description?: string;
  longName?: string;
  units?: string;
  levels?: Record<string, string>;
}

export interface ColumnRole {
  field: FieldName;
  /** Session token written in the header ('T1' in `age_ses-T1`, '1' in `AgeMRI_W1`). */
  sessionToken?: string;
  recognizedBy: 'header' | 'participants_json' | 'swapped_columns';
  /** Unit written in the header, e.g. 'years' in `Age (years)`. */
  headerUnit?: string;
  flags: string[];
}

/** Header (lower-cased, parenthetical removed, non-alphanumerics removed) → field. */
const HEADER_FIELDS: Record<string, FieldName> = {
  participantid: 'participant_id',
  sessionid: 'session_id',
  session: 'session_id',
  age: 'age',
  ages: 'age',
  ageyears: 'age',
  ageinyears: 'age',
  ageyrs: 'age',
  ageatscan: 'age',
  ageatscanyears: 'age',
  agescan: 'age',
  scanage: 'age',
  participantage: 'age',
  subjectage: 'age',
  ageatbaseline: 'age',
  ageatfirstscan: 'age',
  ageatfirstscanyears: 'age',
  ageatmri: 'age',
  agemri: 'age',
  ageattesting: 'age',
  ageatvisit: 'age',
  ageatsession: 'age',
  agegroup: 'age_group',
  agegrp: 'age_group',
  agecategory: 'age_group',
  agebin: 'age_group',
  agerange: 'age_group',
  agecohort: 'age_group',
  sex: 'sex',
  gender: 'sex',
  biologicalsex: 'sex',
  sexatbirth: 'sex',
  genderf: 'sex_female_indicator',
  sexf: 'sex_female_indicator',
  isfemale: 'sex_female_indicator',
  female: 'sex_female_indicator',
  genderm: 'sex_male_indicator',
  sexm: 'sex_male_indicator',
  ismale: 'sex_male_indicator',
  male: 'sex_male_indicator',
  handedness: 'handedness',
  hand: 'handedness',
  handednessscore: 'handedness',
  dominanthand: 'handedness',
  handednessfinal: 'handedness',
  screenhandednessfinal: 'handedness',
  lateralityquotient: 'handedness',
  race: 'race',
  raceethnicity: 'race',
  ethnicityrace: 'race',
  screenrace: 'race',
  weight: 'weight',
  bodyweight: 'weight',
  weightkg: 'weight',
  weightlbs: 'weight',
  weightlb: 'weight',
  weightpounds: 'weight',
  screenweight: 'weight',
  bmi: 'bmi',
  bodymassindex: 'bmi',
  screenbmi: 'bmi',
  group: 'health',
  diagnosis: 'health',
  dx: 'health',
  groupdx: 'health',
  condition: 'health',
  condit: 'health',
  type: 'health',
  status: 'health',
  clinicalstatus: 'health',
  healthstatus: 'health',
  diseasestatus: 'health',
  cohort: 'health',
  subjecttype: 'health',
  participanttype: 'health',
  patientcontrol: 'health',
  clinicalgroup: 'health',
  diagnosticgroup: 'health',
  birthdate: 'birthdate',
  dateofbirth: 'birthdate',
  dob: 'birthdate',
  shiftedbirthdate: 'birthdate',
  acqtime: 'session_date',
  acqdate: 'session_date',
  scandate: 'session_date',
  date: 'session_date',
  datest: 'session_date',
  mridate: 'session_date',
};

/** Fields that may carry a session token in their header. */
const SESSION_FIELDS = new Set<FieldName>(['age', 'weight', 'bmi', 'handedness', 'session_date']);

/** participants.json Description/LongName texts that name a column's meaning outright. */
const DESCRIPTION_FIELDS: Record<string, FieldName> = {
  age: 'age',
  'age at scan': 'age',
  'age of participant': 'age',
  'age of the participant': 'age',
  sex: 'sex',
  gender: 'sex',
  'sex of the participant': 'sex',
  'gender of the participant': 'sex',
  handedness: 'handedness',
};

/** Lower-case, drop a trailing parenthetical, drop everything but letters and digits. */
export function compactHeader(base: string): string {
  return base.toLowerCase().replace(/[^a-z0-9]+/g, '');
}

function splitHeaderUnit(header: string): { base: string; unit?: string } {
  const m = header.match(/^(.*?)\s*\(([^)]*)\)\s*$/);
  return m ? { base: m[1].trim(), unit: m[2].trim() } : { base: header.trim() };
}

/** Patterns that put a session token in a header, tried in order. Each yields [core, token]. */
const SESSION_PATTERNS: ((b: string) => [string, string] | undefined)[] = [
  (b) => {
    const m = b.match(/^ses-([A-Za-z0-9]+)[_\s-]+(.+)$/i); // ses-5_date_ST
    return m ? [m[2], m[1]] : undefined;
  },
  (b) => {
    const m = b.match(/^(.+?)[_\s-]*sess(?:ion)?[_\s-]*([A-Za-z0-9]+)$/i); // Age_Sess1
    return m ? [m[1], m[2]] : undefined;
  },
  (b) => {
    const m = b.match(/^(.+?)[_\s-]*ses-?([A-Za-z0-9]+)$/i); // age_ses-T1, age_ses02
    return m ? [m[1], m[2]] : undefined;
  },
  (b) => {
    const m = b.match(/^(.+?)[_\s-]+(?:w|wave|visit|v|tp|timepoint|t|time)[_\s-]*(\d+)$/i); // AgeMRI_W1, Weight_W2
    return m ? [m[1], m[2]] : undefined;
  },
  (b) => {
    const m = b.match(/^(bmi|weight)(\d)$/i); // BMI1
    return m ? [m[1], m[2]] : undefined;
  },
];

/** Recognize a column; null when it is not one the harmonization uses. */
export function classifyColumn(header: string, meta: ColumnMeta | undefined): ColumnRole | null {
  const flags: string[] = [];
  if (header !== header.trim()) flags.push('header_whitespace');
  const { base, unit } = splitHeaderUnit(header);
  const direct = HEADER_FIELDS[compactHeader(base)];
  if (direct) return { field: direct, recognizedBy: 'header', headerUnit: unit, flags };
  for (const pattern of SESSION_PATTERNS) {
    const hit = pattern(base);
    if (!hit) continue;
    const field = HEADER_FIELDS[compactHeader(hit[0])];
    if (field && SESSION_FIELDS.has(field)) return { field, sessionToken: hit[1], recognizedBy: 'header', headerUnit: unit, flags };
  }
  for (const text of [meta?.longName, meta?.description]) {
    if (!text) continue;
    const field = DESCRIPTION_FIELDS[text.trim().toLowerCase().replace(/[.:]+$/, '')];
    if (field) return { field, recognizedBy: 'participants_json', headerUnit: unit, flags: [...flags, 'recognized_by_description'] };
  }
  return null;
}

/** Read a participants.json entry into ColumnMeta (tolerating odd shapes). */
export function columnMetaFrom(entry: unknown): ColumnMeta | undefined {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return undefined;
  const e = entry as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  let levels: Record<string, string> | undefined;
  if (e.Levels && typeof e.Levels === 'object' && !Array.isArray(e.Levels)) {
    levels = {};
    for (const [k, v] of Object.entries(e.Levels as Record<string, unknown>)) {
      if (typeof v === 'string' || typeof v === 'number') levels[k.trim()] = String(v);
    }
  }
  return {
    description: str(e.Description) ?? str(e.Descripton) ?? str(e.description),
    longName: str(e.LongName),
    units: str(e.Units) ?? str(e.units),
    levels,
  };
}

/** Find a column's participants.json entry: exact header, else trimmed / case-insensitive match. */
export function metaForHeader(json: Record<string, unknown> | undefined, header: string): ColumnMeta | undefined {
  if (!json) return undefined;
  if (header in json) return columnMetaFrom(json[header]);
  const want = header.trim().toLowerCase();
  const key = Object.keys(json).find((k) => k.trim().toLowerCase() === want);
  return key === undefined ? undefined : columnMetaFrom(json[key]);
}

export interface ResolvedSession {
  /** 'ses-<label>' */
  key: string;
  flags: string[];
}

/**
 * Map a session token from a header or a session_id cell onto a session label of the dataset:
 * exact (case-insensitive) label, else the one label with the same number ('1' → 'ses-01', 'W1' → 'ses-wave1').
 */
export function resolveSession(token: string, known: string[]): ResolvedSession {
  const t = token.trim().replace(/^ses-/i, '');
  const exact = known.find((k) => k.toLowerCase() === t.toLowerCase());
  if (exact) return { key: `ses-${exact}`, flags: [] };
  const num = numberIn(t);
  if (num !== undefined) {
    const same = known.filter((k) => numberIn(k) === num);
    if (same.length === 1) return { key: `ses-${same[0]}`, flags: ['session_matched_by_number'] };
  }
  return { key: `ses-${t}`, flags: ['session_not_in_dataset'] };
}

function numberIn(label: string): number | undefined {
  const m = label.match(/^[A-Za-z]*0*(\d+)$/);
  return m ? Number(m[1]) : undefined;
}
