// Builds the Temporal workers for one or more task queues. Each queue's entrypoint (io.ts, cpu.ts,
// gpu.ts) calls this; all.ts runs every queue in one process for the demo and tests.
import os from 'node:os';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createRequire } from 'node:module';
import path from 'node:path';
import { activitiesForQueue, createActivities, isAuditedStep } from '../activities/index.js';
import { AuditInterceptor, workerIdentity } from '../activities/audit.js';
import type { DB } from '../db/database.js';
import { TASK_QUEUES, loadConfig, repoRoot, type QueueName } from '../services/config.js';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace?: string;
  db: DB;
  dataDir: string;
  modelsDir?: string;
  /** Converted-graph cache (OPENMIND_CACHE_DIR); default ~/.cache/openmind. */
  cacheDir?: string;
  /** Masks network provider (OPENMIND_EP); default from the environment's config. */
  executionProvider?: 'cuda' | 'cpu';
  exportDir?: string;
  openneuroEndpoint?: string;
  queues: QueueName[];
  workflowBundle?: WorkflowBundleWithSourceMap;
}

let cachedBundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * Bundle workflows/ once per process. Webpack is slow enough that a restarted worker should not
 * pay it every time; so the bundle is also cached on disk, keyed by a hash of the
 * sources it can include (workflows/, lib/, services/, the lockfile).
 */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  cachedBundle ??= (async () => {
    const key = sourceHash(['workflows', 'lib', 'services', 'package-lock.json']);
    const dir = path.join(process.env.OPENMIND_BUNDLE_CACHE ?? path.join(os.tmpdir(), 'openmind-workflow-bundles'), key);
    try {
      return { code: fs.readFileSync(path.join(dir, 'bundle.js'), 'utf8'), sourceMap: fs.readFileSync(path.join(dir, 'bundle.js.map'), 'utf8') };
    } catch {
      // Not cached yet: build and store it (atomically, so concurrent workers never read half a file).
    }
    const bundle = await bundleWorkflowCode({
      workflowsPath: createRequire(import.meta.url).resolve(path.join(repoRoot, 'workflows', 'index.ts')),
      logger: { info() {}, debug() {}, trace() {}, warn: console.warn, error: console.error, log() {} } as any,
    });
    try {
      const tmp = `${dir}.${process.pid}.tmp`;
      fs.mkdirSync(tmp, { recursive: true });
      fs.writeFileSync(path.join(tmp, 'bundle.js'), bundle.code);
      fs.writeFileSync(path.join(tmp, 'bundle.js.map'), bundle.sourceMap);
      fs.renameSync(tmp, dir);
    } catch {
      // Another process stored it first, or the cache folder is read-only: the bundle still works.
    }
    return bundle;
  })();
  return cachedBundle;
}

function sourceHash(roots: string[]): string {
  const h = crypto.createHash('sha256');
  const visit = (p: string): void => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) if (name !== 'node_modules' && !name.startsWith('.')) visit(path.join(p, name));
    } else if (/\.(ts|js|mjs|json)$/.test(p)) {
      h.update(path.relative(repoRoot, p)).update('\0').update(fs.readFileSync(p));
    }
  };
  for (const r of roots) visit(path.join(repoRoot, r));
  return h.digest('hex').slice(0, 24);
}

const CONCURRENCY: Record<QueueName, number> = {
  io: 32,
  cpu: Math.max(1, os.cpus().length),
  gpu: 1,
};

export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const config = loadConfig();
  const activities = createActivities({
    db: setup.db, dataDir: setup.dataDir, modelsDir: setup.modelsDir, exportDir: setup.exportDir, openneuroEndpoint: setup.openneuroEndpoint,
    cacheDir: setup.cacheDir ?? config.cacheDir, executionProvider: setup.executionProvider ?? config.executionProvider, ortThreads: config.ortThreads,
  });
  const bundle = setup.workflowBundle ?? (await workflowBundle());
  const workers: Worker[] = [];
  for (const q of setup.queues) {
    const identity = workerIdentity(TASK_QUEUES[q]);
    workers.push(
      await Worker.create({
        connection: setup.connection,
        namespace: setup.namespace ?? 'default',
        taskQueue: TASK_QUEUES[q],
        identity,
        activities: activitiesForQueue(activities, q),
        // Workflows are orchestration only; they live on the I/O queue.
        ...(q === 'io' ? { workflowBundle: bundle, maxConcurrentWorkflowTaskExecutions: 20 } : {}),
        maxConcurrentActivityTaskExecutions: CONCURRENCY[q],
        interceptors: {
          activity: [(ctx) => ({ inbound: new AuditInterceptor(setup.db, ctx, identity, isAuditedStep) })],
        },
        shutdownGraceTime: '5 seconds',
      }),
    );
  }
  return workers;
}

/** Run workers until SIGINT/SIGTERM. */
export async function runWorkersUntilSignal(workers: Worker[]): Promise<void> {
  const stop = () => workers.forEach((w) => w.shutdown());
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await Promise.all(workers.map((w) => w.run()));
}
