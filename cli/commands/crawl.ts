// `openmind crawl` / `openmind resume`: start the crawl workflow and follow it with a progress bar.
import path from 'node:path';
import { bytesFetched } from '../../db/repositories/step-outputs.js';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { DB } from '../../db/database.js';
import { scanStatusCounts } from '../../db/repositories/scans.js';
import type { CrawlSource, CrawlSummary } from '../../lib/pipeline-types.js';
import type { CrawlInput } from '../../workflows/crawl.js';
import { ProgressLine } from '../progress.js';
import { QUEUES } from '../../workflows/activity-stubs.js';

export function crawlWorkflowId(name: string): string {
  return `crawl/${name}`;
}

/** Start `crawl/<name>`; if it is already running, follow that run instead. */
export async function startCrawl(client: Client, input: CrawlInput): Promise<string> {
  const workflowId = crawlWorkflowId(input.name);
  try {
    await client.workflow.start('crawl', { taskQueue: QUEUES.io, workflowId, args: [input] });
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    process.stderr.write(`crawl ${input.name} is already running; following it\n`);
  }
  return workflowId;
}

/** Wait for a crawl, drawing progress from its `progress` query and the scans table. */
export async function followCrawl(client: Client, db: DB | undefined, workflowId: string, opts: { quiet?: boolean } = {}): Promise<CrawlSummary> {
  const handle = client.workflow.getHandle(workflowId);
  const bar = new ProgressLine();
  let finished = false;
  const result = handle.result().finally(() => (finished = true));
  while (!finished && !opts.quiet) {
    try {
      const p = (await handle.query('progress')) as CrawlSummary & { running: string[] };
      let extra = '';
      let runningDone = 0;
      if (db && p.running.length) {
        const b = await bytesFetched(db, p.running);
        const counts = await scanStatusCounts(db, p.running);
        const n = (s: string) => Number(counts.find((c) => c.status === s)?.n ?? 0);
        const total = counts.reduce((a, c) => a + Number(c.n), 0);
        runningDone = n('completed') + n('failed');
        if (total) extra = `| ${p.running.join(',')}: scans ${n('completed') + n('failed')}/${total}${b ? `, ${(b / 1e6).toFixed(1)} MB downloaded` : ''}`;
      }
      if (p.maskMethods?.classical) extra += ` | ${p.maskMethods.classical} masks WITHOUT the network`;
      const scansDone = p.scansCompleted + p.scansFailed + runningDone;
      bar.update({ label: 'datasets', done: p.completed + p.failed, total: p.datasets, failed: p.failed, extra, rate: { count: scansDone, unit: 'scans' } });
    } catch {
      /* not started yet, or between runs (continue-as-new) */
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  bar.finish();
  return (await result) as CrawlSummary;
}

export function sourcesFromArgs(folders: string[], openneuro: string[] | undefined, endpoint: string | undefined, allowRoots: string[] = []): CrawlSource[] {
  const allowedRoots = allowRoots.map((r) => path.resolve(r));
  const sources: CrawlSource[] = folders.map((f) => ({ kind: 'local', path: path.resolve(f), ...(allowedRoots.length ? { allowedRoots } : {}) }));
  if (openneuro?.length) {
    sources.push({ kind: 'openneuro', endpoint, datasets: openneuro.includes('all') ? 'all' : openneuro });
  }
  return sources;
}

export function printCrawlSummary(s: CrawlSummary): void {
  console.log(`crawl ${s.crawlId}: ${s.completed}/${s.datasets} datasets completed, ${s.failed} failed; scans ${s.scansCompleted} completed, ${s.scansFailed} failed of ${s.scans}`);
  const line = maskMethodsLine(s.maskMethods);
  if (line) console.log(line);
  if (s.failures.length) {
    console.log('failures:');
    for (const f of s.failures) console.log(`  ${f.scanId ?? f.datasetId}  [${f.step ?? 'dataset'}] ${f.reason ?? ''}: ${f.message ?? ''}`);
  }
}

/** How the masks' brains were found, said plainly; the classical fallback is never silent. */
export function maskMethodsLine(methods: Record<string, number> | undefined): string | undefined {
  if (!methods || Object.keys(methods).length === 0) return undefined;
  const parts = [
    methods.mindgrab ? `${methods.mindgrab} with the MindGrab network` : '',
    methods.dataset ? `${methods.dataset} from the dataset's own defacing masks` : '',
    methods.classical ? `${methods.classical} WITHOUT the network (classical brain estimate; the reason is in \`openmind history <scan>\`)` : '',
  ].filter(Boolean);
  return `masks: ${parts.join(', ')}`;
}
