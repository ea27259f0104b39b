// Process plumbing for crawls run as real separate processes: the scale bench and the chaos test.
// Workers and the fake OpenNeuro run as child processes (so each has its own RSS and can be
// SIGKILLed), a sampler reads /proc for memory and CPU, and a chaos monkey kills and restarts
// workers at random and the Temporal dev server once.
import fs from 'node:fs';
import { ledgerEntries } from '../../db/repositories/step-outputs.js';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import type { DB } from '../../db/database.js';
import { scanOutcomes } from '../../db/repositories/scans.js';
import { derivedFilesWhere } from '../../db/repositories/derived-files.js';
import { repoRoot } from '../../services/config.js';
import { seededRandom } from '../../lib/random.js';

export { freePort } from '../../services/temporal.js';

/** A UI port beside a dev server's frontend port (the dev server always opens one). */
export function uiPortNear(port: number): number {
  return port < 64000 ? port + 1000 : port - 1000;
}

export interface ChildHandle {
  name: string;
  process: ChildProcess;
  /** Resolves when the process says it is serving (first stdout line), rejects if it exits first. */
  ready: Promise<string>;
  exited: Promise<number | null>;
}

function spawnTs(name: string, script: string, args: string[], env: NodeJS.ProcessEnv, logFile?: string): ChildHandle {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, script), ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      log?.write(d);
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl).trim());
    });
    void exited.then((code) => reject(new Error(`${name} exited (code ${code}) before it was ready${logFile ? `; see ${logFile}` : ''}`)));
  });
  ready.catch(() => undefined);
  child.stderr!.on('data', (d: Buffer) => log?.write(d));
  void exited.then(() => log?.end());
  return { name, process: child, ready, exited };
}

/** A worker process (workers/all.ts, or the given queue entrypoint) on this database and data folder. */
export function startWorkerChild(opts: { name: string; address: string; dbUrl: string; dataDir: string; entry?: string; env?: NodeJS.ProcessEnv; logFile?: string }): ChildHandle {
  return spawnTs(opts.name, opts.entry ?? 'workers/all.ts', [], {
    TEMPORAL_ADDRESS: opts.address,
    DATABASE_URL: opts.dbUrl,
    OPENMIND_DATA_DIR: opts.dataDir,
    OPENMIND_LOG_LEVEL: 'ERROR',
    ...opts.env,
  }, opts.logFile);
}

/** The fake OpenNeuro in its own process; `ready` gives its URL. */
export function startFakeOpenNeuroChild(opts: { replicate?: number; faults?: string; datasets?: string[]; logFile?: string }): ChildHandle {
  const args = ['--port', '0'];
  if (opts.replicate) args.push('--replicate', String(opts.replicate));
  if (opts.faults) args.push('--faults', opts.faults);
  if (opts.datasets) args.push('--datasets', opts.datasets.join(','));
  return spawnTs('fake-openneuro', 'cli/commands/fake-openneuro.ts', args, {}, opts.logFile);
}

export async function stopChild(h: ChildHandle, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (h.process.exitCode !== null || h.process.signalCode !== null) return;
  h.process.kill(signal);
  const t = setTimeout(() => h.process.kill('SIGKILL'), graceMs);
  await h.exited;
  clearTimeout(t);
}

/** Wait for a workflow's result across server restarts (the long poll breaks when the server dies). */
export async function workflowResult<T>(address: string, workflowId: string, deadlineMs: number): Promise<T> {
  for (;;) {
    try {
      const connection = await Connection.connect({ address });
      try {
        return (await new Client({ connection }).workflow.getHandle(workflowId).result()) as T;
      } finally {
        await connection.close();
      }
    } catch (e) {
      if (Date.now() > deadlineMs) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// /proc sampling

const CLOCK_TICK_MS = 10; // _SC_CLK_TCK is 100 on Linux

export function readProc(pid: number): { rssBytes: number; cpuMs: number; comm: string } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    // Fields after "(comm) ": state(0) … utime(11) stime(12) … rss(21, pages).
    const cpuMs = (Number(f[11]) + Number(f[12])) * CLOCK_TICK_MS;
    const rssBytes = Number(f[21]) * 4096;
    return { rssBytes, cpuMs, comm };
  } catch {
    return null;
  }
}

function pidsByComm(comm: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = readProc(Number(d));
    if (p?.comm === comm) out.push(Number(d));
  }
  return out;
}

export interface GroupFigures {
  /** Peak RSS of any single process of the group. */
  peakRssBytes: number;
  /** CPU time the group spent while sampled (sum over its processes). */
  cpuMs: number;
  processes: number;
}

/**
 * Samples named process groups every `intervalMs`: peak RSS per process, CPU time per group, and a
 * timeline (RSS of each group's largest process against a progress value) to show memory is flat.
 */
export class ProcessSampler {
  private readonly groups = new Map<string, { pids: () => number[]; peak: number; cpuStart: Map<number, number>; cpuLast: Map<number, number>; seen: Set<number> }>();
  readonly timeline: Array<{ atMs: number; progress: number; rssMb: Record<string, number> }> = [];
  private timer?: NodeJS.Timeout;
  private readonly t0 = Date.now();
  progress = 0;

  track(name: string, pids: () => number[]): void {
    this.groups.set(name, { pids, peak: 0, cpuStart: new Map(), cpuLast: new Map(), seen: new Set() });
  }

  trackPid(name: string, pid: () => number | undefined): void {
    this.track(name, () => {
      const p = pid();
      return p ? [p] : [];
    });
  }

  trackComm(name: string, comm: string): void {
    this.track(name, () => pidsByComm(comm));
  }

  sample(): void {
    const rssMb: Record<string, number> = {};
    for (const [name, g] of this.groups) {
      let largest = 0;
      for (const pid of g.pids()) {
        const p = readProc(pid);
        if (!p) continue;
        if (!g.seen.has(pid)) {
          g.seen.add(pid);
          // A process started before sampling began (postgres, the driver): count CPU from now.
          g.cpuStart.set(pid, this.timeline.length === 0 ? p.cpuMs : 0);
        }
        g.cpuLast.set(pid, p.cpuMs);
        g.peak = Math.max(g.peak, p.rssBytes);
        largest = Math.max(largest, p.rssBytes);
      }
      rssMb[name] = Math.round(largest / 1048576);
    }
    this.timeline.push({ atMs: Date.now() - this.t0, progress: this.progress, rssMb });
  }

  start(intervalMs = 2000): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  figures(): Record<string, GroupFigures> {
    const out: Record<string, GroupFigures> = {};
    for (const [name, g] of this.groups) {
      let cpu = 0;
      for (const [pid, last] of g.cpuLast) cpu += last - (g.cpuStart.get(pid) ?? 0);
      out[name] = { peakRssBytes: g.peak, cpuMs: cpu, processes: g.seen.size };
    }
    return out;
  }

  /** RSS of a group at given progress fractions (the first sample at or past each). */
  rssAt(name: string, fractions: number[]): Array<number | null> {
    return fractions.map((f) => this.timeline.find((t) => t.progress >= f)?.rssMb[name] ?? null);
  }
}

// ---------------------------------------------------------------------------------------------
// Chaos

export interface ChaosOptions {
  /** Restarts a worker (returns the new handle). */
  startWorker: (slot: number) => ChildHandle;
  workers: ChildHandle[];
  /** Kills the Temporal server with SIGKILL and starts it again on the same port and file. */
  restartServer: () => Promise<void>;
  /** Seconds a worker lives after it is ready, drawn uniformly from [min, max]. */
  lifeSeconds?: [number, number];
  /** Restart the server after this many worker kills. */
  serverRestartAfterKills?: number;
  seed?: number;
  log?: (line: string) => void;
}

/**
 * Kills a random worker with SIGKILL once it has been up for a random time after it became ready,
 * restarts it, and once kills and restarts the Temporal server. Waiting for readiness first matters:
 * killing workers faster than they start would stop all progress, which proves nothing.
 */
export class ChaosMonkey {
  kills = 0;
  serverRestarts = 0;
  private stopped = false;
  private loop?: Promise<void>;
  private readonly rand: () => number;

  constructor(private readonly opts: ChaosOptions) {
    this.rand = seededRandom(opts.seed ?? 7);
  }

  start(): void {
    this.loop = this.run();
  }

  private async sleep(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopped && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(250, until - Date.now())));
  }

  private async run(): Promise<void> {
    const [lo, hi] = this.opts.lifeSeconds ?? [4, 12];
    const log = this.opts.log ?? (() => undefined);
    while (!this.stopped) {
      const slot = Math.floor(this.rand() * this.opts.workers.length);
      await this.opts.workers[slot].ready.catch(() => undefined);
      await this.sleep((lo + this.rand() * (hi - lo)) * 1000);
      if (this.stopped) break;
      const victim = this.opts.workers[slot];
      victim.process.kill('SIGKILL');
      await victim.exited;
      this.kills++;
      log(`chaos: SIGKILL ${victim.name} (pid ${victim.process.pid}), kill #${this.kills}`);
      if (this.serverRestarts === 0 && this.kills >= (this.opts.serverRestartAfterKills ?? 2)) {
        log('chaos: SIGKILL the Temporal dev server and restart it');
        await this.opts.restartServer();
        this.serverRestarts++;
      }
      this.opts.workers[slot] = this.opts.startWorker(slot);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing two runs

/** What must be identical between a clean run and a chaos run (ids, statuses, hashes; no timestamps). */
export async function pipelineState(db: DB) {
  const scans = await scanOutcomes(db);
  const files = (await derivedFilesWhere(db, {})).map(({ scan_id, kind, content_hash }) => ({ scan_id, kind, content_hash }));
  const ledger = await ledgerEntries(db);
  // Per-file export entries hash their export root, which differs between two runs by design.
  const steps = ledger.filter((l) => l.step !== 'export').map((l) => `${l.step}:${l.output_hash}`).sort();
  return { scans, files, steps };
}

/** Row-level differences between two pipeline states, as readable lines (empty = identical). */
export function diffPipelineStates(a: Awaited<ReturnType<typeof pipelineState>>, b: Awaited<ReturnType<typeof pipelineState>>, labels: [string, string]): string[] {
  const out: string[] = [];
  // Multisets: a row present a different number of times on each side is a difference.
  const diffList = (what: string, xs: string[], ys: string[]) => {
    const count = (list: string[]) => list.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
    const [cx, cy] = [count(xs), count(ys)];
    for (const [x, n] of cx) if ((cy.get(x) ?? 0) !== n) out.push(`${what} ${x}: ${n} in ${labels[0]}, ${cy.get(x) ?? 0} in ${labels[1]}`);
    for (const [y, n] of cy) if (!cx.has(y)) out.push(`${what} ${y}: 0 in ${labels[0]}, ${n} in ${labels[1]}`);
  };
  diffList('scan', a.scans.map((s) => JSON.stringify(s)), b.scans.map((s) => JSON.stringify(s)));
  diffList('derived file', a.files.map((s) => JSON.stringify(s)), b.files.map((s) => JSON.stringify(s)));
  diffList('step output', a.steps, b.steps);
  return out;
}
