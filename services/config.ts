// Runtime configuration, read once from the environment (see README "Environment").
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const TASK_QUEUES = {
  io: 'openmind-io',
  cpu: 'openmind-cpu',
  gpu: 'openmind-gpu',
} as const;
export type QueueName = keyof typeof TASK_QUEUES;

export interface Config {
  temporalAddress?: string;
  temporalNamespace: string;
  databaseUrl?: string;
  dataDir: string;
  modelsDir: string;
  /** Why that models folder: the variable, the model store, the shared copy, or the store to download into. */
  modelsDirSource: 'OPENMIND_MODELS_DIR' | 'store' | 'shared' | 'store (empty: downloads on first use)';
  /** Converted model graphs when the models folder is read-only. */
  cacheDir: string;
  sharedDir: string;
  executionProvider: 'cuda' | 'cpu';
  /** Threads for the masks network's CPU inference (OPENMIND_ORT_THREADS); unset: every logical CPU. */
  ortThreads?: number;
  openneuroEndpoint: string;
  temporalCli?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.OPENMIND_DATA_DIR ?? path.join(process.cwd(), '.openmind'));
  const sharedDir = path.resolve(env.OPENMIND_SHARED ?? path.join(repoRoot, '..', 'shared'));
  const cacheDir = path.resolve(env.OPENMIND_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'openmind'));
  return {
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir,
    ...modelsDirOf(env, cacheDir, sharedDir),
    cacheDir,
    sharedDir,
    executionProvider: env.OPENMIND_EP === 'cuda' ? 'cuda' : 'cpu',
    ortThreads: Number(env.OPENMIND_ORT_THREADS) > 0 ? Math.floor(Number(env.OPENMIND_ORT_THREADS)) : undefined,
    openneuroEndpoint: env.OPENNEURO_ENDPOINT || 'https://openneuro.org',
    temporalCli: env.TEMPORAL_CLI || undefined,
  };
}

/** Where files live under the data root (see DESIGN: raw/, work/, export/). */
export function dataPaths(dataDir: string) {
  return {
    raw: path.join(dataDir, 'raw'),
    work: path.join(dataDir, 'work'),
    export: path.join(dataDir, 'export'),
    pglite: path.join(dataDir, 'pglite'),
    temporalDb: path.join(dataDir, 'temporal.db'),
    samples: path.join(dataDir, 'samples'),
  };
}

/**
 * Where the masks network's model is, in this order: OPENMIND_MODELS_DIR when set; the model store
 * (<cache>/models) when it holds MindGrab; the shared copy beside the checkout (../shared/models) when
 * it does; else the store, which downloads on first use (and, offline, the masks say they ran without
 * the network).
 */
export function modelsDirOf(env: NodeJS.ProcessEnv, cacheDir: string, sharedDir: string): Pick<Config, 'modelsDir' | 'modelsDirSource'> {
  if (env.OPENMIND_MODELS_DIR) return { modelsDir: path.resolve(env.OPENMIND_MODELS_DIR), modelsDirSource: 'OPENMIND_MODELS_DIR' };
  const store = path.join(cacheDir, 'models');
  const holdsMindgrab = (dir: string) => fs.existsSync(path.join(dir, 'mindgrab', 'model.json')) && fs.existsSync(path.join(dir, 'mindgrab', 'model.bin'));
  if (holdsMindgrab(store)) return { modelsDir: store, modelsDirSource: 'store' };
  if (holdsMindgrab(path.join(sharedDir, 'models'))) return { modelsDir: path.join(sharedDir, 'models'), modelsDirSource: 'shared' };
  return { modelsDir: store, modelsDirSource: 'store (empty: downloads on first use)' };
}
