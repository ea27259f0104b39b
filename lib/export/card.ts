// The dataset card: README.md with what the export holds (images per modality, participants,
// datasets, field strengths), the filters that chose it, two participant charts, and the licence
// and attribution of every source dataset. Deterministic (no dates), so two identical exports match.
import path from 'node:path';
import { writeFileAtomic } from '../files.js';
import { describeFilters, isDerivedRow, type ExportFilters } from './filters.js';
import { ageHistogram, chartPng, participantKey, sexHistogram } from './plots.js';
import type { OpenMindRow } from './table.js';

export const README_FILE = 'README.md';
export const AGE_PLOT_FILE = 'age_histogram.png';
export const SEX_PLOT_FILE = 'sex_histogram.png';

export interface SourceDataset {
  datasetId: string;
  name?: string;
  license?: string;
  authors?: string[];
  doi?: string;
  version?: string;
}

export interface DatasetCardOptions {
  sources: SourceDataset[];
  /** The filters that chose these rows (shown in the card; nothing set = everything). */
  filters?: ExportFilters;
  title?: string;
}

export interface DatasetCardFiles {
  readme: string;
  plots: string[];
}

/** Image counts per key, most frequent first, ties by name. */
function countBy(rows: OpenMindRow[], keyOf: (r: OpenMindRow) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(keyOf(r), (counts.get(keyOf(r)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function datasetOf(row: OpenMindRow): string {
  return String(row.image_path ?? '').split('/')[0];
}

/** Field strength rounded to 0.1 T; null when unknown. */
function fieldStrengthOf(row: OpenMindRow): number | null {
  const v = row.magnetic_field_strength;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.round(n * 10) / 10 : null;
}

/** A Markdown table cell: no pipes or line breaks. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*[\r\n]+\s*/g, ' ');
}

function table(header: string[], body: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

function openNeuroUrl(s: SourceDataset): string {
  return `https://openneuro.org/datasets/${encodeURIComponent(s.datasetId)}${s.version ? `/versions/${encodeURIComponent(s.version)}` : ''}`;
}

function doiLink(doi: string): string {
  const url = /^https?:\/\//.test(doi) ? doi : `https://doi.org/${doi.replace(/^doi:/i, '')}`;
  return `[${doi}](${url})`;
}

function fieldStrengthTable(rows: OpenMindRow[]): string[] {
  const counts = new Map<number | null, number>();
  for (const r of rows) counts.set(fieldStrengthOf(r), (counts.get(fieldStrengthOf(r)) ?? 0) + 1);
  const keys = [...counts.keys()].sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
  return table(['Field strength', 'Images'], keys.map((k) => [k === null ? 'unknown' : `${k} T`, String(counts.get(k))]));
}

function sourcesTable(rows: OpenMindRow[], sources: SourceDataset[]): string[] {
  const byId = new Map(sources.map((s) => [s.datasetId, s]));
  const body = countBy(rows, datasetOf)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([id, images]) => {
      const s = byId.get(id) ?? { datasetId: id };
      return [
        `[${id}](${openNeuroUrl(s)})`,
        s.name ?? '',
        s.version ?? '',
        s.license ?? 'unknown (see the dataset on OpenNeuro)',
        s.authors?.length ? s.authors.join(', ') : '',
        s.doi ? doiLink(s.doi) : '',
        String(images),
      ];
    });
  return table(['Dataset', 'Name', 'Version', 'Licence', 'Authors', 'DOI', 'Images'], body);
}

/** The README text for these rows (pure; writeDatasetCard writes it with the plots). */
export function datasetCardMarkdown(rows: OpenMindRow[], opts: DatasetCardOptions): string {
  const participants = new Set(rows.map(participantKey).filter((k): k is string => k !== null));
  const datasets = new Set(rows.map(datasetOf));
  const derived = rows.filter(isDerivedRow).length;
  const filters = describeFilters(opts.filters ?? {});
  const lines = [
    `# ${opts.title ?? 'OpenMind export'}`,
    '',
    `${rows.length} 3D brain-MRI images of ${participants.size} participants from ${datasets.size} OpenNeuro datasets, ` +
      'in the OpenMind layout: images under `<dataset>/sub-*/[ses-*/]<datatype>/`, each with a `<image>__Data/` folder ' +
      'holding its anonymization (`deface_mask.nii.gz`) and anatomy (`fb_mask.nii.gz`) masks. ' +
      'The metadata table is `openneuro_metadata.csv` (also as `openneuro_metadata.parquet`); `pretrain_data.json` describes the same images for nnssl.',
    '',
    '## Images per modality',
    '',
    ...table(['Modality', 'Images'], countBy(rows, (r) => String(r.modality ?? '') || 'unknown').map(([m, n]) => [m, String(n)])),
    '',
    `DWI-derived images (derived_from set): ${derived}.`,
    '',
    '## Field strength',
    '',
    ...fieldStrengthTable(rows),
    '',
    '## Filters',
    '',
    ...(filters.length ? filters.map((f) => `- ${f}`) : ['None: every image of the pipeline is included.']),
    '',
    '## Participants',
    '',
    'One count per participant (dataset and subject), using the first known value; a range age counts at its midpoint.',
    '',
    `![Participants by age](${AGE_PLOT_FILE})`,
    '',
    `![Participants by sex](${SEX_PLOT_FILE})`,
    '',
    '## Sources, licences and attribution',
    '',
    'Every image keeps the licence of the OpenNeuro dataset it comes from. When you use this data, cite each source dataset below and follow its licence.',
    '',
    ...sourcesTable(rows, opts.sources),
    '',
  ];
  return lines.join('\n');
}

/** Write README.md, age_histogram.png and sex_histogram.png into dir (each atomically). */
export async function writeDatasetCard(dir: string, rows: OpenMindRow[], opts: DatasetCardOptions): Promise<DatasetCardFiles> {
  const readme = path.join(dir, README_FILE);
  const plots = [path.join(dir, AGE_PLOT_FILE), path.join(dir, SEX_PLOT_FILE)];
  await writeFileAtomic(plots[0], chartPng(ageHistogram(rows)));
  await writeFileAtomic(plots[1], chartPng(sexHistogram(rows)));
  await writeFileAtomic(readme, datasetCardMarkdown(rows, opts));
  return { readme, plots };
}
