// Harmonizing participants.tsv (+ participants.json) and sub-*_sessions.tsv into per-participant and per-session values.

import {
  classifyColumn,
  metaForHeader,
  resolveSession,
  type ColumnMeta,
  type ColumnRole,
  type FieldName,
} from './columns.js';
import { parseJsonObject, parseTsv, type JsonObject, type TsvTable } from './text.js';
import type {
  AgeValue,
  ColumnReport,
  DatasetTextFiles,
  HarmonizedParticipant,
  HarmonizedSession,
  Handedness,
  HValue,
  MetadataIssue,
  Provenance,
  Sex,
} from './types.js';
import {
  classifyHealthValue,
  commaModeOf,
  handednessScaleOf,
  isMissingCell,
  parseAgeCell,
  parseAgeGroupCell,
  parseBmiCell,
  parseHandednessCell,
  parseNumberCell,
  parsePlainNumber,
  parseRaceCell,
  parseSexCell,
  parseSexIndicatorCell,
  parseWeightCell,
  weightUnitOf,
  yearsBetween,
  type CommaMode,
  type HandednessScale,
  type ParsedCell,
  type WeightUnit,
} from './values.js';

/** Everything known about one participant while rows are read. */
export interface ParticipantAcc {
  id: string;
  listed: boolean;
  age?: HValue<AgeValue | null>;
  ageGroup?: HValue<AgeValue | null>;
  sex?: HValue<Sex>;
  handedness?: HValue<Handedness>;
  race?: HValue<string | null>;
  weight?: HValue<number | null>;
  bmi?: HValue<number | null>;
  health?: HValue<string>;
  sessions: Map<string, HarmonizedSession>;
  birthdate?: { raw: string; file: string; field: string };
  sessionDates: Map<string, { raw: string; file: string; field: string }>;
}

type HealthMode = 'health' | 'control_only' | 'placeholder';

interface ColumnPlan {
  index: number;
  header: string;
  role: ColumnRole;
  meta?: ColumnMeta;
  comma: CommaMode;
  handScale?: HandednessScale;
  weightUnit?: WeightUnit;
  healthMode?: HealthMode;
  sessionKey?: { key: string; flags: string[] };
  report: ColumnReport;
}

export interface ParticipantsContext {
  files: DatasetTextFiles;
  /** Session labels (without 'ses-') seen in the dataset's paths. */
  knownSessions: string[];
  issues: MetadataIssue[];
  columns: ColumnReport[];
}

export const PARTICIPANTS_TSV = 'participants.tsv';
export const PARTICIPANTS_JSON = 'participants.json';

/** Normalize a participant id to 'sub-<label>'; flags when the prefix had to be added. */
export function normalizeParticipantId(raw: string): { id: string; flags: string[] } {
  const t = raw.trim();
  if (/^sub-/i.test(t)) return { id: `sub-${t.slice(4)}`, flags: t === raw ? [] : ['whitespace'] };
  return { id: `sub-${t}`, flags: ['participant_id_prefix_added'] };
}

export function newAcc(id: string, listed: boolean): ParticipantAcc {
  return { id, listed, sessions: new Map(), sessionDates: new Map() };
}

function emptyReport(file: string, column: string): ColumnReport {
  return { file, column, recognizedAs: null, cells: 0, mapped: 0, missing: 0, unrecognized: 0, unrecognizedValues: [], flags: {} };
}

/** Read participants.json; an unusable one is recorded and ignored. */
function readParticipantsJson(ctx: ParticipantsContext): JsonObject | undefined {
  const text = ctx.files.readText(PARTICIPANTS_JSON);
  if (text === undefined) return undefined;
  const before = ctx.issues.length;
  const json = parseJsonObject(PARTICIPANTS_JSON, text, ctx.issues);
  if (!json && ctx.issues.length > before) {
    ctx.issues.push({
      file: PARTICIPANTS_JSON,
      reason: 'participants_json_invalid',
      message: 'participants.json is unusable; column units and levels are inferred from participants.tsv alone',
      severity: 'warning',
    });
  }
  return json;
}

/** Harmonize participants.tsv and all sessions.tsv files into accumulators keyed by participant id. */
export function readParticipants(ctx: ParticipantsContext): Map<string, ParticipantAcc> {
  const accs = new Map<string, ParticipantAcc>();
  const json = readParticipantsJson(ctx);
  const table = parseTsv(PARTICIPANTS_TSV, ctx.files.readText(PARTICIPANTS_TSV), ctx.issues);
  if (table) readParticipantsTable(table, json, ctx, accs);
  readSessionsTables(ctx, accs);
  return accs;
}

function findIdColumn(table: TsvTable): number {
  const compact = table.header.map((h) => h.trim().toLowerCase().replace(/[^a-z0-9]/g, ''));
  for (const name of ['participantid', 'subjectid', 'participant', 'subject', 'sub', 'id']) {
    const i = compact.indexOf(name);
    if (i >= 0) return i;
  }
  const first = table.rows.map((r) => r[0]?.trim() ?? '');
  return first.length > 0 && first.every((v) => /^sub-/.test(v)) ? 0 : -1;
}

function planColumns(table: TsvTable, json: JsonObject | undefined, idCol: number, ctx: ParticipantsContext): { plans: ColumnPlan[]; idReport: ColumnReport } {
  const plans: ColumnPlan[] = [];
  let idReport = emptyReport(table.file, table.header[idCol]);
  table.header.forEach((header, index) => {
    const report = emptyReport(table.file, header);
    ctx.columns.push(report);
    if (index === idCol) {
      report.recognizedAs = 'participant_id';
      report.recognizedBy = 'header';
      idReport = report;
      return;
    }
    const meta = metaForHeader(json, header);
    const role = classifyColumn(header, meta);
    if (!role || role.field === 'participant_id') return;
    const cells = table.rows.map((r) => r[index]);
    plans.push({ index, header, role, meta, comma: commaModeOf(cells), report });
  });
  preferJoinedLists(plans);
  detectSwappedSexAge(plans, table);
  for (const plan of plans) decideColumnModes(plan, table, ctx);
  return { plans, idReport };
}

/**
 * A sex column with comma-joined values ('F,F') shows the table joins one value per task; then '21,22' in a
 * numeric column is two values, not a decimal comma.
 */
function preferJoinedLists(plans: ColumnPlan[]): void {
  if (!plans.some((p) => p.role.field === 'sex' && p.comma === 'list')) return;
  for (const p of plans) if (p.comma === 'decimal') p.comma = 'list';
}

/** A header `sex age` above rows `15.1184  M`: the two columns hold each other's values. */
function detectSwappedSexAge(plans: ColumnPlan[], table: TsvTable): void {
  const sexCols = plans.filter((p) => p.role.field === 'sex');
  const ageCols = plans.filter((p) => p.role.field === 'age' && !p.role.sessionToken);
  if (sexCols.length !== 1 || ageCols.length !== 1) return;
  const [sex, age] = [sexCols[0], ageCols[0]];
  const values = (p: ColumnPlan) => table.rows.map((r) => r[p.index]).filter((c) => !isMissingCell(c));
  const sexVals = values(sex);
  const ageVals = values(age);
  if (sexVals.length === 0 || ageVals.length === 0) return;
  const numericShare = sexVals.filter((c) => parseNumberCell(c, sex.comma) !== undefined).length / sexVals.length;
  const sexWordShare = ageVals.filter((c) => parseSexCell(c, undefined, 'none').kind === 'value').length / ageVals.length;
  if (numericShare < 0.8 || sexWordShare < 0.8) return;
  const sexRole = sex.role;
  sex.role = { ...age.role, recognizedBy: 'swapped_columns', flags: [...age.role.flags, 'swapped_columns'] };
  age.role = { ...sexRole, recognizedBy: 'swapped_columns', flags: [...sexRole.flags, 'swapped_columns'] };
  [sex.meta, age.meta] = [age.meta, sex.meta];
  for (const p of [sex, age]) p.report.note = 'header names swapped with the neighbouring column; values read under the other name';
}

function decideColumnModes(plan: ColumnPlan, table: TsvTable, ctx: ParticipantsContext): void {
  const cells = table.rows.map((r) => r[plan.index]).filter((c) => !isMissingCell(c));
  const numbers = cells.map((c) => parseNumberCell(c, plan.comma)?.n).filter((n): n is number => n !== undefined);
  const { field, sessionToken } = plan.role;
  if (field === 'handedness') plan.handScale = handednessScaleOf(numbers, plan.meta?.description);
  if (field === 'weight') plan.weightUnit = weightUnitOf(plan.meta?.units, plan.role.headerUnit, plan.header, plan.meta?.description, numbers);
  if (field === 'health') plan.healthMode = healthModeOf(plan, cells);
  if (sessionToken) plan.sessionKey = resolveSession(sessionToken, ctx.knownSessions);
  const session = plan.sessionKey ? `@${plan.sessionKey.key}` : '';
  const recognizedAs = field === 'health' ? (plan.healthMode === 'health' || plan.healthMode === 'control_only' ? 'health_status' : null) : `${field}${session}`;
  plan.report.recognizedAs = recognizedAs;
  plan.report.recognizedBy = recognizedAs ? plan.role.recognizedBy : undefined;
  if (field === 'health' && plan.healthMode === 'placeholder') plan.report.note = 'group column documented as a placeholder (TODO); not used';
  if (field === 'health' && !recognizedAs) plan.report.note = 'group column with no healthy/patient values; not a health status';
}

/**
 * A group-like column counts as health status when a value names a diagnosis or patients, or when it has
 * control/healthy values (then the non-control values stay unknown). A TODO description marks a placeholder.
 */
function healthModeOf(plan: ColumnPlan, cells: string[]): HealthMode | undefined {
  const text = `${plan.meta?.description ?? ''} ${plan.meta?.longName ?? ''}`;
  if (/\bTODO\b/.test(text)) return 'placeholder';
  const classes = new Set(cells.map((c) => classifyHealthValue(c.trim(), plan.meta?.levels?.[c.trim()])));
  if (classes.has('patient')) return 'health';
  if (classes.has('healthy')) return 'control_only';
  return undefined;
}

function readParticipantsTable(table: TsvTable, json: JsonObject | undefined, ctx: ParticipantsContext, accs: Map<string, ParticipantAcc>): void {
  const idCol = findIdColumn(table);
  if (idCol < 0) {
    ctx.issues.push({ file: table.file, reason: 'missing_participant_id', message: 'no participant_id column; table ignored', severity: 'error' });
    table.header.forEach((h) => ctx.columns.push(emptyReport(table.file, h)));
    return;
  }
  const { plans, idReport } = planColumns(table, json, idCol, ctx);
  const sessionCol = plans.find((p) => p.role.field === 'session_id');
  const duplicates: string[] = [];
  table.rows.forEach((row) => {
    const rawId = row[idCol] ?? '';
    const normalized = isMissingCell(rawId) ? undefined : normalizeParticipantId(rawId);
    record(idReport, rawId, normalized ? { kind: 'value', value: normalized.id, rule: 'participant_id', confidence: 'exact', flags: [] } : { kind: 'missing' }, normalized?.flags ?? []);
    if (!normalized) return;
    const { id } = normalized;
    let acc = accs.get(id);
    if (acc && !sessionCol) duplicates.push(id);
    if (!acc) accs.set(id, (acc = newAcc(id, true)));
    const rowSession = sessionCol && !isMissingCell(row[sessionCol.index]) ? resolveSession(row[sessionCol.index], ctx.knownSessions) : undefined;
    for (const plan of plans) applyCell(acc, plan, row[plan.index] ?? '', table.file, rowSession);
  });
  if (sessionCol) sessionCol.report.recognizedAs = 'session_id';
  if (duplicates.length > 0) {
    ctx.issues.push({
      file: table.file,
      reason: 'duplicate_participant',
      message: `${duplicates.length} repeated participant row(s) (${[...new Set(duplicates)].slice(0, 5).join(', ')}); first non-empty value kept`,
      severity: 'warning',
    });
  }
}

/** sub-<label>/sub-<label>_sessions.tsv: session-level values (age, weight, BMI, session dates). */
function readSessionsTables(ctx: ParticipantsContext, accs: Map<string, ParticipantAcc>): void {
  const sessionFiles = ctx.files.paths().filter((p) => /^sub-[^/]+\/sub-[^/]+_sessions\.tsv$/.test(p));
  if (sessionFiles.length === 0) return;
  const json = ctx.files.readText('sessions.json') !== undefined ? parseJsonObject('sessions.json', ctx.files.readText('sessions.json'), ctx.issues) : undefined;
  const reports = new Map<string, ColumnReport>();
  for (const file of sessionFiles) {
    const table = parseTsv(file, ctx.files.readText(file), ctx.issues);
    if (!table) continue;
    const id = file.split('/')[0];
    const sesCol = table.header.findIndex((h) => ['session_id', 'session'].includes(h.trim().toLowerCase()));
    let acc = accs.get(id);
    if (!acc) accs.set(id, (acc = newAcc(id, false)));
    for (const [index, header] of table.header.entries()) {
      if (index === sesCol) continue;
      const meta = metaForHeader(json, header);
      const role = classifyColumn(header, meta);
      const key = `sub-<label>_sessions.tsv\u0000${header}`;
      let report = reports.get(key);
      if (!report) {
        report = emptyReport('sub-<label>_sessions.tsv', header);
        reports.set(key, report);
        ctx.columns.push(report);
      }
      if (!role || !['age', 'weight', 'bmi', 'session_date'].includes(role.field)) continue;
      const cells = table.rows.map((r) => r[index]);
      const plan: ColumnPlan = { index, header, role, meta, comma: commaModeOf(cells), report };
      if (role.field === 'weight') {
        const numbers = cells.map((c) => parsePlainNumber(c)).filter((n): n is number => n !== undefined);
        plan.weightUnit = weightUnitOf(meta?.units, role.headerUnit, header, meta?.description, numbers);
      }
      report.recognizedAs = `${role.field}@session`;
      report.recognizedBy = role.recognizedBy;
      for (const row of table.rows) {
        const ses = sesCol >= 0 && !isMissingCell(row[sesCol]) ? resolveSession(row[sesCol], ctx.knownSessions) : undefined;
        if (!ses) continue;
        applyCell(acc, plan, row[index] ?? '', file, ses, true);
      }
    }
  }
}

// ---------------------------------------------------------------- applying cells

function record(report: ColumnReport, raw: string, cell: ParsedCell<unknown>, flags: string[]): void {
  report.cells++;
  if (cell.kind === 'missing') report.missing++;
  else if (cell.kind === 'unrecognized') {
    report.unrecognized++;
    const t = raw.trim();
    if (report.unrecognizedValues.length < 10 && !report.unrecognizedValues.includes(t)) report.unrecognizedValues.push(t);
  } else report.mapped++;
  for (const f of flags) report.flags[f] = (report.flags[f] ?? 0) + 1;
}

function toHValue<T>(cell: ParsedCell<T>, unknown: T, prov: Omit<Provenance, 'rule' | 'confidence' | 'flags'>, extraFlags: string[]): HValue<T> | undefined {
  if (cell.kind === 'missing') return undefined;
  const flags = [...new Set([...extraFlags, ...cell.flags])];
  if (cell.kind === 'unrecognized') return { value: unknown, provenance: { ...prov, rule: 'unrecognized', confidence: 'inferred', flags } };
  return { value: cell.value, provenance: { ...prov, rule: cell.rule, confidence: cell.confidence, ...(flags.length ? { flags } : {}) } };
}

/** Is a held value only a placeholder (unknown) that a real value may replace? */
function isPlaceholder(h: HValue<unknown> | undefined): boolean {
  return !h || h.value === null || h.value === 'unknown' || h.provenance.rule === 'missing';
}

function offer<K extends 'age' | 'ageGroup' | 'sex' | 'handedness' | 'race' | 'weight' | 'bmi' | 'health'>(
  acc: ParticipantAcc,
  key: K,
  h: ParticipantAcc[K] | undefined,
): void {
  if (!h) return;
  const held = acc[key] as HValue<unknown> | undefined;
  if (!held || (isPlaceholder(held) && !isPlaceholder(h as HValue<unknown>))) acc[key] = h;
}

function offerSession(acc: ParticipantAcc, ses: string, key: 'age' | 'weight' | 'bmi', h: HValue<never> | HValue<unknown> | undefined): void {
  if (!h) return;
  let s = acc.sessions.get(ses);
  if (!s) acc.sessions.set(ses, (s = {}));
  const held = s[key] as HValue<unknown> | undefined;
  if (!held || (isPlaceholder(held) && !isPlaceholder(h))) (s as Record<string, unknown>)[key] = h;
}

function parseCell(plan: ColumnPlan, raw: string): ParsedCell<unknown> {
  const { field } = plan.role;
  const levels = plan.meta?.levels;
  switch (field) {
    case 'age':
      return parseAgeCell(raw, { levels, units: plan.meta?.units ?? plan.role.headerUnit, description: plan.meta?.description, commaMode: plan.comma });
    case 'age_group':
      return parseAgeGroupCell(raw, { levels, description: plan.meta?.description, commaMode: plan.comma });
    case 'sex':
      return parseSexCell(raw, levels, plan.comma);
    case 'sex_female_indicator':
      return parseSexIndicatorCell(raw, 'female', levels);
    case 'sex_male_indicator':
      return parseSexIndicatorCell(raw, 'male', levels);
    case 'handedness':
      return parseHandednessCell(raw, levels, plan.handScale, plan.comma);
    case 'race':
      return parseRaceCell(raw, levels);
    case 'weight':
      return parseWeightCell(raw, plan.weightUnit ?? { unit: 'kg', documented: false }, plan.comma);
    case 'bmi':
      return parseBmiCell(raw, plan.comma);
    case 'health':
      return parseHealthCell(raw, plan);
    default:
      return isMissingCell(raw) ? { kind: 'missing' } : { kind: 'value', value: raw.trim(), rule: 'text', confidence: 'exact', flags: [] };
  }
}

function parseHealthCell(raw: string, plan: ColumnPlan): ParsedCell<string> {
  const t = raw.trim();
  if (isMissingCell(t)) return { kind: 'missing' };
  if (plan.healthMode === 'placeholder' || !plan.healthMode) return { kind: 'unrecognized', flags: ['not_a_health_label'] };
  const cls = classifyHealthValue(t, plan.meta?.levels?.[t]);
  const relative = /\b(sib|sibling|relative|family)\b/i.test(t.replace(/[-_]/g, ' ')) ? ['relative_of_patient'] : [];
  if (cls === 'healthy') {
    return plan.healthMode === 'control_only'
      ? { kind: 'value', value: 'healthy', rule: 'control_group', confidence: 'inferred', flags: ['control_without_patient_group', ...relative] }
      : { kind: 'value', value: 'healthy', rule: 'health_group', confidence: 'normalized', flags: relative };
  }
  if (cls === 'patient') return { kind: 'value', value: t, rule: 'patient_group', confidence: 'normalized', flags: relative };
  return { kind: 'unrecognized', flags: ['not_a_health_label'] };
}

const UNKNOWN_OF: Partial<Record<FieldName, unknown>> = { sex: 'unknown', sex_female_indicator: 'unknown', sex_male_indicator: 'unknown', handedness: 'unknown', health: 'unknown' };

function applyCell(acc: ParticipantAcc, plan: ColumnPlan, raw: string, file: string, rowSession: { key: string; flags: string[] } | undefined, sessionTable = false): void {
  const { field } = plan.role;
  if (field === 'session_id') return;
  if (field === 'birthdate') {
    record(plan.report, raw, isMissingCell(raw) ? { kind: 'missing' } : { kind: 'value', value: raw, rule: 'text', confidence: 'exact', flags: [] }, []);
    if (!isMissingCell(raw) && !acc.birthdate) acc.birthdate = { raw: raw.trim(), file, field: plan.header };
    return;
  }
  if (field === 'session_date') {
    const ses = plan.sessionKey ?? rowSession;
    record(plan.report, raw, isMissingCell(raw) || !ses ? { kind: 'missing' } : { kind: 'value', value: raw, rule: 'text', confidence: 'exact', flags: [] }, []);
    if (ses && !isMissingCell(raw) && !acc.sessionDates.has(ses.key)) acc.sessionDates.set(ses.key, { raw: raw.trim(), file, field: plan.header });
    return;
  }
  const cell = parseCell(plan, raw);
  const session = plan.sessionKey ?? rowSession;
  const flags = [...plan.role.flags, ...(session?.flags ?? [])];
  record(plan.report, raw, cell, [...new Set([...flags, ...(cell.kind === 'missing' ? [] : cell.flags)])]);
  const prov = { file, field: plan.header, raw };
  const unknown = UNKNOWN_OF[field] ?? null;
  const h = toHValue(cell, unknown, prov, flags);
  // Reading values under the neighbouring header is our correction, not the file's statement.
  if (h && plan.role.recognizedBy === 'swapped_columns') h.provenance.confidence = 'inferred';
  const missingEnum = cell.kind === 'missing' && unknown !== null ? { value: unknown, provenance: { ...prov, rule: 'missing', confidence: 'exact' as const } } : undefined;
  switch (field) {
    case 'age':
      if (session) offerSession(acc, session.key, 'age', h);
      // A plain age column in a per-session row (session_id column) also gives the participant's first age.
      if (!plan.sessionKey && !sessionTable) offer(acc, 'age', (rowSession && h ? withFlag(h, 'from_first_session_row') : h) as HValue<AgeValue | null> | undefined);
      return;
    case 'age_group':
      offer(acc, 'ageGroup', h as HValue<AgeValue | null>);
      return;
    case 'weight':
    case 'bmi':
      if (session) offerSession(acc, session.key, field, h);
      if (!sessionTable) offer(acc, field, session && h ? withFlag(h as HValue<number | null>, 'from_session_column') : (h as HValue<number | null>));
      return;
    case 'sex':
    case 'sex_female_indicator':
    case 'sex_male_indicator':
      offer(acc, 'sex', (h ?? missingEnum) as HValue<Sex>);
      return;
    case 'handedness':
      offer(acc, 'handedness', (h && plan.sessionKey ? withFlag(h, 'from_session_column') : (h ?? missingEnum)) as HValue<Handedness>);
      return;
    case 'race':
      offer(acc, 'race', h as HValue<string | null>);
      return;
    case 'health':
      if (plan.healthMode !== 'health' && plan.healthMode !== 'control_only') return; // not a health column
      offer(acc, 'health', (h ?? missingEnum) as HValue<string>);
      return;
  }
}

function withFlag<T>(h: HValue<T>, flag: string): HValue<T> {
  return { ...h, provenance: { ...h.provenance, flags: [...new Set([...(h.provenance.flags ?? []), flag])] } };
}

// ---------------------------------------------------------------- finishing

function sessionOrder(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

/** Ages from a birth date and per-session dates (shifted dates keep their differences). */
function deriveSessionAgesFromDates(acc: ParticipantAcc): void {
  if (!acc.birthdate) return;
  for (const [ses, date] of acc.sessionDates) {
    const years = yearsBetween(acc.birthdate.raw, date.raw);
    if (years === undefined) continue;
    offerSession(acc, ses, 'age', {
      value: { years },
      provenance: {
        file: date.file,
        field: `${acc.birthdate.field}, ${date.field}`,
        raw: `${acc.birthdate.raw} → ${date.raw}`,
        rule: 'birthdate_to_session_date',
        confidence: 'inferred',
        flags: ['derived_from_dates'],
      },
    });
  }
}

/** Participant-level age when no plain age column gave one: earliest session age, else the age group. */
function fallbackAge(acc: ParticipantAcc): HValue<AgeValue | null> | undefined {
  if (acc.age && acc.age.value !== null) return acc.age;
  const sessions = [...acc.sessions.entries()].filter(([, s]) => s.age && s.age.value !== null).sort(([a], [b]) => sessionOrder(a, b));
  if (sessions.length > 0) {
    const [ses, s] = sessions[0];
    return withFlag(s.age!, `from_session:${ses}`);
  }
  if (acc.ageGroup && acc.ageGroup.value !== null) return acc.ageGroup;
  return acc.age ?? acc.ageGroup;
}

const MISSING_PROVENANCE: Provenance = { file: '', field: '', raw: '', rule: 'missing', confidence: 'exact' };

function unknownEnum<T extends string>(h: HValue<T> | undefined, unknown: T): HValue<T> {
  return h ?? { value: unknown, provenance: { ...MISSING_PROVENANCE } };
}

/** Health status from a participant label such as `sub-CON01` / `sub-PAT01` when no column said anything. */
function healthFromId(id: string): HValue<string> | undefined {
  const label = id.slice(4);
  const prov = (value: string): HValue<string> => ({
    value,
    provenance: { file: PARTICIPANTS_TSV, field: 'participant_id', raw: id, rule: 'participant_id_prefix', confidence: 'inferred', flags: ['from_participant_id'] },
  });
  if (/^(con|ctrl|control|controls|hc|nc)\d/i.test(label)) return prov('healthy');
  if (/^(pat|patient|patients)\d/i.test(label)) return prov('patient');
  return undefined;
}

/** Turn an accumulator into the public participant shape. */
export function finishParticipant(acc: ParticipantAcc): HarmonizedParticipant {
  deriveSessionAgesFromDates(acc);
  const age = fallbackAge(acc);
  const health = acc.health && !isPlaceholder(acc.health) ? acc.health : (healthFromId(acc.id) ?? acc.health);
  const sessions: Record<string, HarmonizedSession> = {};
  for (const ses of [...acc.sessions.keys()].sort(sessionOrder)) sessions[ses] = acc.sessions.get(ses)!;
  const p: HarmonizedParticipant = {
    participantId: acc.id,
    listedInParticipantsTsv: acc.listed,
    sex: unknownEnum(acc.sex, 'unknown' as Sex),
    handedness: unknownEnum(acc.handedness, 'unknown' as Handedness),
    healthStatus: unknownEnum(health, 'unknown'),
    sessions,
  };
  if (age) p.age = age;
  if (acc.race) p.race = acc.race;
  if (acc.weight) p.weight = acc.weight;
  if (acc.bmi) p.bmi = acc.bmi;
  return p;
}
