// The OpenMind metadata table (`openneuro_metadata.csv`): columns in the published order.
import { formatCsv } from '../csv.js';

export const OPENMIND_COLUMNS = [
  'image_path', 'anat_mask_path', 'anon_mask_path', 'modality', 'unique_id', 'image_quality_score',
  'age', 'sex', 'handedness', 'race', 'weight', 'bmi', 'health_status', 'derived_from', 'is_brain_extract',
  'manufacturer', 'model_name', 'phase_encoding_direction', 'magnetic_field_strength', 'repetition_time', 'echo_time',
] as const;
export type OpenMindColumn = (typeof OPENMIND_COLUMNS)[number];
export type OpenMindRow = Partial<Record<OpenMindColumn, string | number | boolean | null | undefined>>;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
}

export function toCsv(rows: OpenMindRow[]): string {
  return formatCsv([[...OPENMIND_COLUMNS], ...rows.map((r) => OPENMIND_COLUMNS.map((c) => csvCell(r[c])))]);
}

/** Where an image and its masks go in the OpenMind layout, relative to the export root. */
export function exportPathsFor(datasetId: string, bidsPath: string): { image: string; dataDir: string; defaceMask: string; fbMask: string } {
  const image = `${datasetId}/${bidsPath.replace(/\.nii(\.gz)?$/, '')}.nii.gz`;
  const dataDir = image.replace(/\.nii\.gz$/, '__Data');
  return { image, dataDir, defaceMask: `${dataDir}/deface_mask.nii.gz`, fbMask: `${dataDir}/fb_mask.nii.gz` };
}
