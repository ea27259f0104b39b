import type { DB } from '../db/database.js';

/** What every activity factory gets: the database and the data root. Nothing global. */
export interface ActivityDeps {
  db: DB;
  dataDir: string;
  /** Folder with models (MindGrab etc.); the model store downloads into it when missing. */
  modelsDir?: string;
  /** Cache for converted model graphs when the models folder is read-only (OPENMIND_CACHE_DIR). */
  cacheDir?: string;
  /** The provider the masks network asks for (OPENMIND_EP); it falls back to the CPU, recorded. */
  executionProvider?: 'cuda' | 'cpu';
  /** Threads for the masks network's CPU inference (OPENMIND_ORT_THREADS). */
  ortThreads?: number;
  /** OpenNeuro endpoint when a source names none. */
  openneuroEndpoint?: string;
  /** Export root; defaults to `<dataDir>/export`. */
  exportDir?: string;
}
