#!/usr/bin/env node
// The `openmind` command line. Each command is a thin wrapper over services/, workflows and lib/.
import path from 'node:path';
import { Command } from 'commander';
import { dataPaths, loadConfig } from '../services/config.js';
import { openAppDatabase } from '../services/database.js';
import { startRuntime } from './runtime.js';
import { crawlWorkflowId, followCrawl, maskMethodsLine, printCrawlSummary, sourcesFromArgs, startCrawl } from './commands/crawl.js';
import { formatHistory, scanHistory } from './commands/history.js';
import { runDemo } from './commands/demo.js';
import { generateSampleDataset } from '../lib/sample/dataset.js';
import { startDevServer } from '../services/temporal.js';
import type { CrawlInput } from '../workflows/crawl.js';
import { installLogger } from '../services/logging.js';
import { findCrawl, listCrawls } from '../db/repositories/crawls.js';
import { scanFailureCounts } from '../db/repositories/scans.js';
import { maskMethodCounts } from '../db/repositories/derived-files.js';

// The CLI shows errors only; worker processes (workers/*.ts) log warnings too.
installLogger((process.env.OPENMIND_LOG_LEVEL ?? 'ERROR').toUpperCase() as 'ERROR');

const program = new Command();
program
  .name('openmind')
  .description('OpenMind pipeline: OpenNeuro brain-MRI studies into an SSL-ready 3D dataset, as Temporal workflows.\n' +
    'Without TEMPORAL_ADDRESS a Temporal dev server is started (state in $OPENMIND_DATA_DIR/temporal.db);\n' +
    'without DATABASE_URL an embedded PGlite database is used.')
  .showHelpAfterError();

program
  .command('demo')
  .description('run the whole pipeline on a generated sample dataset (embedded Temporal, workers and database)')
  .option('--subjects <n>', 'subjects in the sample dataset', (v) => parseInt(v, 10), 3)
  .option('--export-dir <dir>', 'export folder (default $OPENMIND_DATA_DIR/export)')
  .action(async (o) => runDemo({ subjects: o.subjects, exportDir: o.exportDir }));

program
  .command('crawl')
  .description('crawl datasets: local BIDS folders and/or OpenNeuro ids, then wait with a progress bar')
  .argument('[folders...]', 'local BIDS dataset folders')
  .option('--name <name>', 'crawl name (workflow id crawl/<name>)', `crawl-${new Date().toISOString().slice(0, 10)}`)
  .option('--openneuro <ids...>', 'OpenNeuro dataset ids, or "all"')
  .option('--endpoint <url>', 'OpenNeuro endpoint (default $OPENNEURO_ENDPOINT or https://openneuro.org)')
  .option('--datasets-at-once <n>', 'datasets processed at once', (v) => parseInt(v, 10), 2)
  .option('--scans-at-once <n>', 'scans processed at once per dataset', (v) => parseInt(v, 10), 8)
  .option('--export-dir <dir>', 'export folder')
  .option('--intake-only', 'only download, verify and validate; process in a later run')
  .option('--no-network-masks', 'masks without the MindGrab network (classical brain estimate)')
  .option('--allow-root <dirs...>', 'folders outside the dataset folders that their links may point into (e.g. a DataLad annex on other storage); other links out are refused as outside_dataset')
  .option('--no-wait', 'start the crawl and return')
  .option('--with-workers', 'also run workers in this process (default when no TEMPORAL_ADDRESS)')
  .action(async (folders: string[], o) => {
    const config = loadConfig();
    const sources = sourcesFromArgs(folders, o.openneuro, o.endpoint ?? process.env.OPENNEURO_ENDPOINT, o.allowRoot ?? []);
    if (sources.length === 0) throw new Error('nothing to crawl: give BIDS folders and/or --openneuro <ids|all>');
    const input: CrawlInput = {
      name: o.name,
      sources,
      options: {
        datasetConcurrency: o.datasetsAtOnce, scanConcurrency: o.scansAtOnce, exportDir: o.exportDir ? path.resolve(o.exportDir) : undefined,
        intakeOnly: o.intakeOnly, ...(o.networkMasks === false ? { masks: { useNetwork: false } } : {}),
      },
    };
    const rt = await startRuntime(config, { workers: o.withWorkers, log: (s) => console.error(s) });
    try {
      const id = await startCrawl(rt.client, input);
      console.error(`started ${id}${rt.uiUrl ? ` — UI ${rt.uiUrl}` : ''}`);
      if (o.wait === false && !rt.embedded) return;
      printCrawlSummary(await followCrawl(rt.client, rt.db, id));
    } finally {
      await rt.close();
    }
  });

program
  .command('resume')
  .description('rerun a crawl with its recorded input; finished work is found by key and hash and skipped')
  .argument('<crawl>', 'crawl name')
  .option('--with-workers', 'also run workers in this process (default when no TEMPORAL_ADDRESS)')
  .action(async (name: string, o) => {
    const config = loadConfig();
    const rt = await startRuntime(config, { workers: o.withWorkers, log: (s) => console.error(s) });
    try {
      const row = await findCrawl(rt.db, name);
      if (!row) throw new Error(`no crawl named ${name} in the database; \`openmind status\` lists crawls`);
      const id = await startCrawl(rt.client, row.input as CrawlInput);
      console.error(`resumed ${id}`);
      printCrawlSummary(await followCrawl(rt.client, rt.db, id));
    } finally {
      await rt.close();
    }
  });

program
  .command('history')
  .description("print a scan's whole timeline: every step attempt, its worker, timing, hashes, errors")
  .argument('<scan-id>', 'e.g. ds000001:sub-01/anat/sub-01_T1w')
  .option('--json', 'machine-readable output')
  .action(async (scanId: string, o) => {
    const db = await openAppDatabase(loadConfig());
    try {
      const h = await scanHistory(db, scanId);
      if (o.json) console.log(JSON.stringify(h, null, 2));
      else console.log(formatHistory(h, scanId));
      if (!h.scan) process.exitCode = 1;
    } finally {
      await db.destroy();
    }
  });

program
  .command('status')
  .description('crawls and their progress, with failures grouped by reason')
  .argument('[crawl]', 'crawl name')
  .option('--json', 'machine-readable output')
  .action(async (name: string | undefined, o) => {
    const db = await openAppDatabase(loadConfig());
    try {
      const crawls = await listCrawls(db, name);
      const failures = await scanFailureCounts(db);
      if (o.json) return console.log(JSON.stringify({ crawls, failures, maskMethods: await maskMethodCounts(db) }, null, 2));
      for (const c of crawls) {
        const s = c.summary as any;
        console.log(`${c.id.padEnd(24)} ${c.status.padEnd(10)} ${s ? `${s.completed}/${s.datasets} datasets, ${s.scansCompleted} scans done, ${s.scansFailed} failed` : ''}`);
      }
      const masks = maskMethodsLine(await maskMethodCounts(db));
      if (masks) console.log(`\n${masks}`);
      if (failures.length) {
        console.log('\nfailed scans by reason:');
        for (const f of failures) console.log(`  ${String(f.n).padStart(6)}  ${f.failure_step}: ${f.failure_reason}`);
      }
    } finally {
      await db.destroy();
    }
  });

program
  .command('worker')
  .description('run workers for task queues (needs TEMPORAL_ADDRESS)')
  .option('--queues <list>', 'comma-separated: io,cpu,gpu', 'io,cpu,gpu')
  .action(async (o) => {
    const { startWorkerProcess } = await import('../workers/start.js');
    await startWorkerProcess(o.queues.split(',').map((q: string) => q.trim()) as any);
  });

program
  .command('server')
  .description('serve the Temporal dev server and UI on the persistent state in the data folder')
  .option('--port <n>', 'frontend port', (v) => parseInt(v, 10), 7233)
  .option('--ui-port <n>', 'UI port', (v) => parseInt(v, 10), 8233)
  .action(async (o) => {
    const config = loadConfig();
    const s = await startDevServer({ cli: config.temporalCli, dbFile: dataPaths(config.dataDir).temporalDb, port: o.port, uiPort: o.uiPort });
    if (s.notice) console.log(s.notice);
    console.log(`Temporal at ${s.address}, UI at ${s.uiUrl}; Ctrl-C stops it`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    await s.stop();
  });

program
  .command('sample')
  .description('write the generated sample BIDS dataset to a folder')
  .argument('<dir>')
  .option('--subjects <n>', 'subjects', (v) => parseInt(v, 10), 3)
  .option('--tiny', 'tiny 4x4x4 images (orchestration benchmark)')
  .action(async (dir: string, o) => {
    const r = await generateSampleDataset(path.resolve(dir), { subjects: o.subjects, tiny: o.tiny });
    console.log(`${r.images.length} images in ${r.dir}`);
  });

program
  .command('harmonize')
  .description('harmonized participants, sessions and per-image acquisition values with provenance (no Temporal or database)')
  .argument('<target>', 'a BIDS folder, a skeleton .tar.gz, or an id of ../shared/openneuro')
  .option('--json', 'machine-readable output')
  .action(async (target: string, o) => (await import('./commands/harmonize.js')).runHarmonize(target, { json: o.json }));

program
  .command('metadata-coverage')
  .description('share of participants with age and sex, OpenNeuro raw rule against harmonized, over a folder of skeletons')
  .argument('[dir]', 'folder of dataset skeletons (default ../shared/openneuro)')
  .option('--json', 'machine-readable output')
  .action(async (dir: string | undefined, o) => (await import('./commands/metadata-coverage.js')).runMetadataCoverage(dir ?? '', { json: o.json }));

program
  .command('fake-openneuro')
  .description('serve a local OpenNeuro-compatible API (GraphQL + S3-style files) from the real dataset skeletons')
  .option('--skeletons <dir>', 'folder of <ds>.tar.gz skeletons (default ../shared/openneuro)')
  .option('--port <n>', 'port (0 = any free port)', (v) => parseInt(v, 10), 9877)
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--datasets <ids>', 'comma-separated dataset ids to serve (default all)')
  .option('--faults <spec>', 'fault injection, e.g. "error=0.1,429=0.05,reset=0.05,truncate=0.05,html504=0.05,trickle=0.02,versioned404=0.1,gqltimeout-recursive=1,seed=42"')
  .option('--replicate <n>', 'extra datasets cloned from the skeletons under new ids', (v) => parseInt(v, 10))
  .action(async (o) => (await import('./commands/fake-openneuro.js')).runFakeOpenNeuro(o));

program
  .command('schedule')
  .description('a Temporal Schedule that re-crawls for new snapshots (unchanged snapshots are skipped)')
  .argument('[folders...]', 'local BIDS dataset folders')
  .option('--name <name>', 'crawl name; the schedule id is schedule/<name>', 'openneuro')
  .option('--every <interval>', 'interval, e.g. 7d, 12h', '7d')
  .option('--openneuro <ids...>', 'OpenNeuro dataset ids, or "all"', ['all'])
  .option('--endpoint <url>', 'OpenNeuro endpoint')
  .option('--delete', 'delete the schedule instead')
  .action(async (folders: string[], o) => {
    const config = loadConfig();
    const rt = await startRuntime(config, { workers: false, log: (s) => console.error(s) });
    try {
      const scheduleId = `schedule/${o.name}`;
      if (o.delete) {
        await rt.client.schedule.getHandle(scheduleId).delete();
        return console.log(`deleted ${scheduleId}`);
      }
      const input: CrawlInput = { name: o.name, sources: sourcesFromArgs(folders, o.openneuro, o.endpoint ?? process.env.OPENNEURO_ENDPOINT) };
      await rt.client.schedule.create({
        scheduleId,
        spec: { intervals: [{ every: o.every }] },
        action: { type: 'startWorkflow', workflowType: 'crawl', taskQueue: 'openmind-io', workflowId: crawlWorkflowId(o.name), args: [input] },
        policies: { overlap: 'SKIP' as any },
      });
      console.log(`created ${scheduleId}: crawl ${o.name} every ${o.every}${rt.embedded ? ' (embedded dev server: it runs while `openmind server` or workers run)' : ''}`);
    } finally {
      await rt.close();
    }
  });

program
  .command('export')
  .description('write an export (images, masks, CSV, Parquet, pretrain_data.json, dataset card) filtered by modality, quality, age, sex, health, field strength, derived')
  .requiredOption('--out <dir>', 'output folder')
  .option('--modality <list>', 'modalities, comma-separated (e.g. T1w,FLAIR)')
  .option('--max-quality <n>', 'keep images with an image_quality_score at most n (1 = best)')
  .option('--age <range>', 'age range in years, e.g. 20-40, 60-, -18')
  .option('--sex <list>', 'female, male, other, unknown')
  .option('--health <list>', 'health status, e.g. healthy')
  .option('--field-strength <list>', 'field strengths in T, e.g. 3,1.5')
  .option('--derived <yes|no>', 'yes: only DWI-derived maps; no: none of them')
  .action(async (o) => {
    const config = loadConfig();
    const db = await openAppDatabase(config);
    try {
      const { runExport } = await import('./commands/export.js');
      await runExport(db, dataPaths(config.dataDir).export, o.out, {
        modality: o.modality, maxQuality: o.maxQuality, age: o.age, sex: o.sex, health: o.health, fieldStrength: o.fieldStrength, derived: o.derived === undefined ? undefined : /^(y|yes|true|1)$/i.test(o.derived), dataDir: config.dataDir,
      });
    } finally {
      await db.destroy();
    }
  });

program
  .command('verify')
  .description('compare an export with a reference export: same files and hashes, same rows, no duplicates, no orphans (exit 1 on any difference)')
  .requiredOption('--against <dir>', 'the reference export (e.g. from a clean run)')
  .option('--export <dir>', 'the export to check (default $OPENMIND_DATA_DIR/export)')
  .option('--json', 'machine-readable output')
  .action(async (o) => {
    const { runVerify } = await import('./commands/export.js');
    const ok = await runVerify(o.against, o.export ?? dataPaths(loadConfig().dataDir).export, { json: o.json });
    if (!ok) process.exitCode = 1;
  });

program
  .command('masks')
  .description('anonymization (deface_mask) and anatomy (fb_mask) masks of one 3D image, with type, confidence and timings (no Temporal or database)')
  .argument('<image>', 'a 3D NIfTI image')
  .requiredOption('--out <dir>', 'output folder')
  .option('--json', 'print the result as JSON')
  .option('--models-dir <dir>', 'model store (default $OPENMIND_MODELS_DIR or ~/.cache/openmind/models)')
  .option('--ep <provider>', 'execution provider: cpu or cuda (falls back to the CPU, recorded)')
  .action(async (image: string, o) => (await import('./commands/masks.js')).runMasks(image, { out: o.out, json: o.json, modelsDir: o.modelsDir, ep: o.ep }));

program
  .command('dwi')
  .description('DWI derivation in six steps: denoise, Gibbs, co-registration, bias field, brain mask, tensor → T2w, ADC, FA, MD (or TRACE with < 6 directions; no Temporal or database)')
  .argument('<dwi>', 'a 4D diffusion series (.nii/.nii.gz)')
  .requiredOption('--bval <file>', 'FSL .bval')
  .requiredOption('--bvec <file>', 'FSL .bvec')
  .requiredOption('--out <dir>', 'output folder')
  .option('--json', 'print parameters, motion and timings as JSON')
  .option('--steps <list>', 'steps to run, comma-separated (brainmask and tensor always run); e.g. denoise,gibbs,tensor = MRtrix3\'s dwidenoise → mrdegibbs → dwi2tensor', (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
  .option('--skip <list>', 'steps to skip, comma-separated: denoise, gibbs, register, biasfield', (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
  .option('--threads <n>', 'worker threads for denoising and Gibbs removal', (v: string) => parseInt(v, 10))
  .option('--work-dir <dir>', 'folder for intermediates (enables resuming)')
  .action(async (dwi: string, o) =>
    (await import('./commands/dwi.js')).runDwi(dwi, { bval: o.bval, bvec: o.bvec, out: o.out, json: o.json, steps: o.steps, skip: o.skip, threads: o.threads, workDir: o.workDir }),
  );

program
  .command('iqm')
  .description('image-quality metrics of one image (MRIQC definitions), without Temporal or a database')
  .argument('<image>')
  .option('--mask <fb_mask>', 'anatomy mask')
  .option('--anon-mask <deface_mask>', 'anonymization mask')
  .option('--contrast <name>', 'T1w, T2w, FLAIR, ...')
  .option('--json', 'machine-readable output')
  .action(async (image: string, o) => {
    await (await import('./commands/iqm.js')).runIqm(image, { mask: o.mask, anonMask: o.anonMask, contrast: o.contrast, json: o.json });
  });

program
  .command('rate')
  .description('serve the two-rater quality tool (loopback by default; with --host, raters sign in with tokens)')
  .option('--port <n>', 'port', (v) => parseInt(v, 10), 8765)
  .option('--host <host>', 'listen address (default 127.0.0.1)')
  .addHelpText(
    'after',
    `
Each rater exports only their own ratings (GET /api/ratings/export[?format=csv][&current=1]) and
imports only corrections of their own (POST /api/ratings/import: stored at server time as their next
version, source "import"). Every rater's ratings (?all=1) need an admin's token: openmind raters add --admin NAME.`,
  )
  .action(async (o) => {
    const config = loadConfig();
    const rt = await startRuntime(config, { workers: false, log: (s) => console.error(s) });
    try {
      const { runRate } = await import('./commands/rate.js');
      const { signalQualityWorkflow } = await import('../services/quality-signal.js');
      await runRate({
        db: rt.db, port: o.port, host: o.host, assetsDir: path.join(config.dataDir, 'qc'),
        // Each stored rating wakes the dataset × modality's qualityRating workflow (starting it if needed).
        onRated: (r) => signalQualityWorkflow(rt.client, r),
      });
    } finally {
      await rt.close();
    }
  });

const raters = program.command('raters').description('manage raters of the quality tool');
raters
  .command('add')
  .description('create a rater and print their sign-in token (stored only as a hash)')
  .argument('<name>')
  .option('--rotate', 'replace the token of an existing rater (sessions opened with the old token end)')
  .option('--admin', "make the rater an admin: their token may export every rater's ratings (combine with --rotate for an existing rater)")
  .addHelpText(
    'after',
    `
Raters see and export only their own ratings (GET /api/ratings/export), so the second rating stays
independent. Exporting every rater's ratings needs an admin's token:
  openmind raters add --admin NAME          # prints the admin's token once
  curl -H "Authorization: Bearer TOKEN" 'http://127.0.0.1:8765/api/ratings/export?all=1&format=csv'
An admin signs in with the token (never by name); --rotate --admin grants admin to an existing rater.`,
  )
  .action(async (name: string, o) => {
    const db = await openAppDatabase(loadConfig());
    try {
      await (await import('./commands/rate.js')).runRatersAdd(db, name, { rotate: o.rotate, admin: o.admin });
    } finally {
      await db.destroy();
    }
  });

program.parseAsync().catch((e: Error) => {
  console.error(`openmind: ${e.message}`);
  if (process.env.OPENMIND_DEBUG) console.error(e.stack);
  process.exit(1);
});
