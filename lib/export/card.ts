// The dataset card: README.md with what the export holds (images per modality, participants,
// datasets, field strengths), how to point nnssl at it, the filters that chose it, two participant
// charts, and the licence and attribution of every source dataset — OpenNeuro datasets with their
// links, local folders with their path. Deterministic (no dates), so two identical exports match.
//
// Every piece of text that comes from a source (names, authors, licences, paths) goes through text(),
// the one place to extend escaping.
import path from 'node:path';
import { writeFileAtomic } from '../files.js';
import { describeFilters, isDerivedRow, type ExportFilters } from './filters.js';
import { ageHistogram, chartPng, participantKey, sexHistogram } from './plots.js';
import { CSV_FILE, IMAGES_DIR, ROOT_VARIABLE, type ExportLayout, type OpenMindRow } from './table.js';

export const README_FILE = 'README.md';
export const AGE_PLOT_FILE = 'age_histogram.png';
export const SEX_PLOT_FILE = 'sex_histogram.png';

export interface SourceDataset {
  datasetId: string;
  /** Where the pipeline got it: 'openneuro' (linked) or 'local' (a folder; no link). Default 'openneuro'. */
  sourceKind?: 'openneuro' | 'local';
  /** The local folder a 'local' dataset was read from. */
  localPath?: string;
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
  /** Where the images are: 'openmind' (default, under OpenMind/) or 'flat' (exports written before 2026-12). */
  layout?: ExportLayout;
  /** Anatomy masks by how the brain was found: 'mindgrab', 'classical', 'dataset'. */
  maskMethods?: Record<string, number>;
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

/** Text from a source (a name, an author, a path) made safe for a Markdown table cell: no pipes or line breaks. */
export function text(raw: string): string {
  // A dataset's Name, Authors and License are a stranger's text: every character Markdown or HTML
  // would act on is escaped, so `<script>`, `<img onerror>` and `[x](javascript:…)` stay text.
  return raw
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .replace(/[\\`*_[\]|]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Inline code (a path): backticks inside are replaced, so the span cannot end early. */
function code(raw: string): string {
  // Inside a code span nothing is Markdown; only the span's end and the table's cell end matter.
  return `\`${raw.replace(/\s*[\r\n]+\s*/g, ' ').replace(/`/g, "'").replace(/\|/g, '\\|')}\``;
}

/** A Markdown table; cells are Markdown already (pass source text through text()). */
function table(header: string[], body: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)];
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function isLocal(s: SourceDataset): boolean {
  return s.sourceKind === 'local';
}

function openNeuroUrl(s: SourceDataset): string {
  return `https://openneuro.org/datasets/${encodeURIComponent(s.datasetId)}${s.version ? `/versions/${encodeURIComponent(s.version)}` : ''}`;
}

function doiLink(doi: string): string {
  const url = /^https?:\/\//.test(doi) ? doi : `https://doi.org/${doi.replace(/^doi:/i, '')}`;
  return `[${text(doi)}](${url.replace(/[()\s]/g, encodeURIComponent)})`;
}

function fieldStrengthTable(rows: OpenMindRow[]): string[] {
  const counts = new Map<number | null, number>();
  for (const r of rows) counts.set(fieldStrengthOf(r), (counts.get(fieldStrengthOf(r)) ?? 0) + 1);
  const keys = [...counts.keys()].sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
  return table(['Field strength', 'Images'], keys.map((k) => [k === null ? 'unknown' : `${k} T`, String(counts.get(k))]));
}

/** Every dataset of the rows with what is known about it, sorted by id. */
function sourcesOf(rows: OpenMindRow[], sources: SourceDataset[]): { source: SourceDataset; images: number }[] {
  const byId = new Map(sources.map((s) => [s.datasetId, s]));
  return countBy(rows, datasetOf)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([id, images]) => ({ source: byId.get(id) ?? { datasetId: id }, images }));
}

function attribution(s: SourceDataset): string[] {
  return [s.name ? text(s.name) : '', s.authors?.length ? text(s.authors.join(', ')) : '', s.doi ? doiLink(s.doi) : ''];
}

function openNeuroTable(list: { source: SourceDataset; images: number }[]): string[] {
  return table(
    ['Dataset', 'Name', 'Authors', 'DOI', 'Version', 'Licence', 'Images'],
    list.map(({ source: s, images }) => {
      const [name, authors, doi] = attribution(s);
      return [`[${text(s.datasetId)}](${openNeuroUrl(s)})`, name, authors, doi, s.version ? text(s.version) : '', s.license ? text(s.license) : 'unknown (see the dataset on OpenNeuro)', String(images)];
    }),
  );
}

function localTable(list: { source: SourceDataset; images: number }[]): string[] {
  return table(
    ['Dataset', 'Folder', 'Name', 'Authors', 'DOI', 'Licence', 'Images'],
    list.map(({ source: s, images }) => {
      const [name, authors, doi] = attribution(s);
      return [text(s.datasetId), s.localPath ? code(s.localPath) : '', name, authors, doi, s.license ? text(s.license) : 'unknown (see its dataset_description.json)', String(images)];
    }),
  );
}

/** "2 OpenNeuro datasets and 1 local folder", "1 OpenNeuro dataset", "3 local folders". */
function sourceSummary(openNeuro: number, local: number): string {
  const parts = [...(openNeuro ? [plural(openNeuro, 'OpenNeuro dataset', 'OpenNeuro datasets')] : []), ...(local ? [plural(local, 'local folder', 'local folders')] : [])];
  return parts.length ? parts.join(' and ') : '0 datasets';
}

function layoutLines(layout: ExportLayout): string[] {
  const where = layout === 'openmind' ? `\`${IMAGES_DIR}/<dataset>/sub-*/[ses-*/]<datatype>/\`` : '`<dataset>/sub-*/[ses-*/]<datatype>/`';
  const lines = [
    `The layout of OpenMind's download: \`${CSV_FILE}\` (also as \`openneuro_metadata.parquet\`), \`pretrain_data.json\` and this card at the top, ` +
      `the images under ${where}, each with a \`<image>__Data/\` folder holding its anonymization (\`deface_mask.nii.gz\`) and anatomy (\`fb_mask.nii.gz\`) masks. ` +
      `The table's \`image_path\`, \`anat_mask_path\` and \`anon_mask_path\` are relative to ${layout === 'openmind' ? `\`${IMAGES_DIR}/\`` : 'this folder'}.`,
    '',
    '## Using it with nnssl',
    '',
    `Paths in \`pretrain_data.json\` start with \`$${ROOT_VARIABLE}/\`; nnssl replaces that with the environment variable \`${ROOT_VARIABLE}\`, so set it to this folder (wherever it was copied or mounted): \`export ${ROOT_VARIABLE}=/path/to/this/folder\`.`,
  ];
  if (layout === 'openmind') {
    lines.push(`nnssl's own converter (\`Dataset001_OpenMind.py --openmind_root_dir <this folder>\`) builds the same collection from \`${CSV_FILE}\`.`);
  } else {
    lines.push(`This is the pipeline's working export (images directly in this folder). \`openmind export --out DIR\` writes the OpenMind layout (images under \`${IMAGES_DIR}/\`) that nnssl's converter reads.`);
  }
  lines.push(
    '',
    'An image that no two raters have scored yet has an empty `image_quality_score` in the table and `NaN` in `pretrain_data.json` ' +
      "(what nnssl's converter writes; Python's `json.load` reads it as `nan`, strict JSON parsers do not), so nnssl's `OpenMindIQSFilter` excludes it at every threshold.",
    '',
    '`age` is in years (a number); an age known only as a range or bin (`20-25`, `80+`) leaves `age` empty and is in `age_range`.',
  );
  return lines;
}

/** The README text for these rows (pure; writeDatasetCard writes it with the plots). */
export function datasetCardMarkdown(rows: OpenMindRow[], opts: DatasetCardOptions): string {
  const participants = new Set(rows.map(participantKey).filter((k): k is string => k !== null));
  const all = sourcesOf(rows, opts.sources);
  const openNeuro = all.filter((d) => !isLocal(d.source));
  const local = all.filter((d) => isLocal(d.source));
  const derived = rows.filter(isDerivedRow).length;
  const filters = describeFilters(opts.filters ?? {});
  const lines = [
    `# ${text(opts.title ?? 'OpenMind export')}`,
    '',
    `${plural(rows.length, '3D brain-MRI image', '3D brain-MRI images')} of ${plural(participants.size, 'participant', 'participants')} from ${sourceSummary(openNeuro.length, local.length)}.`,
    '',
    ...layoutLines(opts.layout ?? 'openmind'),
    '',
    '## Images per modality',
    '',
    ...table(['Modality', 'Images'], countBy(rows, (r) => String(r.modality ?? '') || 'unknown').map(([m, n]) => [text(m), String(n)])),
    '',
    `DWI-derived images (derived_from set): ${derived}.`,
    '',
    ...maskMethodLines(opts.maskMethods),
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
    'Every image keeps the licence of the dataset it comes from. When you use this data, cite each source dataset below and follow its licence.',
    '',
    ...(openNeuro.length ? ['### OpenNeuro datasets', '', ...openNeuroTable(openNeuro), ''] : []),
    ...(local.length ? ['### Local folders', '', 'Read from folders on the machine that ran the pipeline; they have no OpenNeuro page.', '', ...localTable(local), ''] : []),
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

/** How the masks were made, so a reader knows how many anatomy masks had the network behind them. */
function maskMethodLines(methods: Record<string, number> | undefined): string[] {
  if (!methods || Object.keys(methods).length === 0) return [];
  const label: Record<string, string> = {
    mindgrab: 'brain from the MindGrab network',
    classical: 'brain from the classical estimate (the network was not available)',
    dataset: "the dataset's own defacing mask",
  };
  return ['## How the masks were made', '', ...table(['Method', 'Images'], Object.entries(methods).sort().map(([m, n]) => [text(label[m] ?? m), String(n)])), ''];
}
