// Export for SSL frameworks: the published CSV columns, the Parquet table, nnssl's pretrain_data.json,
// row filters, the dataset card with its two charts, and the export verifier — on a tiny fake export.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { decodePng, PNG_SIGNATURE } from '../lib/png.js';
import { exportPathsFor, fileInExport, IMAGES_DIR, OPENMIND_COLUMNS, toCsv, type OpenMindRow } from '../lib/export/table.js';
import { parseCsv } from '../lib/csv.js';
import { PARQUET_FILE, parquetRow, writeMetadataParquet } from '../lib/export/parquet.js';
import { buildPretrainData, formatPretrainData, parsePretrainData, PRETRAIN_FILE, validatePretrainData, writePretrainData, type PretrainData } from '../lib/export/nnssl.js';
import { ExportFilterError, filterRows, parseFilterArgs, type ExportFilters } from '../lib/export/filters.js';
import { AGE_PLOT_FILE, README_FILE, SEX_PLOT_FILE, writeDatasetCard, type SourceDataset } from '../lib/export/card.js';
import { BAR_COLOUR } from '../lib/export/plots.js';
import { CSV_FILE, diffSnapshots, snapshotExport } from '../lib/export/verify.js';

const PUBLISHED_COLUMNS = [
  'image_path', 'anat_mask_path', 'anon_mask_path', 'modality', 'unique_id', 'image_quality_score', 'age', 'sex',
  'handedness', 'race', 'weight', 'bmi', 'health_status', 'derived_from', 'is_brain_extract', 'manufacturer',
  'model_name', 'phase_encoding_direction', 'magnetic_field_strength', 'repetition_time', 'echo_time',
];
/** Ours: the published columns, then age_range. */
const TABLE_COLUMNS = [...PUBLISHED_COLUMNS, 'age_range'];

/** One table row for a BIDS path, with masks (unless told otherwise) and the given metadata. */
function row(datasetId: string, bidsPath: string, meta: OpenMindRow, masks = true): OpenMindRow {
  const p = exportPathsFor(datasetId, bidsPath);
  return {
    image_path: p.image,
    anat_mask_path: masks ? p.fbMask : '',
    anon_mask_path: masks ? p.defaceMask : '',
    unique_id: `${datasetId}:${bidsPath.replace(/\.nii(\.gz)?$/, '')}`,
    derived_from: '',
    ...meta,
  };
}

// Indices used by the filter tests: 0 T1w, 1 FLAIR, 2 session T1w, 3 T2w (no score, no masks), 4 FA (DWI-derived), 5 T1w 7 T.
const ROWS: OpenMindRow[] = [
  row('ds000001', 'sub-01/anat/sub-01_T1w.nii.gz', {
    modality: 'T1w', image_quality_score: 1.5, age: 25, sex: 'female', handedness: 'right', health_status: 'healthy', weight: 61.5, bmi: 22.1,
    is_brain_extract: false, manufacturer: 'Siemens', model_name: 'Prisma', phase_encoding_direction: 'j-', magnetic_field_strength: 3, repetition_time: 2.3, echo_time: 0.00298,
  }),
  row('ds000001', 'sub-01/anat/sub-01_FLAIR.nii.gz', {
    modality: 'FLAIR', image_quality_score: 3.5, age: 25, sex: 'female', health_status: 'healthy', manufacturer: 'Siemens', magnetic_field_strength: 3, repetition_time: 5, echo_time: 0.388,
  }),
  row('ds000001', 'sub-02/ses-01/anat/sub-02_ses-01_T1w.nii.gz', {
    modality: 'T1w', image_quality_score: 2, age: '20-25', sex: 'male', race: 'Asian, East', health_status: 'patient', manufacturer: 'GE', model_name: 'Signa "HDx"', magnetic_field_strength: 1.5,
  }),
  row('ds000002', 'sub-03/anat/sub-03_T2w.nii.gz', { modality: 'T2w', image_quality_score: '', age: 62, sex: '', health_status: '', magnetic_field_strength: 2.96 }, false),
  row('ds000002', 'sub-04/dwi/sub-04_dwi__Data/FA.nii.gz', {
    modality: 'FA', image_quality_score: 2.5, age: 40, sex: 'male', health_status: 'healthy', derived_from: 'sub-04_dwi.nii.gz', magnetic_field_strength: 3,
  }),
  row('ds000002', 'sub-05/anat/sub-05_T1w.nii.gz', {
    modality: 'T1w', image_quality_score: 4, age: '80+', sex: 'female', health_status: 'Healthy', is_brain_extract: true, magnetic_field_strength: 7,
  }),
];

const SOURCES: SourceDataset[] = [
  { datasetId: 'ds000001', sourceKind: 'openneuro', name: 'Resting state | test', license: 'CC0', authors: ['A. Author', 'B. Author'], doi: '10.18112/openneuro.ds000001.v1.0.0', version: '1.0.0' },
  { datasetId: 'ds000002', sourceKind: 'local', localPath: '/data/bids/ds000002', name: 'Diffusion study', license: 'CC-BY-4.0', authors: ['C. Author'] },
];

const tmpRoots: string[] = [];
function tmpDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `openmind-export-${tag}-`));
  tmpRoots.push(d);
  return d;
}

function writeFile(root: string, rel: string, content: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), content);
}

/** A complete fake export in OpenMind's layout: images and masks (tiny files) under OpenMind/, CSV, Parquet, pretrain_data.json and the card. */
async function buildExport(root: string, rows: OpenMindRow[] = ROWS): Promise<void> {
  for (const r of rows) {
    for (const rel of [r.image_path, r.anat_mask_path, r.anon_mask_path]) if (rel) writeFile(root, `${IMAGES_DIR}/${rel}`, `bytes of ${rel}`);
  }
  fs.writeFileSync(path.join(root, CSV_FILE), toCsv(rows));
  await writeMetadataParquet(path.join(root, PARQUET_FILE), rows);
  await writePretrainData(path.join(root, PRETRAIN_FILE), buildPretrainData(rows));
  await writeDatasetCard(root, rows, { sources: SOURCES });
}

const pick = (rows: OpenMindRow[], indices: number[]) => indices.map((i) => rows[i]);

after(() => {
  for (const d of tmpRoots) fs.rmSync(d, { recursive: true, force: true });
});

describe('export: metadata table (CSV and Parquet)', () => {
  it('writes the CSV with the published columns in the published order, then age_range', () => {
    assert.deepEqual([...OPENMIND_COLUMNS], TABLE_COLUMNS);
    const csv = toCsv(ROWS);
    assert.equal(csv.split('\n')[0], TABLE_COLUMNS.join(','));
    const back = parseCsv(csv);
    assert.equal(back.length, ROWS.length);
    assert.deepEqual(Object.keys(back[0]), TABLE_COLUMNS);
    assert.equal(back[2].race, 'Asian, East');
    assert.equal(back[2].model_name, 'Signa "HDx"');
    // Numbers as floats (as pandas writes a float column), so every reader types the column as float.
    assert.deepEqual([back[0].age, back[0].magnetic_field_strength, back[0].image_quality_score, back[0].echo_time], ['25.0', '3.0', '1.5', '0.00298']);
    // A range or bin is not an age in years: it goes to age_range.
    assert.deepEqual([back[2].age, back[2].age_range], ['', '20-25']);
    assert.deepEqual([back[5].age, back[5].age_range], ['', '80+']);
    assert.deepEqual([back[3].age, back[3].age_range, back[3].image_quality_score], ['62.0', '', '']);
    assert.deepEqual([back[0].is_brain_extract, back[1].is_brain_extract, back[5].is_brain_extract], ['False', '', 'True']);
    // Writing what was read gives the same text.
    assert.equal(toCsv(back), csv);
  });

  it('writes Parquet that reads back with the same rows, column order and types', async () => {
    const dir = tmpDir('parquet');
    const file = path.join(dir, PARQUET_FILE);
    await writeMetadataParquet(file, ROWS);
    assert.deepEqual(fs.readdirSync(dir), [PARQUET_FILE], 'no temp file left behind');
    const bytes = fs.readFileSync(file);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

    const schema = parquetMetadata(buffer).schema.slice(1);
    assert.deepEqual(schema.map((s) => s.name), TABLE_COLUMNS);
    const typeOf = Object.fromEntries(schema.map((s) => [s.name, `${s.type}${s.converted_type ? `/${s.converted_type}` : ''}`]));
    for (const c of ['image_quality_score', 'age', 'weight', 'bmi', 'magnetic_field_strength', 'repetition_time', 'echo_time']) assert.equal(typeOf[c], 'DOUBLE', c);
    assert.equal(typeOf.is_brain_extract, 'BOOLEAN');
    for (const c of ['image_path', 'age_range', 'sex', 'race', 'unique_id', 'derived_from']) assert.equal(typeOf[c], 'BYTE_ARRAY/UTF8', c);
    assert.ok(schema.every((s) => s.repetition_type === 'OPTIONAL'), 'every column nullable');

    const back = (await parquetReadObjects({ file: buffer })) as Record<string, unknown>[];
    assert.equal(back.length, ROWS.length);
    assert.deepEqual(Object.keys(back[0]), TABLE_COLUMNS);
    back.forEach((r, i) => assert.deepEqual(r, parquetRow(ROWS[i]), `row ${i}`));
    assert.equal(back[0].age, 25);
    assert.equal(back[0].age_range, null);
    assert.equal(back[2].age, null);
    assert.equal(back[2].age_range, '20-25');
    assert.equal(back[0].echo_time, 0.00298);
    assert.equal(back[0].is_brain_extract, false);
    assert.equal(back[5].is_brain_extract, true);
    assert.equal(back[1].is_brain_extract, null);
    assert.equal(back[3].image_quality_score, null, 'empty score is null');
    assert.equal(back[3].anat_mask_path, null, 'empty text is null');
    // Same rows parsed from the CSV (all text) normalise to the same Parquet rows.
    assert.deepEqual(parseCsv(toCsv(ROWS)).map((r) => parquetRow(r)), back);
  });
});

describe('export: nnssl pretrain_data.json', () => {
  let root: string;
  let data: PretrainData;
  const env = () => ({ openmind: root });
  const img = (rel: string) => `$openmind/${IMAGES_DIR}/${rel}`;
  before(async () => {
    root = tmpDir('nnssl');
    await buildExport(root);
    data = buildPretrainData(ROWS);
  });

  it('builds the collection → datasets → subjects → sessions → images hierarchy nnssl expects, paths under $openmind/OpenMind/', () => {
    assert.equal(data.collection_name, 'Dataset001_OpenMind');
    assert.equal(data.collection_index, 1);
    assert.deepEqual(Object.keys(data.datasets), ['ds000001', 'ds000002']);
    const ds1 = data.datasets.ds000001;
    assert.equal(ds1.dataset_index, 'ds000001');
    assert.equal(ds1.name, null);
    assert.deepEqual(Object.keys(ds1.subjects), ['sub-01', 'sub-02']);
    const sub1 = ds1.subjects['sub-01'];
    assert.deepEqual(Object.keys(sub1.sessions), ['ses-DEFAULT']);
    assert.deepEqual(Object.keys(ds1.subjects['sub-02'].sessions), ['ses-01']);
    const [t1, flair] = sub1.sessions['ses-DEFAULT'].images;
    assert.deepEqual(t1, {
      name: 'sub-01_T1w.nii.gz',
      image_path: img('ds000001/sub-01/anat/sub-01_T1w.nii.gz'),
      modality: 'T1w',
      image_info: {
        is_brain_extract: false, manufacturer: 'Siemens', model_name: 'Prisma', phase_encoding_direction: 'j-',
        magnetic_field_strength: 3, repetition_time: 2.3, echo_time: 0.00298,
      },
      associated_masks: {
        anonymization_mask: img('ds000001/sub-01/anat/sub-01_T1w__Data/deface_mask.nii.gz'),
        anatomy_mask: img('ds000001/sub-01/anat/sub-01_T1w__Data/fb_mask.nii.gz'),
      },
    });
    assert.equal(flair.modality, 'FLAIR');
    assert.equal(sub1.sessions['ses-DEFAULT'].session_info, null);
    // Age is a number of years; a range age is not in subject_info (nnssl's converter reads only `age`).
    assert.deepEqual(sub1.subject_info, { age: 25, sex: 'female', handedness: 'right', weight: 61.5, bmi: 22.1, health_status: 'healthy' });
    assert.deepEqual(ds1.subjects['sub-02'].subject_info, { sex: 'male', race: 'Asian, East', health_status: 'patient' });
    assert.deepEqual(data.datasets.ds000002.subjects['sub-03'].subject_info, { age: 62 }, 'missing values are left out');
    const t2 = data.datasets.ds000002.subjects['sub-03'].sessions['ses-DEFAULT'].images[0];
    assert.deepEqual(t2.associated_masks, { anonymization_mask: null, anatomy_mask: null });
  });

  it('names DWI-derived maps after their source and groups quality scores per modality and derived_from', () => {
    const fa = data.datasets.ds000002.subjects['sub-04'].sessions['ses-DEFAULT'].images[0];
    assert.equal(fa.name, 'sub-04_dwi_FA.nii.gz');
    assert.equal(fa.image_info?.derived_from, 'sub-04_dwi.nii.gz');
    assert.equal(fa.associated_masks?.anatomy_mask, img('ds000002/sub-04/dwi/sub-04_dwi__Data/FA__Data/fb_mask.nii.gz'));
    assert.deepEqual(data.datasets.ds000001.dataset_info?.image_quality_score, [
      { modality: 'FLAIR', derived_from: null, image_quality_score: 3.5 },
      { modality: 'T1w', derived_from: null, image_quality_score: 1.5 },
    ]);
    assert.deepEqual(data.datasets.ds000002.dataset_info?.image_quality_score, [
      { modality: 'FA', derived_from: 'sub-04_dwi.nii.gz', image_quality_score: 2.5 },
      { modality: 'T1w', derived_from: null, image_quality_score: 4 },
      { modality: 'T2w', derived_from: null, image_quality_score: null },
    ]);
  });

  it('writes an unrated score as NaN, as nnssl\'s converter does, and reads it back as null', () => {
    const text = fs.readFileSync(path.join(root, PRETRAIN_FILE), 'utf8');
    assert.ok(text.includes('"image_quality_score": NaN'));
    assert.equal(text.match(/NaN/g)?.length, 1, 'only the unrated T2w group');
    assert.throws(() => JSON.parse(text), 'not strict JSON');
    const back = parsePretrainData(text);
    assert.deepEqual(back, JSON.parse(JSON.stringify(data)));
    assert.equal(back.datasets.ds000002.dataset_info?.image_quality_score?.[2].image_quality_score, null);
    // A name that contains the same words stays as it is.
    const odd = buildPretrainData([{ ...ROWS[3], manufacturer: '"image_quality_score": NaN' }]);
    const oddText = formatPretrainData(odd);
    assert.equal(parsePretrainData(oddText).datasets.ds000002.subjects['sub-03'].sessions['ses-DEFAULT'].images[0].image_info?.manufacturer, '"image_quality_score": NaN');
  });

  it('validates, including every referenced file, and writes sorted keys with 4-space indent', () => {
    assert.deepEqual(validatePretrainData(data, { checkFiles: true, env: env() }), []);
    const text = fs.readFileSync(path.join(root, PRETRAIN_FILE), 'utf8');
    assert.ok(text.startsWith('{\n    "collection_index": 1,\n    "collection_name": "Dataset001_OpenMind",\n    "datasets": {'));
    // Non-ASCII is escaped, as Python's json.dump does.
    const accented = buildPretrainData([{ ...ROWS[0], manufacturer: 'Müller' }]);
    assert.ok(formatPretrainData(accented).includes('"manufacturer": "M\\u00fcller"'));
    assert.equal(parsePretrainData(formatPretrainData(accented)).datasets.ds000001.subjects['sub-01'].sessions['ses-DEFAULT'].images[0].image_info?.manufacturer, 'Müller');
  });

  it('takes another variable, or absolute paths, and the flat layout of the working export', () => {
    const other = buildPretrainData(ROWS, { variable: 'OPENMIND_EXPORT', collectionName: 'Dataset800_Mine', collectionIndex: 800 });
    const t1 = (d: PretrainData) => d.datasets.ds000001.subjects['sub-01'].sessions['ses-DEFAULT'].images[0].image_path;
    assert.equal(t1(other), `$OPENMIND_EXPORT/${IMAGES_DIR}/ds000001/sub-01/anat/sub-01_T1w.nii.gz`);
    assert.deepEqual(validatePretrainData(other, { checkFiles: true, env: { OPENMIND_EXPORT: root } }), []);
    const unset = validatePretrainData(other, { checkFiles: true, env: {} });
    assert.ok(unset.length > 0 && unset.every((p) => p.includes('environment variable OPENMIND_EXPORT is not set')));
    const absolute = buildPretrainData(ROWS, { variable: null, exportRoot: root });
    assert.equal(t1(absolute), fileInExport(root, 'openmind', 'ds000001/sub-01/anat/sub-01_T1w.nii.gz'));
    assert.deepEqual(validatePretrainData(absolute, { checkFiles: true }), []);
    assert.throws(() => buildPretrainData(ROWS, { variable: null }), /absolute exportRoot/);
    assert.throws(() => buildPretrainData(ROWS, { variable: 'no/slash' }), /not an environment variable/);
    assert.equal(t1(buildPretrainData(ROWS, { layout: 'flat' })), '$openmind/ds000001/sub-01/anat/sub-01_T1w.nii.gz');
  });

  it('reports a missing key, a wrong type and a missing file', () => {
    const broken = JSON.parse(JSON.stringify(data)) as Record<string, any>;
    delete broken.collection_name;
    broken.datasets.ds000001.subjects['sub-01'].subject_info = 'female, 25';
    broken.datasets.ds000001.subjects['sub-02'].sessions['ses-01'].images[0].image_path = '$openmind/OpenMind/ds000001/nope.nii.gz';
    delete broken.datasets.ds000002.subjects['sub-05'].sessions['ses-DEFAULT'].images[0].modality;
    const problems = validatePretrainData(broken, { checkFiles: true, env: env() });
    assert.deepEqual(problems, [
      'collection: missing key "collection_name"',
      'datasets.ds000001.subjects.sub-01.subject_info: must be an object or null',
      `datasets.ds000001.subjects.sub-02.sessions.ses-01.images[0].image_path: file not found (${root}/OpenMind/ds000001/nope.nii.gz)`,
      'datasets.ds000002.subjects.sub-05.sessions.ses-DEFAULT.images[0]: missing key "modality"',
    ]);
    // Without checkFiles, only the structure counts.
    assert.equal(validatePretrainData(broken).length, 3);
    assert.deepEqual(validatePretrainData([]), ['pretrain data: must be a JSON object']);
  });

  it('reports relative paths, unknown image keys and images without a quality-score group', () => {
    const broken = JSON.parse(JSON.stringify(data)) as Record<string, any>;
    const img = broken.datasets.ds000001.subjects['sub-01'].sessions['ses-DEFAULT'].images[0];
    img.image_path = 'ds000001/sub-01/anat/sub-01_T1w.nii.gz';
    img.extra = 1;
    broken.datasets.ds000001.dataset_info.image_quality_score.pop();
    const problems = validatePretrainData(broken);
    assert.deepEqual(problems, [
      'datasets.ds000001.subjects.sub-01.sessions.ses-DEFAULT.images[0]: unexpected key "extra" (nnssl would reject it)',
      'datasets.ds000001.subjects.sub-01.sessions.ses-DEFAULT.images[0].image_path: path must be absolute or start with $VARIABLE, got "ds000001/sub-01/anat/sub-01_T1w.nii.gz"',
      'datasets.ds000001.dataset_info.image_quality_score: no entry for modality "T1w", derived_from null (image "sub-01_T1w.nii.gz")',
      'datasets.ds000001.dataset_info.image_quality_score: no entry for modality "T1w", derived_from null (image "sub-02_ses-01_T1w.nii.gz")',
    ]);
  });
});

describe('export: filters', () => {
  const cases: [string, ExportFilters, number[]][] = [
    ['modality (case-insensitive)', { modality: ['t1w'] }, [0, 2, 5]],
    ['several modalities', { modality: ['T1w', 'FLAIR'] }, [0, 1, 2, 5]],
    ['max quality (unscored rows excluded)', { maxQuality: 2 }, [0, 2]],
    ['age range (range ages overlap)', { ageMin: 20, ageMax: 30 }, [0, 1, 2]],
    ['age lower bound only (open range "80+")', { ageMin: 60 }, [3, 5]],
    ['age upper bound only', { ageMax: 22 }, [2]],
    ['sex', { sex: ['female'] }, [0, 1, 5]],
    ['health status (case-insensitive)', { healthStatus: ['healthy'] }, [0, 1, 4, 5]],
    ['field strength within 0.05 T', { fieldStrength: [3] }, [0, 1, 3, 4]],
    ['several field strengths', { fieldStrength: [1.5, 7] }, [2, 5]],
    ['derived only', { derived: true }, [4]],
    ['no derived', { derived: false }, [0, 1, 2, 3, 5]],
    ['nothing set keeps everything', {}, [0, 1, 2, 3, 4, 5]],
  ];
  it('reads a range age from age_range once the row is normalised (age empty)', () => {
    const normalised = parseCsv(toCsv(ROWS)) as OpenMindRow[];
    assert.deepEqual(filterRows(normalised, { ageMin: 20, ageMax: 30 }).map((r) => r.unique_id), pick(ROWS, [0, 1, 2]).map((r) => r.unique_id));
    assert.deepEqual(filterRows(normalised, { ageMin: 60 }).map((r) => r.unique_id), pick(ROWS, [3, 5]).map((r) => r.unique_id));
  });
  for (const [name, filters, expected] of cases) {
    it(`selects by ${name}`, () => assert.deepEqual(filterRows(ROWS, filters), pick(ROWS, expected)));
  }

  it('combines filters (all must hold), from parsed command-line options', () => {
    const f = parseFilterArgs({ modality: 'T1w,FLAIR', maxQuality: '4', age: '20-30', fieldStrength: '3', derived: false });
    assert.deepEqual(filterRows(ROWS, f), pick(ROWS, [0, 1]));
    assert.deepEqual(filterRows(ROWS, { ...f, sex: ['male'] }), []);
  });

  it('parses `openmind export` options', () => {
    assert.deepEqual(
      parseFilterArgs({ modality: 'T1w,FLAIR', maxQuality: '3', age: '20-40', sex: 'female', health: 'healthy', fieldStrength: '3', derived: true }),
      { modality: ['T1w', 'FLAIR'], maxQuality: 3, ageMin: 20, ageMax: 40, sex: ['female'], healthStatus: ['healthy'], fieldStrength: [3], derived: true },
    );
    assert.deepEqual(parseFilterArgs({ modality: ['T1w', 'T2w,FLAIR'], age: '65-', fieldStrength: '1.5,3' }), { modality: ['T1w', 'T2w', 'FLAIR'], ageMin: 65, fieldStrength: [1.5, 3] });
    assert.deepEqual(parseFilterArgs({ age: '-18' }), { ageMax: 18 });
    assert.deepEqual(parseFilterArgs({ age: '30' }), { ageMin: 30, ageMax: 30 });
    assert.deepEqual(parseFilterArgs({}), {});
    assert.throws(() => parseFilterArgs({ maxQuality: 'good' }), ExportFilterError);
    assert.throws(() => parseFilterArgs({ age: '40-20' }), /lower bound/);
    assert.throws(() => parseFilterArgs({ age: 'adult' }), ExportFilterError);
    assert.throws(() => parseFilterArgs({ fieldStrength: '3T' }), /field-strength/);
  });
});

describe('export: dataset card', () => {
  let dir: string;
  before(async () => {
    dir = tmpDir('card');
    await writeDatasetCard(dir, ROWS, { sources: SOURCES, filters: { maxQuality: 4, modality: ['T1w', 'T2w', 'FLAIR', 'FA'] } });
  });

  it('writes README.md with counts, filters, plots and per-dataset licence and attribution', () => {
    const md = fs.readFileSync(path.join(dir, README_FILE), 'utf8');
    assert.match(md, /^6 3D brain-MRI images of 5 participants from 1 OpenNeuro dataset and 1 local folder\.$/m);
    assert.ok(md.includes('`export openmind=/path/to/this/folder`'), 'names the variable');
    assert.ok(md.includes('`OpenMind/<dataset>/sub-*/[ses-*/]<datatype>/`'), 'describes the layout');
    assert.ok(md.includes('`NaN` in `pretrain_data.json`'), 'says what an unrated score holds');
    assert.ok(md.includes('### OpenNeuro datasets') && md.includes('### Local folders'));
    for (const line of ['| T1w | 3 |', '| FLAIR | 1 |', '| T2w | 1 |', '| FA | 1 |', '| 3 T | 4 |', '| 1.5 T | 1 |', '| 7 T | 1 |']) assert.ok(md.includes(line), line);
    assert.ok(md.includes('DWI-derived images (derived_from set): 1.'));
    assert.ok(md.includes('- modality: T1w, T2w, FLAIR, FA'));
    assert.ok(md.includes('- image quality score <= 4'));
    assert.ok(md.includes(`![Participants by age](${AGE_PLOT_FILE})`));
    assert.ok(md.includes(`![Participants by sex](${SEX_PLOT_FILE})`));
    assert.ok(md.includes('| [ds000001](https://openneuro.org/datasets/ds000001/versions/1.0.0) | Resting state \\| test | A. Author, B. Author | [10.18112/openneuro.ds000001.v1.0.0](https://doi.org/10.18112/openneuro.ds000001.v1.0.0) | 1.0.0 | CC0 | 3 |'));
    assert.ok(md.includes('| ds000002 | `/data/bids/ds000002` | Diffusion study | C. Author |  | CC-BY-4.0 | 3 |'));
    assert.ok(!md.includes('openneuro.org/datasets/ds000002'), 'no link for a local folder');
  });

  it('counts in the singular and describes the working export\'s flat layout', async () => {
    const md = (await import('../lib/export/card.js')).datasetCardMarkdown([ROWS[0]], { sources: [SOURCES[0]], layout: 'flat' });
    assert.match(md, /^1 3D brain-MRI image of 1 participant from 1 OpenNeuro dataset\.$/m);
    assert.ok(md.includes('`openmind export --out DIR` writes the OpenMind layout'));
    assert.ok(!md.includes('### Local folders'));
  });

  it('writes two valid PNG bar charts', () => {
    for (const name of [AGE_PLOT_FILE, SEX_PLOT_FILE]) {
      const bytes = fs.readFileSync(path.join(dir, name));
      assert.ok(bytes.subarray(0, 8).equals(PNG_SIGNATURE), `${name} signature`);
      assert.equal(bytes.toString('ascii', 12, 16), 'IHDR');
      assert.equal(bytes.readUInt32BE(16), 800);
      assert.equal(bytes.readUInt32BE(20), 450);
      const img = decodePng(bytes);
      let barPixels = 0;
      let darkPixels = 0;
      for (let i = 0; i < img.width * img.height; i++) {
        const [r, g, b] = img.pixels.subarray(i * 3, i * 3 + 3);
        if (r === BAR_COLOUR[0] && g === BAR_COLOUR[1] && b === BAR_COLOUR[2]) barPixels++;
        if (r === 0 && g === 0 && b === 0) darkPixels++;
      }
      assert.ok(barPixels > 1000, `${name} has bars`);
      assert.ok(darkPixels > 500, `${name} has axes and text`);
    }
  });

  it('decodes with PIL when it is installed', function () {
    const probe = 'import sys\nfrom PIL import Image\nfor f in sys.argv[1:]:\n    im = Image.open(f); im.load(); print(im.format, im.size[0], im.size[1], im.mode)';
    let out: string;
    try {
      out = execFileSync('/usr/bin/python3', ['-c', probe, path.join(dir, AGE_PLOT_FILE), path.join(dir, SEX_PLOT_FILE)], { encoding: 'utf8' });
    } catch (e) {
      if (/No module named|ENOENT/.test(String((e as { stderr?: string }).stderr ?? e))) return this.skip();
      throw e;
    }
    assert.deepEqual(out.trim().split('\n'), ['PNG 800 450 RGB', 'PNG 800 450 RGB']);
  });
});

describe('export: verifier', () => {
  const T1 = 'OpenMind/ds000001/sub-01/anat/sub-01_T1w.nii.gz';
  const T2 = 'OpenMind/ds000002/sub-03/anat/sub-03_T2w.nii.gz';

  async function pair(tag: string): Promise<[string, string]> {
    const a = tmpDir(`${tag}-a`);
    const b = tmpDir(`${tag}-b`);
    await buildExport(a);
    await buildExport(b);
    return [a, b];
  }

  it('finds two independently written copies identical', async () => {
    const [a, b] = await pair('same');
    const sa = await snapshotExport(a);
    const sb = await snapshotExport(b);
    assert.deepEqual(diffSnapshots(sa, sb), { identical: true, differences: [] });
    assert.deepEqual(sa.problems, []);
    assert.deepEqual(sa.csvRows?.map((r) => r.unique_id), ROWS.map((r) => String(r.unique_id)).sort());
    assert.equal(sa.parquetRows?.length, ROWS.length);
    assert.equal(sa.layout, 'openmind');
    assert.ok(sa.files.some((f) => f.path === T1 && f.size === `bytes of ${T1.slice(IMAGES_DIR.length + 1)}`.length && /^[0-9a-f]{64}$/.test(f.sha256)));
    assert.ok(sa.files.some((f) => f.path === PRETRAIN_FILE), 'pretrain_data.json compared with its root normalised');
  });

  it('reports a changed file', async () => {
    const [a, b] = await pair('changed');
    fs.writeFileSync(path.join(b, T1), 'other bytes');
    const { identical, differences } = diffSnapshots(await snapshotExport(a), await snapshotExport(b));
    assert.equal(identical, false);
    assert.equal(differences.length, 1);
    assert.match(differences[0], new RegExp(`^changed file: ${T1} \\(size ${`bytes of ${T1.slice(IMAGES_DIR.length + 1)}`.length} -> 11, sha256 [0-9a-f]{12} -> [0-9a-f]{12}\\)$`));
  });

  it('reports a missing file (and the table row that points at it)', async () => {
    const [a, b] = await pair('missing');
    fs.rmSync(path.join(b, T2));
    const { differences } = diffSnapshots(await snapshotExport(a), await snapshotExport(b));
    assert.deepEqual(differences, [`missing file: ${T2}`, `[b] row ds000002:sub-03/anat/sub-03_T2w: image_path ${T2} does not exist`]);
  });

  it('reports a duplicate row', async () => {
    const [a, b] = await pair('dup');
    const withDuplicate = [...ROWS, { ...ROWS[0] }];
    fs.writeFileSync(path.join(b, CSV_FILE), toCsv(withDuplicate));
    await writeMetadataParquet(path.join(b, PARQUET_FILE), withDuplicate);
    const { differences } = diffSnapshots(await snapshotExport(a), await snapshotExport(b), ['reference', 'run']);
    assert.equal(differences.length, 3);
    assert.match(differences[0], /^changed file: openneuro_metadata\.csv /);
    assert.match(differences[1], /^changed file: openneuro_metadata\.parquet /);
    assert.equal(differences[2], '[run] duplicate unique_id ds000001:sub-01/anat/sub-01_T1w (2 rows)');
  });

  it('reports an orphan mask folder and an image missing from the table', async () => {
    const [a, b] = await pair('orphan');
    writeFile(b, 'OpenMind/ds000002/sub-03/anat/sub-03_PDw__Data/deface_mask.nii.gz', 'mask');
    writeFile(b, 'OpenMind/ds000002/sub-03/anat/sub-03_FLAIR.nii.gz', 'image');
    // An image outside OpenMind/ (e.g. left from the old flat layout) is not in the table either.
    writeFile(b, 'ds000002/sub-03/anat/sub-03_T2w.nii.gz', 'image');
    const { differences } = diffSnapshots(await snapshotExport(a), await snapshotExport(b));
    assert.deepEqual(differences, [
      'extra file: OpenMind/ds000002/sub-03/anat/sub-03_FLAIR.nii.gz',
      'extra file: OpenMind/ds000002/sub-03/anat/sub-03_PDw__Data/deface_mask.nii.gz',
      'extra file: ds000002/sub-03/anat/sub-03_T2w.nii.gz',
      '[b] orphan mask folder OpenMind/ds000002/sub-03/anat/sub-03_PDw__Data (no image OpenMind/ds000002/sub-03/anat/sub-03_PDw.nii.gz)',
      '[b] image not in the table: OpenMind/ds000002/sub-03/anat/sub-03_FLAIR.nii.gz',
      '[b] image not in the table: ds000002/sub-03/anat/sub-03_T2w.nii.gz',
    ]);
  });

  it('reports a damaged Parquet file instead of failing', async () => {
    const [a, b] = await pair('damaged');
    fs.writeFileSync(path.join(b, PARQUET_FILE), 'not parquet');
    const { differences } = diffSnapshots(await snapshotExport(a), await snapshotExport(b));
    assert.equal(differences.length, 2);
    assert.match(differences[0], /^changed file: openneuro_metadata\.parquet /);
    assert.match(differences[1], /^\[b\] openneuro_metadata\.parquet cannot be read: /);
  });

  it('reports changed rows and a Parquet table that disagrees with the CSV', async () => {
    const [a, b] = await pair('rows');
    const changed = ROWS.map((r, i) => (i === 1 ? { ...r, age: 26, sex: 'male' } : r));
    fs.writeFileSync(path.join(b, CSV_FILE), toCsv(changed));
    const { differences } = diffSnapshots(await snapshotExport(a), await snapshotExport(b));
    assert.equal(differences.length, 3);
    assert.match(differences[0], /^changed file: openneuro_metadata\.csv /);
    assert.equal(differences[1], 'changed row ds000001:sub-01/anat/sub-01_FLAIR: age "25.0" -> "26.0"; sex "female" -> "male"');
    assert.equal(differences[2], '[b] openneuro_metadata.parquet row ds000001:sub-01/anat/sub-01_FLAIR differs from openneuro_metadata.csv in age, sex');
  });
});
