// `openmind demo` (npm run demo): the main job on embedded defaults. Generates the sample BIDS
// dataset, starts a persistent Temporal dev server + workers + database, crawls it, prints a summary.
import fs from 'node:fs';
import { attemptCountsOfDataset } from '../../db/repositories/scan-events.js';
import path from 'node:path';
import { dataPaths, loadConfig } from '../../services/config.js';
import { generateSampleDataset } from '../../lib/sample/dataset.js';
import { startRuntime } from '../runtime.js';
import { scansOf } from '../../db/repositories/scans.js';
import { followCrawl, printCrawlSummary, startCrawl } from './crawl.js';

export async function runDemo(opts: { subjects?: number; exportDir?: string }): Promise<void> {
  const config = loadConfig();
  const paths = dataPaths(config.dataDir);
  const sampleDir = path.join(paths.samples, 'openmind-sample');
  if (!fs.existsSync(path.join(sampleDir, 'dataset_description.json'))) {
    console.error(`generating the sample dataset in ${sampleDir} …`);
    await generateSampleDataset(sampleDir, { subjects: opts.subjects ?? 3 });
  }
  console.error(`masks network: MindGrab from ${config.modelsDir} (${config.modelsDirSource})`);
  const rt = await startRuntime(config, { log: (s) => console.error(s) });
  try {
    const exportDir = path.resolve(opts.exportDir ?? paths.export);
    const workflowId = await startCrawl(rt.client, { name: 'demo', sources: [{ kind: 'local', path: sampleDir, datasetId: 'openmind-sample' }], options: { exportDir } });
    const summary = await followCrawl(rt.client, rt.db, workflowId);
    const scans = await scansOf(rt.db, 'openmind-sample');
    const events = await attemptCountsOfDataset(rt.db, 'openmind-sample');
    console.log('');
    console.log(`${'scan'.padEnd(48)} ${'modality'.padEnd(8)} ${'status'.padEnd(10)} ${'dims'.padEnd(18)} step attempts`);
    for (const s of scans) {
      const ev = events.filter((e) => e.scan_id === s.id).map((e) => `${e.status}:${e.n}`).join(' ');
      console.log(`${s.id.padEnd(48)} ${s.modality.padEnd(8)} ${(s.status + (s.failure_reason ? `(${s.failure_reason})` : '')).padEnd(10)} ${JSON.stringify(s.dims ?? '').padEnd(18)} ${ev}`);
    }
    console.log('');
    printCrawlSummary(summary);
    console.log('');
    console.log(`export:         ${exportDir}`);
    console.log(`metadata table: ${path.join(exportDir, 'openneuro_metadata.csv')}`);
    console.log(`database:       ${config.databaseUrl ?? `PGlite in ${paths.pglite}`}`);
    if (rt.embedded) {
      console.log(`Temporal UI:    ${rt.uiUrl} (state kept in ${paths.temporalDb}; \`npx openmind server\` serves it again after this command ends)`);
    } else console.log(`Temporal:       ${rt.address}`);
    console.log(`masks network:  ${config.modelsDir} (${config.modelsDirSource})`);
    console.log(`audit a scan:   npx openmind history ${scans[0]?.id ?? '<scan-id>'}`);
  } finally {
    await rt.close();
  }
}
