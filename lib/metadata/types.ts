// Types of the harmonized OpenMind metadata: participants, sessions, images, and the per-dataset report.
//
// Convention for absent values (documented choice):
// - Enum fields (sex, handedness, healthStatus) are always present. When nothing usable exists their value is
//   'unknown'; provenance.rule is 'missing' when no source cell/key existed at all, or 'unrecognized' when a
//   source value existed but could not be interpreted (its raw text and a flag are kept).
// - Other fields (age, race, weight, bmi, acquisition values) are omitted when no source exists. When a source
//   value existed but could not be interpreted, the field is present with value null and rule 'unrecognized'.

export type Confidence = 'exact' | 'normalized' | 'inferred';

export interface Provenance {
  /** Source file, relative POSIX path in the dataset ('' when no file was involved). */
  file: string;
  /** Column header or JSON key, verbatim. */
  field: string;
  /** Raw text as found (JSON values are JSON-encoded). */
  raw: string;
  /** Name of the rule that produced the value. */
  rule: string;
  confidence: Confidence;
  flags?: string[];
}

export interface HValue<T> {
  value: T;
  provenance: Provenance;
}

/** Age in years: an exact number, or a range (binned/capped values), or only a group label. */
export interface AgeValue {
  years?: number;
  min?: number;
  max?: number;
  label?: string;
}

export type Sex = 'female' | 'male' | 'other' | 'unknown';
export type Handedness = 'right' | 'left' | 'ambidextrous' | 'unknown';
/** 'healthy', a patient group label as written in the source, or 'unknown'. */
export type HealthStatus = string;

export interface HarmonizedSession {
  age?: HValue<AgeValue | null>;
  weight?: HValue<number | null>;
  bmi?: HValue<number | null>;
}

export interface HarmonizedParticipant {
  participantId: string;
  /** False for subjects seen only in file paths (no participants.tsv row). */
  listedInParticipantsTsv: boolean;
  age?: HValue<AgeValue | null>;
  sex: HValue<Sex>;
  handedness: HValue<Handedness>;
  race?: HValue<string | null>;
  weight?: HValue<number | null>;
  bmi?: HValue<number | null>;
  healthStatus: HValue<HealthStatus>;
  /** Keyed by session label with prefix, e.g. 'ses-01'. Only sessions with a session-specific value. */
  sessions: Record<string, HarmonizedSession>;
}

export interface AcquisitionValues {
  manufacturer?: HValue<string | null>;
  modelName?: HValue<string | null>;
  magneticFieldStrength?: HValue<number | null>;
  repetitionTime?: HValue<number | null>;
  echoTime?: HValue<number | null>;
  inversionTime?: HValue<number | null>;
  flipAngle?: HValue<number | null>;
  phaseEncodingDirection?: HValue<string | null>;
  isBrainExtract?: HValue<boolean | null>;
}

export interface HarmonizedImage {
  path: string;
  subject: string;
  session?: string;
  datatype?: string;
  suffix: string;
  acquisition: AcquisitionValues;
  /** Sidecar JSON files applied, farthest (dataset root) first, nearest last. */
  sidecarChain: string[];
}

export type IssueReason =
  | 'read_failed'
  | 'binary_content'
  | 'empty_file'
  | 'ragged_rows'
  | 'invalid_json'
  | 'json_repaired'
  | 'json_not_object'
  | 'missing_participant_id'
  | 'duplicate_participant'
  | 'participants_json_invalid'
  | 'conflicting_values'
  | 'too_deep'
  | 'outside_dataset'
  | 'not_regular_file'
  | 'too_large';

export interface MetadataIssue {
  file: string;
  reason: IssueReason;
  message: string;
  severity: 'error' | 'warning';
}

export interface ColumnReport {
  file: string;
  /** Header verbatim. */
  column: string;
  /** Harmonized field the column feeds ('age', 'sex', 'health_status', ...), with '@ses-X' for session columns; null when unmapped. */
  recognizedAs: string | null;
  /** How the column was recognized: 'header', 'participants_json', 'swapped_columns', ... */
  recognizedBy?: string;
  cells: number;
  mapped: number;
  missing: number;
  unrecognized: number;
  /** Distinct raw values that could not be interpreted (first 10). */
  unrecognizedValues: string[];
  /** Flag name → number of cells carrying it. */
  flags: Record<string, number>;
  note?: string;
}

export interface AcquisitionReport {
  images: number;
  /** Field → number of images with a value. */
  present: Record<string, number>;
  /** Flag name → number of image values carrying it. */
  flags: Record<string, number>;
  sidecarsParsed: number;
  /** Sidecars listed in the dataset whose text was not available (not in a skeleton, or too large). */
  sidecarsUnavailable: number;
}

export interface DatasetReport {
  datasetId: string;
  columns: ColumnReport[];
  acquisition: AcquisitionReport;
  issues: MetadataIssue[];
}

export interface HarmonizedDataset {
  datasetId: string;
  participants: HarmonizedParticipant[];
  images: HarmonizedImage[];
  report: DatasetReport;
}

/** Source of a dataset's text files: a BIDS folder, a skeleton .tar.gz, or an in-memory map. */
export interface DatasetTextFiles {
  datasetId: string;
  /** Every file path of the dataset, relative, POSIX. */
  paths(): string[];
  /** Text of a file, or undefined when it is not available. */
  readText(p: string): string | undefined;
  /** Files that were not read and why (outside the dataset, not a regular file, too large). */
  refused?(): { file: string; reason: 'outside_dataset' | 'not_regular_file' | 'too_large'; message: string }[];
}
