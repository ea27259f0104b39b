// `openmind metadata-coverage [dir]`: harmonize every dataset skeleton (or BIDS folder) in a folder and compare
// the share of participants with an age / a sex under OpenNeuro's raw header rule and after harmonization.

import { loadConfig } from '../../services/config.js';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  coverage,
  harmonizeDataset,
  loadDatasetTextFiles,
  openneuroSkeletonDir,
  rawCoverageOf,
  type CoverageReport,
  type CoverageRow,
  type HarmonizedDataset,
  type RawCoverageInput,
} from '../../lib/metadata/index.js';

/** Dataset sources in a folder: `*.tar.gz` / `*.tgz` skeletons and sub-folders, sorted. */
export function datasetSourcesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .map((name) => path.join(dir, name))
    .filter((p) => /\.(tar\.gz|tgz)$/i.test(p) || statSync(p).isDirectory())
    .sort();
}

/** Harmonize each source in turn (keeping only what coverage needs) and compute coverage. */
export async function coverageForFolder(dir: string): Promise<CoverageReport> {
  const datasets: HarmonizedDataset[] = [];
  const raw: RawCoverageInput[] = [];
  for (const source of datasetSourcesIn(dir)) {
    const files = await loadDatasetTextFiles(source);
    const ds = harmonizeDataset(files);
    raw.push(rawCoverageOf(files));
    datasets.push({ ...ds, images: [] }); // images are not needed for coverage; drop them to bound memory
  }
  return coverage(datasets, raw);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);

function rowLine(r: CoverageRow): string {
  return (
    `${r.datasetId.padEnd(10)} ${String(r.participants).padStart(6)}  ` +
    `${pct(r.rawAgeShare)} ${pct(r.harmonizedAgeShare)}   ${pct(r.rawSexShare)} ${pct(r.harmonizedSexShare)}`
  );
}

export function formatCoverage(report: CoverageReport): string {
  const header = `${'dataset'.padEnd(10)} ${'n'.padStart(6)}  ${'age raw'.padStart(7)} ${'age harm'.padStart(7)}   ${'sex raw'.padStart(7)} ${'sex harm'.padStart(7)}`;
  const t = report.totals;
  return [
    header,
    ...report.datasets.map(rowLine),
    '-'.repeat(header.length),
    rowLine(t),
    `participants with age: raw ${t.rawAge} → harmonized ${t.harmonizedAge}; with sex: raw ${t.rawSex} → harmonized ${t.harmonizedSex} (of ${t.participants})`,
  ].join('\n');
}

export async function runMetadataCoverage(dir: string, opts: { json?: boolean }): Promise<void> {
  const report = await coverageForFolder(dir || openneuroSkeletonDir(loadConfig().sharedDir));
  process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatCoverage(report) + '\n');
}
