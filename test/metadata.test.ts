// Metadata harmonization: all real skeletons, a hand-checked table of expected values, malformed input,
// inheritance and units on in-memory datasets, coverage, and the two CLI command modules.
import { loadConfig } from '../services/config.js';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import {
  coverage,
  exportRowFor,
  harmonizeDataset,
  inMemoryDatasetFiles,
  loadDatasetTextFiles,
  MetadataSourceError,
  openneuroSkeletonDir,
  rawCoverageOf,
  type HarmonizedDataset,
  type HarmonizedParticipant,
  type HValue,
  type RawCoverageInput,
} from '../lib/metadata/index.js';
import { formatHarmonized, runHarmonize } from '../cli/commands/harmonize.js';
import { formatCoverage, runMetadataCoverage } from '../cli/commands/metadata-coverage.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SKELETONS = openneuroSkeletonDir(loadConfig().sharedDir);

interface ExpectedEntry {
  pattern: string;
  dataset: string;
  participant?: string;
  image?: string;
  field: string;
  expected: unknown;
  confidence?: string;
  rule?: string;
  flags?: string[];
  source: string;
}
const EXPECTED: ExpectedEntry[] = JSON.parse(readFileSync(path.join(here, 'fixtures', 'metadata-expected.json'), 'utf8')).entries;

function isHValue(x: unknown): x is HValue<unknown> {
  return !!x && typeof x === 'object' && 'value' in x && 'provenance' in x;
}

/** Capture what a CLI command writes to stdout. */
async function captureStdout(fn: () => Promise<void>): Promise<string> {
  const original = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = original;
  }
  return out;
}

function participant(ds: HarmonizedDataset, id: string): HarmonizedParticipant {
  const p = ds.participants.find((x) => x.participantId === id);
  assert.ok(p, `${ds.datasetId}: participant ${id} not found`);
  return p;
}

describe('metadata harmonization over the 135 real skeletons', function () {
  this.timeout(120_000);
  const full = new Map<string, HarmonizedDataset>();
  const slim: HarmonizedDataset[] = [];
  const raw: RawCoverageInput[] = [];
  const failures: string[] = [];
  const needed = new Set(EXPECTED.map((e) => e.dataset));

  before(async () => {
    assert.ok(existsSync(SKELETONS), `shared skeletons missing at ${SKELETONS} (set OPENMIND_SHARED)`);
    for (const name of readdirSync(SKELETONS).filter((n) => n.endsWith('.tar.gz')).sort()) {
      try {
        const files = await loadDatasetTextFiles(path.join(SKELETONS, name));
        const ds = harmonizeDataset(files);
        raw.push(rawCoverageOf(files));
        slim.push({ ...ds, images: [] });
        if (needed.has(ds.datasetId)) full.set(ds.datasetId, ds);
      } catch (err) {
        failures.push(`${name}: ${(err as Error).stack}`);
      }
    }
  });

  it('loads and harmonizes every skeleton without a crash', () => {
    assert.deepEqual(failures, []);
    assert.equal(slim.length, 135);
    for (const ds of slim) {
      assert.match(ds.datasetId, /^ds\d{6}$/);
      assert.equal(ds.report.datasetId, ds.datasetId);
      for (const p of ds.participants) {
        assert.match(p.participantId, /^sub-/);
        for (const h of [p.sex, p.handedness, p.healthStatus]) assert.ok(isHValue(h), `${ds.datasetId} ${p.participantId}: enum field without provenance`);
      }
    }
  });

  it('keeps provenance (file, field, raw, rule, confidence) on every harmonized participant value', () => {
    for (const ds of slim) {
      for (const p of ds.participants) {
        const values: HValue<unknown>[] = [p.sex, p.handedness, p.healthStatus];
        for (const h of [p.age, p.race, p.weight, p.bmi]) if (h) values.push(h);
        for (const s of Object.values(p.sessions)) for (const h of [s.age, s.weight, s.bmi]) if (h) values.push(h);
        for (const h of values) {
          const pv = h.provenance;
          assert.ok(['exact', 'normalized', 'inferred'].includes(pv.confidence));
          assert.equal(typeof pv.rule, 'string');
          if (pv.rule !== 'missing') assert.ok(pv.file && pv.field, `${ds.datasetId} ${p.participantId}: value without source ${JSON.stringify(pv)}`);
        }
      }
    }
  });

  it('reports every participants.tsv column as recognized or unmapped', () => {
    const ds = slim.find((d) => d.datasetId === 'ds000144')!;
    const cols = ds.report.columns.filter((c) => c.file === 'participants.tsv');
    assert.equal(cols.length, 26);
    assert.equal(cols.find((c) => c.column === 'ScanAge')?.recognizedAs, 'age');
    assert.equal(cols.find((c) => c.column === 'IQ')?.recognizedAs, null);
    const hand = cols.find((c) => c.column === 'hand')!;
    assert.equal(hand.recognizedAs, 'handedness');
    assert.deepEqual(hand.unrecognizedValues, ['2']);
  });

  describe('hand-checked expected values', () => {
    it(`has at least 40 entries and one per pattern`, () => {
      assert.ok(EXPECTED.length >= 40);
      const patterns = new Set(EXPECTED.map((e) => e.pattern.split(',')[0]));
      for (const p of ['swapped columns', 'sex 1/2 with Levels', 'sex 1/2 without Levels', 'bins', '89+', '024Y', 'decimal comma', 'per-session age (ses-T1)', 'per-session age (Sess1)', 'per-session age (W1)', 'BOM + CRLF', 'CRLF', 'TE in ms', 'scanner canonicalization SIEMENS', 'sidecar inheritance']) {
        assert.ok(patterns.has(p), `no entry for pattern ${p}`);
      }
    });

    for (const e of EXPECTED) {
      const who = e.participant ?? e.image ?? '';
      it(`${e.dataset} ${who} ${e.field} (${e.pattern})`, () => {
        const ds = full.get(e.dataset);
        assert.ok(ds, `${e.dataset} not harmonized`);
        let actual: unknown;
        if (e.field === 'issue') {
          const exp = e.expected as { file: string; reason: string };
          assert.ok(
            ds.report.issues.some((i) => i.file === exp.file && i.reason === exp.reason),
            `no issue ${JSON.stringify(exp)} in ${JSON.stringify(ds.report.issues)}`,
          );
          return;
        } else if (e.field.startsWith('export.')) {
          actual = exportRowFor(ds, e.image!)[e.field.slice('export.'.length)];
        } else if (e.image) {
          const img = ds.images.find((i) => i.path === e.image);
          assert.ok(img, `image ${e.image} not found`);
          actual = e.field === 'sidecarChain' ? img.sidecarChain : (img.acquisition as Record<string, unknown>)[e.field.slice('acquisition.'.length)];
        } else {
          const p = participant(ds, e.participant!);
          const [head, ses, sub] = e.field.split('.');
          actual = head === 'sessions' ? (p.sessions[ses] as Record<string, unknown> | undefined)?.[sub] : (p as unknown as Record<string, unknown>)[head];
        }
        const value = isHValue(actual) ? actual.value : actual;
        if (e.expected === null) assert.ok(value === undefined || value === null, `expected unknown, got ${JSON.stringify(actual)}`);
        else assert.deepEqual(value, e.expected, `source: ${e.source}; got ${JSON.stringify(actual)}`);
        if (e.confidence || e.rule || e.flags) {
          assert.ok(isHValue(actual), `no provenance on ${JSON.stringify(actual)}`);
          if (e.confidence) assert.equal(actual.provenance.confidence, e.confidence);
          if (e.rule) assert.equal(actual.provenance.rule, e.rule);
          for (const f of e.flags ?? []) assert.ok(actual.provenance.flags?.includes(f), `flag ${f} missing in ${JSON.stringify(actual.provenance)}`);
        }
      });
    }
  });

  it('harmonized coverage is at least OpenNeuro’s raw coverage for age and sex', () => {
    const report = coverage(slim, raw);
    const t = report.totals;
    assert.equal(report.datasets.length, 135);
    assert.ok(t.harmonizedAge >= t.rawAge, `age: harmonized ${t.harmonizedAge} < raw ${t.rawAge}`);
    assert.ok(t.harmonizedSex >= t.rawSex, `sex: harmonized ${t.harmonizedSex} < raw ${t.rawSex}`);
    assert.ok(t.harmonizedAge > t.rawAge && t.harmonizedSex > t.rawSex);
    console.log(
      `      coverage over ${report.datasets.length} datasets, ${t.participants} participants: ` +
        `age raw ${t.rawAge} (${(100 * t.rawAgeShare).toFixed(1)}%) → ${t.harmonizedAge} (${(100 * t.harmonizedAgeShare).toFixed(1)}%); ` +
        `sex raw ${t.rawSex} (${(100 * t.rawSexShare).toFixed(1)}%) → ${t.harmonizedSex} (${(100 * t.harmonizedSexShare).toFixed(1)}%)`,
    );
    // Where the raw rule counts a non-empty cell the harmonization cannot interpret, the raw figure is higher:
    // ds003037's sex column holds undocumented 1/2 codes.
    const ds003037 = report.datasets.find((r) => r.datasetId === 'ds003037')!;
    assert.equal(ds003037.rawSex, 50);
    assert.equal(ds003037.harmonizedSex, 0);
    assert.ok(formatCoverage(report).includes('TOTAL'));
  });
});

// ---------------------------------------------------------------- in-memory datasets

const PARTICIPANTS_OK = 'participant_id\tage\tsex\nsub-01\t30\tF\nsub-02\t41\tM\n';
const T1W_TOP = JSON.stringify({ Manufacturer: 'SIEMENS', ManufacturersModelName: 'Prisma_fit', MagneticFieldStrength: 3, RepetitionTime: 2.3, EchoTime: 0.00226 });

function dataset(texts: Record<string, string>, extraPaths: string[] = []): HarmonizedDataset {
  return harmonizeDataset(inMemoryDatasetFiles('dsTEST', texts, extraPaths));
}

describe('metadata harmonization on malformed input', () => {
  const images = ['sub-01/anat/sub-01_T1w.nii.gz', 'sub-02/anat/sub-02_T1w.nii.gz'];

  it('records an unreadable (binary) participants.tsv and still harmonizes sidecars', () => {
    const junk = String.fromCharCode(0, 1, 2, 255, 254, 0, 7, 8) + '\u0000\u0001PK\u0003\u0004' + 'x'.repeat(10);
    const ds = dataset({ 'participants.tsv': junk, 'T1w.json': T1W_TOP }, images);
    assert.deepEqual(ds.report.issues.map((i) => [i.file, i.reason]), [['participants.tsv', 'binary_content']]);
    assert.equal(ds.participants.length, 2); // subjects from paths
    assert.equal(ds.participants[0].sex.value, 'unknown');
    assert.equal(ds.images.length, 2);
    assert.equal(ds.images[0].acquisition.manufacturer?.value, 'Siemens');
  });

  it('pads ragged rows, records them, and keeps their values', () => {
    const tsv = 'participant_id\tage\tsex\thandedness\nsub-01\t30\tF\nsub-02\t41\tM\tR\textra\n';
    const ds = dataset({ 'participants.tsv': tsv }, images);
    const issue = ds.report.issues.find((i) => i.reason === 'ragged_rows');
    assert.ok(issue && issue.file === 'participants.tsv' && /lines 2, 3/.test(issue.message), JSON.stringify(ds.report.issues));
    assert.deepEqual(participant(ds, 'sub-01').age?.value, { years: 30 });
    assert.equal(participant(ds, 'sub-01').handedness.value, 'unknown');
    assert.equal(participant(ds, 'sub-02').handedness.value, 'right');
  });

  it('records an invalid JSON sidecar; inherited values from valid sidecars still land', () => {
    const ds = dataset({ 'participants.tsv': PARTICIPANTS_OK, 'T1w.json': T1W_TOP, 'sub-01/anat/sub-01_T1w.json': '{"RepetitionTime": 2.4,,, oops' }, images);
    assert.deepEqual(ds.report.issues.map((i) => [i.file, i.reason]), [['sub-01/anat/sub-01_T1w.json', 'invalid_json']]);
    const img = ds.images.find((i) => i.subject === 'sub-01')!;
    assert.equal(img.acquisition.repetitionTime?.value, 2.3);
    assert.deepEqual(img.sidecarChain, ['T1w.json']);
    assert.deepEqual(participant(ds, 'sub-01').age?.value, { years: 30 });
  });

  it('records an invalid participants.json and falls back to inference', () => {
    const ds = dataset({ 'participants.tsv': 'participant_id\tsex\nsub-01\t1\nsub-02\tF\n', 'participants.json': '{"sex": {"Levels": {"1": "male"' }, images);
    const reasons = ds.report.issues.map((i) => i.reason);
    assert.ok(reasons.includes('invalid_json') && reasons.includes('participants_json_invalid'), JSON.stringify(ds.report.issues));
    assert.equal(participant(ds, 'sub-01').sex.value, 'unknown'); // the Levels that would explain '1' were unreadable
    assert.deepEqual(participant(ds, 'sub-01').sex.provenance.flags, ['undocumented_code']);
    assert.equal(participant(ds, 'sub-02').sex.value, 'female');
  });

  it('handles CRLF, a BOM, empty cells and a JSON array as a sidecar', () => {
    const tsv = '\uFEFFparticipant_id\tage\tsex\r\nsub-01\t\tF\r\nsub-02\t41\t\r\n';
    const ds = dataset({ 'participants.tsv': tsv, 'T1w.json': '[1, 2, 3]' }, images);
    assert.equal(participant(ds, 'sub-01').age, undefined);
    assert.equal(participant(ds, 'sub-01').sex.value, 'female');
    assert.equal(participant(ds, 'sub-02').sex.value, 'unknown');
    assert.equal(participant(ds, 'sub-02').sex.provenance.rule, 'missing');
    assert.deepEqual(ds.report.issues.map((i) => i.reason), ['json_not_object']);
    assert.equal(ds.report.columns.find((c) => c.column === 'participant_id')?.mapped, 2);
  });

  it('records a participants.tsv without a participant_id column', () => {
    const ds = dataset({ 'participants.tsv': 'name\tage\nalice\t30\n' }, images);
    assert.deepEqual(ds.report.issues.map((i) => i.reason), ['missing_participant_id']);
    assert.equal(ds.participants.length, 2);
  });

  it('never throws on junk in any file', () => {
    const junk = ['', '\t\t\n\n', '{', '\u0000\u0000', 'a\tb\n' + 'c\t'.repeat(500), '{"Levels": 5, "sex": null}', 'null', '"text"', '\r\r\r'];
    for (const j of junk) {
      for (const file of ['participants.tsv', 'participants.json', 'T1w.json', 'sub-01/sub-01_sessions.tsv', 'dataset_description.json', 'sub-01/anat/sub-01_T1w.json']) {
        assert.doesNotThrow(() => dataset({ 'participants.tsv': PARTICIPANTS_OK, [file]: j }, images), `${file}: ${JSON.stringify(j)}`);
      }
    }
  });
});

describe('metadata harmonization rules on in-memory datasets', () => {
  it('applies BIDS inheritance: dataset, subject, session and leaf sidecars, nearer wins, entities must match', () => {
    const img = 'sub-01/ses-1/anat/sub-01_ses-1_acq-fast_T1w.nii.gz';
    const other = 'sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz';
    const ds = dataset(
      {
        'T1w.json': T1W_TOP,
        'acq-fast_T1w.json': JSON.stringify({ FlipAngle: 9 }),
        'sub-01/sub-01_T1w.json': JSON.stringify({ RepetitionTime: 2.4, PhaseEncodingDirection: 'j-' }),
        'sub-01/ses-1/sub-01_ses-1_T1w.json': JSON.stringify({ EchoTime: 0.003 }),
        'sub-01/ses-1/anat/sub-01_ses-1_acq-fast_T1w.json': JSON.stringify({ InversionTime: 0.9, SkullStripped: true }),
        'task-rest_bold.json': JSON.stringify({ Manufacturer: 'Philips' }),
      },
      [img, other],
    );
    const a = ds.images.find((i) => i.path === img)!;
    assert.deepEqual(a.sidecarChain, ['T1w.json', 'acq-fast_T1w.json', 'sub-01/sub-01_T1w.json', 'sub-01/ses-1/sub-01_ses-1_T1w.json', 'sub-01/ses-1/anat/sub-01_ses-1_acq-fast_T1w.json']);
    assert.equal(a.session, 'ses-1');
    assert.equal(a.acquisition.repetitionTime?.value, 2.4);
    assert.equal(a.acquisition.repetitionTime?.provenance.file, 'sub-01/sub-01_T1w.json');
    assert.equal(a.acquisition.echoTime?.value, 0.003);
    assert.equal(a.acquisition.flipAngle?.value, 9);
    assert.equal(a.acquisition.inversionTime?.value, 0.9);
    assert.equal(a.acquisition.manufacturer?.value, 'Siemens');
    assert.equal(a.acquisition.modelName?.value, 'Prisma fit');
    assert.equal(a.acquisition.phaseEncodingDirection?.value, 'j-');
    assert.equal(a.acquisition.isBrainExtract?.value, true);
    assert.equal(a.acquisition.isBrainExtract?.provenance.confidence, 'exact');
    const b = ds.images.find((i) => i.path === other)!;
    assert.equal(b.acquisition.flipAngle, undefined, 'acq-fast sidecar must not apply without acq-fast');
    assert.equal(b.acquisition.isBrainExtract, undefined);
  });

  it('normalizes a RepetitionTime of 2000 (ms) to 2 s, with a flag', () => {
    const ds = dataset({ 'T1w.json': JSON.stringify({ RepetitionTime: 2000, EchoTime: 2.9, InversionTime: 900, FlipAngle: '8', MagneticFieldStrength: '1.5T' }) }, ['sub-01/anat/sub-01_T1w.nii.gz']);
    const acq = ds.images[0].acquisition;
    assert.equal(acq.repetitionTime?.value, 2);
    assert.deepEqual(acq.repetitionTime?.provenance.flags, ['units_ms_to_s']);
    assert.equal(acq.repetitionTime?.provenance.confidence, 'normalized');
    assert.equal(acq.echoTime?.value, 0.0029);
    assert.equal(acq.inversionTime?.value, 0.9);
    assert.equal(acq.flipAngle?.value, 8);
    assert.equal(acq.magneticFieldStrength?.value, 1.5);
    assert.equal(ds.report.acquisition.flags['repetitionTime:units_ms_to_s'], 1);
  });

  it('canonicalizes scanner names and leaves unknown makers verbatim', () => {
    const names: Record<string, string> = {
      SIEMENS: 'Siemens',
      'Siemens Healthineers': 'Siemens',
      'GE MEDICAL SYSTEMS': 'GE',
      'Philips Healthcare': 'Philips',
      'TOSHIBA_MEC': 'Canon/Toshiba',
      'Canon Medical Systems': 'Canon/Toshiba',
      'Acme Magnets': 'Acme Magnets',
    };
    const texts: Record<string, string> = {};
    const paths: string[] = [];
    Object.keys(names).forEach((raw, i) => {
      texts[`sub-${i}/anat/sub-${i}_T1w.json`] = JSON.stringify({ Manufacturer: raw });
      paths.push(`sub-${i}/anat/sub-${i}_T1w.nii.gz`);
    });
    const ds = dataset(texts, paths);
    Object.entries(names).forEach(([raw, canonical], i) => {
      const m = ds.images.find((img) => img.subject === `sub-${i}`)!.acquisition.manufacturer!;
      assert.equal(m.value, canonical, raw);
      assert.equal(m.provenance.raw, raw);
    });
  });

  it('reads gender_F indicator columns and 1/2 codes with and without Levels', () => {
    const withLevels = dataset({
      'participants.tsv': 'participant_id\tgender_F\tsex\nsub-01\t1\t2\nsub-02\t0\t1\n',
      'participants.json': JSON.stringify({ sex: { Levels: { '1': 'male', '2': 'female' } } }),
    });
    assert.equal(participant(withLevels, 'sub-01').sex.value, 'female');
    assert.equal(participant(withLevels, 'sub-01').sex.provenance.rule, 'indicator_column');
    assert.equal(participant(withLevels, 'sub-02').sex.value, 'male');
    const codesOnly = dataset({ 'participants.tsv': 'participant_id\tsex\nsub-01\t2\n' });
    assert.equal(participant(codesOnly, 'sub-01').sex.value, 'unknown');
    assert.deepEqual(participant(codesOnly, 'sub-01').sex.provenance.flags, ['undocumented_code']);
    const levelsOnly = dataset({ 'participants.tsv': 'participant_id\tsex\nsub-01\t2\n', 'participants.json': JSON.stringify({ sex: { Levels: { '1': 'male', '2': 'female' } } }) });
    assert.equal(participant(levelsOnly, 'sub-01').sex.value, 'female');
  });

  it('gives conflicting joined values no sex, and age units from participants.json', () => {
    const ds = dataset({
      'participants.tsv': 'participant_id\tsex\tage\nsub-01\tF,M,F\t30,31\nsub-02\tM,M\t40,40\nsub-03\tf\t18\n',
      'participants.json': JSON.stringify({ age: { Units: 'months' } }),
    });
    assert.equal(participant(ds, 'sub-01').sex.value, 'unknown');
    assert.deepEqual(participant(ds, 'sub-01').sex.provenance.flags, ['conflicting_values']);
    assert.deepEqual(participant(ds, 'sub-02').age?.value, { years: 3.3333 });
    assert.deepEqual(participant(ds, 'sub-03').age?.value, { years: 1.5 });
    assert.ok(participant(ds, 'sub-03').age?.provenance.flags?.includes('units_months'));
  });

  it('exports one flat row: per-session age first, ranges as min-max, unknown as empty', () => {
    const ds = dataset(
      {
        'participants.tsv': 'participant_id\tage\tage_ses-2\tsex\thandedness\tgroup\tweight\nsub-01\t20-25\t23\tFemale\tR\tpatient\t61,5\nsub-02\tn/a\tn/a\tD\tn/a\tcontrol\tn/a\n',
        'T1w.json': T1W_TOP,
      },
      ['sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz', 'sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz', 'sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz'],
    );
    const r1 = exportRowFor(ds, 'sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz');
    assert.deepEqual(r1, {
      age: '20-25',
      sex: 'female',
      handedness: 'right',
      race: '',
      weight: 61.5,
      bmi: '',
      health_status: 'patient',
      is_brain_extract: '',
      manufacturer: 'Siemens',
      model_name: 'Prisma fit',
      phase_encoding_direction: '',
      magnetic_field_strength: 3,
      repetition_time: 2.3,
      echo_time: 0.00226,
    });
    assert.equal(exportRowFor(ds, 'sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz').age, 23);
    assert.equal(exportRowFor(ds, 'dsTEST/sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz').age, 23);
    const r2 = exportRowFor(ds, 'sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz');
    assert.equal(r2.age, '');
    assert.equal(r2.sex, '');
    assert.equal(r2.health_status, 'healthy');
    assert.equal(exportRowFor(ds, 'sub-01/ses-2/dwi/not-listed_dwi.nii.gz').age, 23); // participant values even for unknown paths
  });
});

describe('metadata sources', () => {
  let tmp = '';
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'openmind-metadata-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  function writeTree(root: string, files: Record<string, string>): void {
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      writeFileSync(path.join(root, p), text);
    }
  }

  it('loads a BIDS folder and a skeleton tar.gz (files.tsv lists absent images; >1 MB entries skipped)', async () => {
    const tree = {
      'participants.tsv': PARTICIPANTS_OK,
      'T1w.json': T1W_TOP,
      'files.tsv': 'path\tsize\tkey\nparticipants.tsv\t40\t\nT1w.json\t10\t\nsub-01/anat/sub-01_T1w.nii.gz\t123\tMD5E-s123--x.nii.gz\nsub-02/anat/sub-02_T1w.nii.gz\t123\t\nhuge.json\t2000000\t\n',
      'huge.json': JSON.stringify({ pad: 'x'.repeat(1_100_000) }),
    };
    writeTree(path.join(tmp, 'dsSKEL'), tree);
    await tar.c({ gzip: true, file: path.join(tmp, 'dsSKEL.tar.gz'), cwd: tmp }, ['dsSKEL']);
    const fromTar = await loadDatasetTextFiles(path.join(tmp, 'dsSKEL.tar.gz'));
    assert.equal(fromTar.datasetId, 'dsSKEL');
    assert.ok(fromTar.paths().includes('sub-01/anat/sub-01_T1w.nii.gz'));
    assert.ok(!fromTar.paths().includes('files.tsv'));
    assert.equal(fromTar.readText('huge.json'), undefined);
    assert.equal(fromTar.readText('T1w.json'), T1W_TOP);
    const dsTar = harmonizeDataset(fromTar);
    assert.equal(dsTar.images.length, 2);
    assert.equal(dsTar.images[0].acquisition.manufacturer?.value, 'Siemens');

    const fromFolder = await loadDatasetTextFiles(path.join(tmp, 'dsSKEL'));
    const dsFolder = harmonizeDataset(fromFolder);
    assert.deepEqual(dsFolder.participants, dsTar.participants);
    assert.deepEqual(dsFolder.images, dsTar.images);
    // Objects can be spread (the lead's activities override datasetId this way).
    assert.equal(harmonizeDataset({ ...fromFolder, datasetId: 'dsOTHER' }).datasetId, 'dsOTHER');
  });

  it('rejects a missing path with a reason code', async () => {
    await assert.rejects(loadDatasetTextFiles(path.join(tmp, 'nope')), (err: unknown) => err instanceof MetadataSourceError && err.code === 'source_not_found');
  });

  it('CLI modules print JSON and a readable summary, and coverage for a folder', async () => {
    writeTree(path.join(tmp, 'cov', 'dsA'), { 'participants.tsv': 'participant_id\tAge\tgender\nsub-01\t30\tF\n', 'sub-01/anat/sub-01_T1w.nii.gz': '' });
    const json = JSON.parse(await captureStdout(() => runHarmonize(path.join(tmp, 'cov', 'dsA'), { json: true }))) as HarmonizedDataset;
    assert.equal(json.participants[0].sex.value, 'female');
    const text = await captureStdout(() => runHarmonize(path.join(tmp, 'cov', 'dsA'), {}));
    assert.match(text, /sub-01/);
    assert.match(text, /"Age" → age/);
    assert.equal(formatHarmonized(json), text.trimEnd());
    const cov = JSON.parse(await captureStdout(() => runMetadataCoverage(path.join(tmp, 'cov'), { json: true })));
    assert.deepEqual(
      { raw: [cov.totals.rawAge, cov.totals.rawSex], harmonized: [cov.totals.harmonizedAge, cov.totals.harmonizedSex] },
      { raw: [0, 0], harmonized: [1, 1] },
    );
  });
});
