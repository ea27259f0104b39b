// The export as nnssl and data tools read it, checked with their own code: nnssl's collection classes,
// converter and IQS filter (../shared/nnssl/check_export.py), and duckdb and pyarrow on the tables
// (test/helpers/check_table_types.py). Needs python3 with pandas, duckdb and pyarrow (.ci/run installs them).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getTestEnv, withWorkers, type TestEnv } from './helpers/env.js';
import { generateSampleDataset } from '../lib/sample/dataset.js';
import { exportPathsFor, IMAGES_DIR, toCsv, type OpenMindRow } from '../lib/export/table.js';
import { writeMetadataParquet, PARQUET_FILE } from '../lib/export/parquet.js';
import { buildPretrainData, parsePretrainData, PRETRAIN_FILE, writePretrainData } from '../lib/export/nnssl.js';
import { CSV_FILE, diffSnapshots, snapshotExport } from '../lib/export/verify.js';
import { parseCsv } from '../lib/csv.js';
import { runExport, runVerify } from '../cli/commands/export.js';
import { namedRater, submitRating } from '../services/rating/ratings.js';
import { signalQualityWorkflow } from '../services/quality-signal.js';
import { qualityWorkflowId, type QualityState } from '../workflows/quality-rating.js';
import type { CrawlSummary } from '../lib/pipeline-types.js';

const CHECK_EXPORT = path.resolve('../shared/nnssl/check_export.py');
const CHECK_TYPES = path.resolve('test/helpers/check_table_types.py');

/** Run a Python checker; its whole output (it ends with a verdict line), also on failure. */
function python(script: string, dir: string, env: Record<string, string> = {}): string {
  try {
    return execFileSync('python3', [script, dir], { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return `(failed: ${err.message.split('\n')[0]})\n${err.stderr ?? ''}${err.stdout ?? ''}`;
  }
}

function lastLine(out: string): string {
  return out.trim().split('\n').pop() ?? '';
}

const tmpRoots: string[] = [];
function tmpDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `openmind-nnssl-${tag}-`));
  tmpRoots.push(d);
  return d;
}
after(() => {
  for (const d of tmpRoots) fs.rmSync(d, { recursive: true, force: true });
});

/** Summary line of check_table_types.py: rows, Parquet types, avg(age). */
function typesSummary(out: string): { rows: number; avg_age: number | null; parquet: Record<string, string>; duckdb_csv: Record<string, string> } {
  return JSON.parse(out.trim().split('\n')[0]);
}

describe('nnssl export: a table with range ages, booleans, DWI maps and unrated images', function () {
  this.timeout(60_000);
  let root: string;
  const row = (ds: string, p: string, meta: OpenMindRow): OpenMindRow => {
    const x = exportPathsFor(ds, p);
    return { image_path: x.image, anat_mask_path: x.fbMask, anon_mask_path: x.defaceMask, unique_id: `${ds}:${p.replace(/\.nii\.gz$/, '')}`, derived_from: '', ...meta };
  };
  const ROWS: OpenMindRow[] = [
    row('ds000001', 'sub-01/anat/sub-01_T1w.nii.gz', { modality: 'T1w', image_quality_score: 1.5, age: 25, sex: 'female', race: 'Asian, East', is_brain_extract: false, magnetic_field_strength: 3, repetition_time: 2.3, echo_time: 0.00298, weight: 61.5 }),
    row('ds000001', 'sub-02/ses-01/anat/sub-02_ses-01_T1w.nii.gz', { modality: 'T1w', image_quality_score: 2, age: '20-25', sex: 'male', magnetic_field_strength: 1.5, model_name: 'Signa "HDx"' }),
    row('ds000001', 'sub-02/ses-01/anat/sub-02_ses-01_FLAIR.nii.gz', { modality: 'FLAIR', image_quality_score: '', age: '20-25', sex: 'male', magnetic_field_strength: 1.5 }),
    row('ds000002', 'sub-03/anat/sub-03_T2w.nii.gz', { modality: 'T2w', image_quality_score: '', age: 62, is_brain_extract: true, magnetic_field_strength: 2.89 }),
    row('ds000002', 'sub-04/dwi/sub-04_dwi__Data/FA.nii.gz', { modality: 'FA', image_quality_score: 2.5, age: '80+', derived_from: 'ds000002:sub-04/dwi/sub-04_dwi' }),
    row('ds000002', 'sub-04/dwi/sub-04_dwi__Data/ADC.nii.gz', { modality: 'ADC', image_quality_score: '', age: '80+', derived_from: 'ds000002:sub-04/dwi/sub-04_dwi' }),
  ];

  before(async () => {
    root = tmpDir('table');
    for (const r of ROWS) {
      for (const rel of [r.image_path, r.anat_mask_path, r.anon_mask_path]) {
        const f = path.join(root, IMAGES_DIR, String(rel));
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, `bytes of ${rel}`);
      }
    }
    fs.writeFileSync(path.join(root, CSV_FILE), toCsv(ROWS));
    await writeMetadataParquet(path.join(root, PARQUET_FILE), ROWS);
    await writePretrainData(path.join(root, PRETRAIN_FILE), buildPretrainData(ROWS));
  });

  it("nnssl's converter builds the same collection, and its IQS filter drops unrated images without crashing", () => {
    const out = python(CHECK_EXPORT, root, { openmind: root });
    assert.equal(lastLine(out), 'nnssl: ok', out);
    assert.match(out, /IQS filter <= 2\.5: keeps 3 of 6 images/, out); // 1.5, 2 and 2.5; three unrated
    assert.match(out, /IQS filter <= 5\.0: keeps 3 of 6 images/, out);
  });

  it('duckdb and pyarrow read numeric ages and the same type per column from the CSV and the Parquet file', () => {
    const out = python(CHECK_TYPES, root);
    assert.equal(lastLine(out), 'types: ok', out);
    const s = typesSummary(out);
    assert.equal(s.rows, 6);
    assert.equal(s.avg_age, (25 + 62) / 2, 'ranges are not ages: avg over the two numeric ones');
    assert.equal(s.parquet.age, 'double');
    assert.equal(s.parquet.age_range, 'string');
    assert.equal(s.parquet.is_brain_extract, 'bool');
    assert.equal(s.parquet.magnetic_field_strength, 'double');
    assert.equal(s.duckdb_csv.magnetic_field_strength, 'double');
    assert.equal(s.duckdb_csv.race, 'string');
    assert.equal(s.duckdb_csv.is_brain_extract, 'boolean');
  });
});

describe('nnssl export of a crawl with rated and unrated images (Temporal + PostgreSQL)', function () {
  this.timeout(600_000);
  const DS = 'ds990015'; // 8 characters, as OpenNeuro's ids: nnssl's converter groups scores by unique_id[:8]
  let env: TestEnv;
  let dataDir: string;
  let exportDir: string;
  let out: string;
  let rated: QualityState;

  before(async function () {
    this.timeout(600_000);
    env = await getTestEnv();
    dataDir = path.join(env.tmp, 'nnssl-export');
    exportDir = path.join(dataDir, 'export');
    const dsDir = path.join(dataDir, 'bids', DS);
    await generateSampleDataset(dsDir, { subjects: 2, contrasts: ['T1w', 'FLAIR'], dwiSubjects: 1, dims: [32, 40, 32] });
    // sub-02's age known only as a range.
    const tsv = path.join(dsDir, 'participants.tsv');
    fs.writeFileSync(tsv, fs.readFileSync(tsv, 'utf8').replace(/^sub-02\t[^\t]+\t/m, 'sub-02\t20-25\t'));

    await withWorkers(
      env,
      dataDir,
      async () => {
        const client = env.temporal.client;
        const summary: CrawlSummary = await client.workflow.execute('crawl', {
          taskQueue: 'openmind-io',
          workflowId: `crawl/${DS}`,
          args: [{ name: DS, sources: [{ kind: 'local', path: dsDir, datasetId: DS }], options: { exportDir, masks: { useNetwork: false } } }],
        });
        assert.equal(summary.completed, 1, JSON.stringify(summary));
        // Two raters score the T1w images (through the rating service, then the signal the rating tool sends).
        for (const [name, score] of [['nnssl ana', 2], ['nnssl ben', 3]] as const) {
          const rater = await namedRater(env.db, name);
          await submitRating(env.db, { raterId: rater.id, datasetId: DS, modality: 'T1w', score, submissionId: `nnssl-${rater.id}-${score}` });
          await signalQualityWorkflow(client, { datasetId: DS, modality: 'T1w', rater: name, score }, { exportDir });
        }
        rated = await client.workflow.getHandle(qualityWorkflowId(DS, 'T1w')).result();
      },
      { exportDir },
    );
    out = tmpDir('out');
    await runExport(env.db, exportDir, out, { dataDir });
  });

  it('writes OpenMind\'s layout: tables, pretrain_data.json and README at the top, images under OpenMind/', () => {
    assert.deepEqual(rated, { status: 'final', score: 2.5, source: 'raters', raters: ['nnssl ana', 'nnssl ben'] });
    const top = fs.readdirSync(out).sort();
    assert.deepEqual(top, ['OpenMind', 'README.md', 'age_histogram.png', 'openneuro_metadata.csv', 'openneuro_metadata.parquet', 'pretrain_data.json', 'sex_histogram.png']);
    assert.deepEqual(fs.readdirSync(path.join(out, IMAGES_DIR)), [DS]);
    const rows = parseCsv(fs.readFileSync(path.join(out, CSV_FILE), 'utf8'));
    // 2 subjects × (T1w, FLAIR) + the T2w, ADC, FA and MD maps of sub-01's DWI.
    assert.equal(rows.length, 8);
    for (const r of rows) {
      assert.ok(r.image_path.startsWith(`${DS}/`), r.image_path);
      for (const rel of [r.image_path, r.anat_mask_path, r.anon_mask_path]) assert.ok(fs.existsSync(path.join(out, IMAGES_DIR, rel)), rel);
    }
    const scores = rows.map((r) => `${r.modality}:${r.image_quality_score}`).sort();
    assert.deepEqual(scores, ['ADC:', 'FLAIR:', 'FLAIR:', 'T1w:2.5', 'T1w:2.5', 'T2w:', 'FA:', 'MD:'].sort());
    const sub2 = rows.find((r) => r.image_path.includes('sub-02_T1w'))!;
    assert.deepEqual([sub2.age, sub2.age_range], ['', '20-25']);
    const sub1 = rows.find((r) => r.image_path.includes('sub-01_T1w'))!;
    assert.deepEqual([sub1.age, sub1.age_range], ['24.0', '']);

    const pretrain = parsePretrainData(fs.readFileSync(path.join(out, PRETRAIN_FILE), 'utf8'));
    const t1 = pretrain.datasets[DS].subjects['sub-01'].sessions['ses-DEFAULT'].images.find((i) => i.modality === 'T1w')!;
    assert.equal(t1.image_path, `$openmind/OpenMind/${DS}/sub-01/anat/sub-01_T1w.nii.gz`);
    const iqs = pretrain.datasets[DS].dataset_info?.image_quality_score ?? [];
    assert.deepEqual(iqs.map((e) => `${e.modality}|${e.derived_from ?? ''}|${e.image_quality_score}`), [
      `ADC|${DS}:sub-01/dwi/sub-01_dwi|null`, `FA|${DS}:sub-01/dwi/sub-01_dwi|null`, 'FLAIR||null', `MD|${DS}:sub-01/dwi/sub-01_dwi|null`, 'T1w||2.5', `T2w|${DS}:sub-01/dwi/sub-01_dwi|null`,
    ]);

    const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    assert.match(card, /from 1 local folder\./);
    assert.ok(card.includes(`| ${DS} | \`${path.join(dataDir, 'bids', DS)}\` |`), 'the local folder with its path');
    assert.ok(!card.includes('openneuro.org'), 'no OpenNeuro link for a local folder');
  });

  it('passes nnssl\'s check: from_dict and every path, the converter\'s collection, the IQS filter at 2.5 and 5', () => {
    const result = python(CHECK_EXPORT, out, { openmind: out });
    assert.equal(lastLine(result), 'nnssl: ok', result);
    assert.match(result, /IQS filter <= 2\.5: keeps 2 of 8 images/, result);
    assert.match(result, /IQS filter <= 5\.0: keeps 2 of 8 images/, result);
  });

  it('passes the same check after the export is moved, with the variable set to its new place', () => {
    const moved = path.join(tmpDir('moved'), 'openmind-copy');
    fs.renameSync(out, moved);
    try {
      const stale = python(CHECK_EXPORT, moved, { openmind: out });
      assert.match(lastLine(stale), /^nnssl: \d+ problems$/, 'the old place no longer resolves');
      const result = python(CHECK_EXPORT, moved, { openmind: moved });
      assert.equal(lastLine(result), 'nnssl: ok', result);
    } finally {
      fs.renameSync(moved, out);
    }
  });

  it('reads with duckdb and pyarrow: avg(age) works and every column has the CSV values\' type', () => {
    const result = python(CHECK_TYPES, out);
    assert.equal(lastLine(result), 'types: ok', result);
    const s = typesSummary(result);
    assert.equal(s.rows, 8);
    // sub-01 is 24; sub-02's range is not an age. Every row of sub-01 has 24.
    assert.equal(s.avg_age, 24);
    for (const c of ['age', 'image_quality_score', 'magnetic_field_strength', 'repetition_time', 'echo_time', 'weight', 'bmi']) assert.equal(s.parquet[c], 'double', c);
    assert.equal(s.parquet.is_brain_extract, 'bool');
    for (const c of ['age_range', 'race', 'sex', 'image_path', 'unique_id']) assert.equal(s.parquet[c], 'string', c);
  });

  it('verifies: a second export of the same crawl has 0 differences; the working export has no problems', async () => {
    const again = tmpDir('again');
    await runExport(env.db, exportDir, again, { dataDir });
    const diff = diffSnapshots(await snapshotExport(out), await snapshotExport(again));
    assert.deepEqual(diff.differences, []);
    assert.equal(await runVerify(out, again, { json: true }), true);
    const working = await snapshotExport(exportDir);
    assert.equal(working.layout, 'openmind');
    assert.deepEqual(working.problems, []);
    // A rerun into the same folder copies nothing and rewrites nothing.
    const rerun = await runExport(env.db, exportDir, out, { dataDir });
    assert.deepEqual([rerun.copied, rerun.written], [0, []]);
    await assert.rejects(runExport(env.db, exportDir, path.join(exportDir, 'sub'), { dataDir }), /must lie outside/);
  });
});
