// Runtime configuration, read once from the environment (see README "Environment").
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
  /** Converted model graphs when the models folder is read-only. */
  cacheDir: string;
  sharedDir: string;
  executionProvider: 'cuda' | 'cpu';
  openneuroEndpoint: string;
  temporalCli?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.OPENMIND_DATA_DIR ?? path.join(process.cwd(), '.openmind'));
  const sharedDir = path.resolve(env.OPENMIND_SHARED ?? path.join(repoRoot, '..', 'shared'));
  return {
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir,
    modelsDir: path.resolve(env.OPENMIND_MODELS_DIR ?? path.join(os.homedir(), '.cache', 'openmind', 'models')),
    cacheDir: path.resolve(env.OPENMIND_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'openmind')),
    sharedDir,
    executionProvider: env.OPENMIND_EP === 'cuda' ? 'cuda' : 'cpu',
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
