// The OpenMind metadata table (`openneuro_metadata.csv`): columns in the published order.

export const OPENMIND_COLUMNS = [
  'image_path', 'anat_mask_path', 'anon_mask_path', 'modality', 'unique_id', 'image_quality_score',
  'age', 'sex', 'handedness', 'race', 'weight', 'bmi', 'health_status', 'derived_from', 'is_brain_extract',
  'manufacturer', 'model_name', 'phase_encoding_direction', 'magnetic_field_strength', 'repetition_time', 'echo_time',
] as const;
export type OpenMindColumn = (typeof OPENMIND_COLUMNS)[number];
export type OpenMindRow = Partial<Record<OpenMindColumn, string | number | boolean | null | undefined>>;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: OpenMindRow[]): string {
  const lines = [OPENMIND_COLUMNS.join(',')];
  for (const r of rows) lines.push(OPENMIND_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return lines.join('\n') + '\n';
}

/** Minimal CSV reader for our own tables (quoted cells, doubled quotes). */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell || row.length) {
    row.push(cell);
    rows.push(row);
  }
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

/** Where an image and its masks go in the OpenMind layout, relative to the export root. */
export function exportPathsFor(datasetId: string, bidsPath: string): { image: string; dataDir: string; defaceMask: string; fbMask: string } {
  const image = `${datasetId}/${bidsPath.replace(/\.nii(\.gz)?$/, '')}.nii.gz`;
  const dataDir = image.replace(/\.nii\.gz$/, '__Data');
  return { image, dataDir, defaceMask: `${dataDir}/deface_mask.nii.gz`, fbMask: `${dataDir}/fb_mask.nii.gz` };
}
